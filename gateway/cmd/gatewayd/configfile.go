package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// position is a place in the configuration file.
type position struct{ line, col int }

// fileProblems decodes the configuration file over cfg and returns every
// problem it finds at once, each with the file's line and column: a syntax
// error, values of the wrong type, and unknown keys (a misspelt key would
// otherwise be silently ignored). places maps each key's path
// ("hl7.senders[0].options") to where it is, for later messages.
func fileProblems(name string, raw []byte, cfg *Config) (places map[string]position, errs []error) {
	at := func(offset int64) position { return positionOf(raw, offset) }
	if err := json.Unmarshal(raw, cfg); err != nil {
		var syntax *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syntax):
			p := at(syntax.Offset)
			return nil, []error{fmt.Errorf("%s:%d:%d: not valid JSON: %v", name, p.line, p.col, syntax)}
		case errors.As(err, &typ):
			p := at(typ.Offset)
			errs = append(errs, fmt.Errorf("%s:%d:%d: %s: a %s where a %s belongs", name, p.line, p.col, typ.Field, typ.Value, typ.Type))
		default:
			return nil, []error{fmt.Errorf("%s: %v", name, err)}
		}
	}
	places = map[string]position{}
	dec := json.NewDecoder(bytes.NewReader(raw))
	w := &keyWalker{dec: dec, places: places, raw: raw, file: name}
	w.value("", reflect.TypeOf(Config{}))
	return places, append(errs, w.errs...)
}

// positionOf turns a byte offset into a line and column (both from 1).
func positionOf(raw []byte, offset int64) position {
	if offset > int64(len(raw)) {
		offset = int64(len(raw))
	}
	before := raw[:offset]
	line := bytes.Count(before, []byte("\n")) + 1
	return position{line, int(offset) - bytes.LastIndexByte(before, '\n')}
}

// keyWalker reads the file token by token beside the Go type it decodes
// into, noting where each key is and which keys the type does not have.
type keyWalker struct {
	dec    *json.Decoder
	places map[string]position
	raw    []byte
	file   string
	errs   []error
}

var rawMessage = reflect.TypeOf(json.RawMessage{})

// next is the position of the next token: the decoder's offset is where
// the previous one ended, before any comma and white space.
func (w *keyWalker) next() position {
	off := w.dec.InputOffset()
	for off < int64(len(w.raw)) && strings.IndexByte(" \t\r\n,:", w.raw[off]) >= 0 {
		off++
	}
	return positionOf(w.raw, off)
}

// value reads one JSON value at path, expected to decode into t.
func (w *keyWalker) value(path string, t reflect.Type) {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == rawMessage { // an adapter's own configuration: it decodes that strictly itself
		var skip json.RawMessage
		w.dec.Decode(&skip)
		return
	}
	tok, err := w.dec.Token()
	if err != nil {
		return
	}
	switch tok {
	case json.Delim('{'):
		for w.dec.More() {
			p := w.next()
			keyTok, err := w.dec.Token()
			if err != nil {
				return
			}
			key, _ := keyTok.(string)
			child := key
			if path != "" {
				child = path + "." + key
			}
			w.places[child] = p
			var childType reflect.Type
			switch {
			case t != nil && t.Kind() == reflect.Map:
				childType = t.Elem()
			case t != nil && t.Kind() == reflect.Struct:
				if f, ok := fieldByKey(t, key); ok {
					childType = f
				} else {
					w.errs = append(w.errs, fmt.Errorf("%s:%d:%d: %s: unknown key %q%s", w.file, p.line, p.col, orTop(path), key, suggestion(t, key)))
				}
			}
			w.value(child, childType)
		}
		w.dec.Token() // }
	case json.Delim('['):
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for i := 0; w.dec.More(); i++ {
			w.places[path+"["+strconv.Itoa(i)+"]"] = w.next()
			w.value(path+"["+strconv.Itoa(i)+"]", elem)
		}
		w.dec.Token() // ]
	}
}

// fieldByKey finds the struct field a JSON key decodes into, as
// encoding/json does (exact name first, then ignoring case).
func fieldByKey(t reflect.Type, key string) (reflect.Type, bool) {
	var folded reflect.Type
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if name == key {
			return f.Type, true
		}
		if strings.EqualFold(name, key) {
			folded = f.Type
		}
	}
	return folded, folded != nil
}

// suggestion names the known key closest to a misspelt one.
func suggestion(t reflect.Type, key string) string {
	best, bestScore := "", 3
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		if d := distance(strings.ToLower(name), strings.ToLower(key)); d < bestScore {
			best, bestScore = name, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// distance is the Levenshtein edit distance.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

func orTop(path string) string {
	if path == "" {
		return "the top level"
	}
	return path
}

// located puts the file's line and column before each problem that
// starts with a key path ("tokens[1] (b): ...", "destination epr: ...").
func located(name string, places map[string]position, names map[string]string, errs []error) []error {
	out := make([]error, 0, len(errs))
	for _, err := range errs {
		msg := err.Error()
		path := msg
		if i := strings.IndexAny(msg, " :"); i >= 0 {
			path = msg[:i]
		}
		if rest, ok := strings.CutPrefix(msg, "destination "); ok { // an adapter's problem, named by its destination
			n, _, _ := strings.Cut(rest, ":")
			path = names[n]
		}
		for p := path; p != ""; p = parent(p) {
			if at, ok := places[p]; ok {
				err = fmt.Errorf("%s:%d:%d: %w", name, at.line, at.col, err)
				break
			}
		}
		out = append(out, err)
	}
	return out
}

// parent drops a path's last key or index: "a.b[2]" -> "a.b" -> "a".
func parent(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i <= 0 {
		return ""
	}
	return p[:i]
}
