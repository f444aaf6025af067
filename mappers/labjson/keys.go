package labjson

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"

	"github.com/nhs-genomics/results-gateway/gateway"
)

// unknownKeys lists every object key in body (valid JSON) that is not a
// field of the schema, as unknownFields would from a decoded tree, but
// walking the bytes: string values (a base64 PDF is most of a report) are
// skipped, never unquoted or copied.
func unknownKeys(body []byte, t reflect.Type) []gateway.Problem {
	var problems []gateway.Problem
	w := keyWalker{b: body}
	w.value("", t, &problems)
	return problems
}

type keyWalker struct {
	b []byte
	i int
}

func (w *keyWalker) ws() {
	for w.i < len(w.b) && (w.b[w.i] == ' ' || w.b[w.i] == '\t' || w.b[w.i] == '\n' || w.b[w.i] == '\r') {
		w.i++
	}
}

// value walks one value at w.i; t is the schema type there (nil: no check).
func (w *keyWalker) value(path string, t reflect.Type, problems *[]gateway.Problem) {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	w.ws()
	switch w.b[w.i] {
	case '{':
		w.object(path, t, problems)
	case '[':
		w.array(path, t, problems)
	case '"':
		w.skipString()
	default:
		for w.i < len(w.b) && !bytes.ContainsRune([]byte(",}] \t\n\r"), rune(w.b[w.i])) {
			w.i++
		}
	}
}

func (w *keyWalker) skipString() {
	w.i++ // the opening quote
	// Two IndexByte scans rather than one IndexAny: IndexByte is vectorised,
	// and a lab's PDF is a long base64 string with neither byte in it.
	for {
		quote := bytes.IndexByte(w.b[w.i:], '"')
		if esc := bytes.IndexByte(w.b[w.i:w.i+quote], '\\'); esc >= 0 {
			w.i += esc + 2 // an escape and the character it escapes
			continue
		}
		w.i += quote + 1
		return
	}
}

func (w *keyWalker) key() string {
	start := w.i
	w.skipString()
	raw := w.b[start:w.i]
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw[1 : len(raw)-1])
	}
	var k string
	json.Unmarshal(raw, &k)
	return k
}

type member struct {
	key        string
	start, end int
}

func (w *keyWalker) object(path string, t reflect.Type, problems *[]gateway.Problem) {
	w.i++ // {
	var members []member
	for {
		w.ws()
		if w.b[w.i] == '}' {
			w.i++
			break
		}
		if w.b[w.i] == ',' {
			w.i++
			continue
		}
		k := w.key()
		w.ws()
		w.i++ // :
		w.ws()
		start := w.i
		w.value("", nil, nil) // skip it; checked below, in key order
		members = append(members, member{k, start, w.i})
	}
	if t == nil || t.Kind() != reflect.Struct {
		return
	}
	// In key order, and the last of a repeated key (what a decoder keeps),
	// as the problems were reported from a decoded tree before.
	sort.SliceStable(members, func(a, b int) bool { return members[a].key < members[b].key })
	last := members[:0]
	for i, m := range members {
		if i+1 < len(members) && members[i+1].key == m.key {
			continue
		}
		last = append(last, m)
	}
	members = last
	fields := jsonFields(t)
	end := w.i
	for _, m := range members {
		child := join(path, m.key)
		ft, ok := fields[m.key]
		if !ok {
			*problems = append(*problems, gateway.Problem{Path: child, Message: "is not a field of the lab report schema"})
			continue
		}
		w.i = m.start
		w.value(child, ft, problems)
	}
	w.i = end
}

func (w *keyWalker) array(path string, t reflect.Type, problems *[]gateway.Problem) {
	w.i++ // [
	check := t != nil && t.Kind() == reflect.Slice && t.Elem().Kind() != reflect.Uint8
	for n := 0; ; {
		w.ws()
		if w.b[w.i] == ']' {
			w.i++
			return
		}
		if w.b[w.i] == ',' {
			w.i++
			continue
		}
		if check {
			w.value(fmt.Sprintf("%s[%d]", path, n), t.Elem(), problems)
		} else {
			w.value("", nil, nil)
		}
		n++
	}
}
