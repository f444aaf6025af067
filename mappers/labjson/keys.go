package labjson

import (
	"bytes"
	"encoding/json"
	"reflect"
	"sort"
	"strconv"

	"github.com/nhs-genomics/results-gateway/gateway"
)

// unknownKeys lists every object key in body (valid JSON) that is not a
// field of the schema, as unknownFields would from a decoded tree, but
// walking the bytes once: string values (a base64 PDF is most of a report)
// are skipped, never unquoted or copied, and a problem's path is made only
// when there is a problem.
func unknownKeys(body []byte, t reflect.Type) []gateway.Problem {
	var problems []gateway.Problem
	w := keyWalker{b: body}
	w.value(t, &problems)
	return problems
}

type keyWalker struct {
	b    []byte
	i    int
	path []byte // the JSON path of the value being walked
}

func (w *keyWalker) ws() {
	for w.i < len(w.b) && (w.b[w.i] == ' ' || w.b[w.i] == '\t' || w.b[w.i] == '\n' || w.b[w.i] == '\r') {
		w.i++
	}
}

// value walks one value at w.i; t is the schema type there (nil: no check).
func (w *keyWalker) value(t reflect.Type, problems *[]gateway.Problem) {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	w.ws()
	switch w.b[w.i] {
	case '{':
		w.object(t, problems)
	case '[':
		w.array(t, problems)
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

// keyText is an object key's text: raw is the quoted key as written.
func keyText(raw []byte) string {
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw[1 : len(raw)-1])
	}
	var k string
	json.Unmarshal(raw, &k)
	return k
}

// member is one key of an object and the problems its value added
// (problems[from:to]).
type member struct {
	raw      []byte // the quoted key as written
	from, to int
}

// object walks an object, checking each member against t's fields as it
// goes. The problems come out as a decoded tree gave them: members in key
// order, and only the last of a repeated key (what a decoder keeps); the
// rare object with problems is put in that order once it has been walked.
func (w *keyWalker) object(t reflect.Type, problems *[]gateway.Problem) {
	w.i++ // {
	var fields map[string]reflect.Type
	if t != nil && t.Kind() == reflect.Struct {
		fields = jsonFields(t)
	}
	var seen [32]member
	members := seen[:0]
	base, parent := 0, len(w.path)
	if problems != nil {
		base = len(*problems)
	}
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
		start := w.i
		w.skipString()
		raw := w.b[start:w.i]
		w.ws()
		w.i++ // :
		if fields == nil {
			w.value(nil, nil)
			continue
		}
		m := member{raw: raw, from: len(*problems)}
		key := raw[1 : len(raw)-1]
		var ft reflect.Type
		var known bool
		if bytes.IndexByte(key, '\\') < 0 {
			ft, known = fields[string(key)] // no copy: the compiler looks the bytes up as they are
		} else {
			ft, known = fields[keyText(raw)]
		}
		w.enter(parent, raw)
		if known {
			w.value(ft, problems)
		} else {
			*problems = append(*problems, gateway.Problem{Path: string(w.path), Message: "is not a field of the lab report schema"})
			w.value(nil, nil)
		}
		w.path = w.path[:parent]
		m.to = len(*problems)
		members = append(members, m)
	}
	if fields != nil && len(*problems) > base {
		inKeyOrder(problems, base, members)
	}
}

// enter makes w.path the path of the member raw of the object at
// w.path[:parent].
func (w *keyWalker) enter(parent int, raw []byte) {
	w.path = w.path[:parent]
	if parent > 0 {
		w.path = append(w.path, '.')
	}
	if bytes.IndexByte(raw, '\\') < 0 {
		w.path = append(w.path, raw[1:len(raw)-1]...)
	} else {
		w.path = append(w.path, keyText(raw)...)
	}
}

// inKeyOrder rewrites (*problems)[base:], the problems of an object's
// members in the order they were written, in key order, keeping only the
// last of a repeated key's.
func inKeyOrder(problems *[]gateway.Problem, base int, members []member) {
	keys := make([]string, len(members))
	for i, m := range members {
		keys[i] = keyText(m.raw)
	}
	order := make([]int, len(members))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return keys[order[a]] < keys[order[b]] })
	walked := append([]gateway.Problem(nil), (*problems)[base:]...)
	out := (*problems)[:base]
	for n, i := range order {
		if n+1 < len(order) && keys[order[n+1]] == keys[i] {
			continue // a later member has the same key: the decoder keeps that one
		}
		out = append(out, walked[members[i].from-base:members[i].to-base]...)
	}
	*problems = out
}

func (w *keyWalker) array(t reflect.Type, problems *[]gateway.Problem) {
	w.i++ // [
	check := t != nil && t.Kind() == reflect.Slice && t.Elem().Kind() != reflect.Uint8
	parent := len(w.path)
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
			w.path = append(strconv.AppendInt(append(w.path[:parent], '['), int64(n), 10), ']')
			w.value(t.Elem(), problems)
			w.path = w.path[:parent]
		} else {
			w.value(nil, nil)
		}
		n++
	}
}
