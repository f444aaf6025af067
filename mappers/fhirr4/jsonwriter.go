package fhirr4

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/google/fhir/go/jsonformat"
	"github.com/nhs-genomics/results-gateway/internal/pdfbase64"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// The FHIR JSON writer: the same JSON google/fhir's jsonformat writes for
// the resources the gateway emits (a differential test in make test holds
// it to that, byte for byte), written straight into one buffer. jsonformat
// builds a map[string]any tree by reflection, reading each type's proto
// annotations again for every value, and then encodes the tree: about four
// fifths of a report's CPU. Here each message type is classified once, and
// an element is written as it is visited.
//
// It follows jsonformat's rules: primitives' ids and extensions under
// "_field" (with nulls keeping arrays aligned), choice types as valueX,
// decimals as written, base64 as-is, enum codes by their FHIR code, keys
// in sorted order (jsonformat's maps are encoded sorted), HTML not escaped,
// an empty element as {}. What it does not support — a base64 separator
// extension, contained resources in Any, references by typed id — makes
// it return ErrUnsupported, and the caller uses jsonformat instead.

// ErrUnsupported: the writer met an element it leaves to jsonformat.
var ErrUnsupported = errors.New("fhir json writer: unsupported element")

// Internal google/fhir extension URLs jsonformat interprets.
const (
	primitiveHasNoValueURL = "https://g.co/fhir/StructureDefinition/primitiveHasNoValue"
	separatorStrideURL     = "https://g.co/fhir/StructureDefinition/base64Binary-separatorStride"
)

// MarshalResource writes a resource (a Bundle, a DiagnosticReport ...) as
// FHIR JSON, or returns ErrUnsupported.
func MarshalResource(m proto.Message) ([]byte, error) {
	out, _, err := marshalLocating(m, nil, nil)
	return out, err
}

// marshalLocating is MarshalResource that also says where data (a
// base64Binary's own bytes, the same slice, not an equal copy) was
// written: the offset of its string's opening quote, or 0 if it was not.
// The stores leave a PDF's base64 out of a stored Bundle; knowing where
// the writer put it spares them finding it and checking it again, which
// is encoding the PDF twice more. encoded, if not nil, is data's standard
// base64 already (as the lab sent it), written as it is.
func marshalLocating(m proto.Message, data, encoded []byte) (out []byte, at int, err error) {
	root := reflect.ValueOf(m)
	t := infoOf(root.Type())
	if t == nil {
		return nil, 0, fmt.Errorf("%w: %T is not a generated message", ErrUnsupported, m)
	}
	w := writers.Get().(*jsonWriter)
	defer writers.Put(w)
	w.buf, w.depth, w.mark, w.markAt, w.markText = w.buf[:0], 0, data, 0, nil
	if len(encoded) == base64.StdEncoding.EncodedLen(len(data)) {
		w.markText = encoded
	}
	defer func() { w.mark, w.markText = nil, nil }()
	// A large attachment makes a large resource: its JSON is about 4/3 of
	// its binary size (base64), so size the buffer once rather than
	// growing and copying it several times.
	if len(data) > 1<<20 && cap(w.buf) < len(data)*7/5 {
		w.buf = make([]byte, 0, len(data)*7/5+64<<10)
	}
	if err := w.message(root, t); err != nil {
		return nil, 0, err
	}
	if cap(w.buf) > 4<<20 { // hand a large buffer (an attachment's) over rather than copy it; the pool keeps a small one
		out = w.buf
		w.buf = make([]byte, 0, 64<<10)
		return out, w.markAt, nil
	}
	return append(make([]byte, 0, len(w.buf)), w.buf...), w.markAt, nil
}

// writers keeps buffers (a Bundle's JSON is hundreds of kilobytes) and
// the per-depth entry lists from one marshal to the next.
var writers = sync.Pool{New: func() any { return &jsonWriter{buf: make([]byte, 0, 64<<10)} }}

type jsonWriter struct {
	buf   []byte
	depth int
	stack [][]entry // entries being sorted, per nesting depth

	mark     []byte // the bytes whose place marshalLocating reports
	markText []byte // their base64, if known
	markAt   int
}

// entry is one key of an object: a field's value, or a primitive's "_"
// part, written once the keys are sorted.
type entry struct {
	key   string
	t     *typeInfo     // the value's type (nil: "resourceType")
	v     reflect.Value // the value (*Message), or the values (a slice) if list
	list  bool
	under bool // the primitive's id and extensions ("_" + name)
}

// message writes a non-primitive message (p, a *Message) as an object.
func (w *jsonWriter) message(p reflect.Value, t *typeInfo) error {
	if p.IsNil() || t.incomplete {
		return fmt.Errorf("%w: a nil or unmapped %s", ErrUnsupported, t.name)
	}
	switch t.kind {
	case kindContained:
		if t.oneof == nil {
			return fmt.Errorf("%w: no resource oneof", ErrUnsupported)
		}
		opt, v, ok := t.oneof.chosen(p.Elem().Field(t.oneofF))
		if !ok {
			return fmt.Errorf("fhir json writer: no resource in %s", t.name)
		}
		child := opt.info.of(opt.fd, opt.goTyp).child
		if child == nil {
			return fmt.Errorf("%w: contained %s", ErrUnsupported, opt.fd.Name())
		}
		return w.message(v, child)
	case kindReference:
		if t.oneof != nil {
			if opt, _, ok := t.oneof.chosen(p.Elem().Field(t.oneofF)); ok && opt.fd.Name() != "uri" {
				// By typed id (Patient/123) or fragment (#p1): written as the
				// URI jsonformat makes of it, on a copy.
				ref := proto.Clone(p.Interface().(proto.Message))
				if err := jsonformat.DenormalizeReference(ref); err != nil {
					return fmt.Errorf("%w: reference: %v", ErrUnsupported, err)
				}
				p = reflect.ValueOf(ref)
			}
		}
	}
	if w.depth == len(w.stack) {
		w.stack = append(w.stack, make([]entry, 0, 16))
	}
	w.depth++
	defer func() { w.depth-- }()
	entries, err := w.collect(w.stack[w.depth-1][:0], p.Elem(), t)
	if err != nil {
		return err
	}
	if t.resource {
		entries = append(entries, entry{key: "resourceType"})
	}
	for i := 1; i < len(entries); i++ { // a few keys, mostly in order already
		for j := i; j > 0 && entries[j].key < entries[j-1].key; j-- {
			entries[j], entries[j-1] = entries[j-1], entries[j]
		}
	}
	w.stack[w.depth-1] = entries // keep what append grew
	w.buf = append(w.buf, '{')
	for i := range entries {
		e := &entries[i]
		if i > 0 {
			w.buf = append(w.buf, ',')
		}
		// Keys are proto JSON names (letters and digits) or "_" and one:
		// nothing in them to escape.
		w.buf = append(append(append(w.buf, '"'), e.key...), '"', ':')
		if err := w.entryValue(e, t); err != nil {
			return err
		}
	}
	w.buf = append(w.buf, '}')
	return nil
}

// collect adds the entries of every set field of s (a message struct).
func (w *jsonWriter) collect(entries []entry, s reflect.Value, t *typeInfo) ([]entry, error) {
	base := s.Addr().UnsafePointer()
	for i := range t.fields {
		f := &t.fields[i]
		if f.unset(base) {
			continue // most fields of most elements: not worth a reflect.Value
		}
		v := s.Field(f.index)
		var fi *fieldInfo
		var fd protoreflect.FieldDescriptor
		switch {
		case f.oneof != nil: // a oneof of a complex type (a Reference's): its option is the field
			opt, value, ok := f.oneof.chosen(v)
			if !ok {
				continue
			}
			if opt.fd.Message() == nil { // set, whatever its value: not a FHIR element this writer knows
				return nil, fmt.Errorf("%w: %s", ErrUnsupported, opt.fd.FullName())
			}
			fd, fi, v = opt.fd, opt.info.of(opt.fd, opt.goTyp), value
		default:
			fd, fi = f.fd, f.info.of(f.fd, v.Type())
		}
		if fi.child == nil {
			if !v.IsZero() { // a scalar or a map outside a primitive
				return nil, fmt.Errorf("%w: %s", ErrUnsupported, fd.FullName())
			}
			continue
		}
		if fd.Cardinality() == protoreflect.Repeated {
			if v.Len() > 0 {
				entries = repeated(entries, fi, v)
			}
			continue
		}
		if v.IsNil() {
			continue
		}
		child, key, under := fi.child, fi.json, fi.under
		if child.kind == kindChoice {
			if child.oneof == nil {
				return nil, fmt.Errorf("%w: choice %s", ErrUnsupported, fd.FullName())
			}
			opt, value, ok := child.oneof.chosen(v.Elem().Field(child.oneofF))
			if !ok {
				return nil, fmt.Errorf("fhir json writer: no type chosen in %s", fd.FullName())
			}
			key, under, v = fi.choices[opt.index], fi.unders[opt.index], value
			if child = opt.info.of(opt.fd, opt.goTyp).child; child == nil || v.IsNil() {
				return nil, fmt.Errorf("%w: choice %s", ErrUnsupported, fd.FullName())
			}
		}
		if child.kind == kindPrimitive {
			has, ext := primitiveParts(v, child)
			if has {
				entries = append(entries, entry{key: key, t: child, v: v})
			}
			if ext {
				entries = append(entries, entry{key: under, t: child, v: v, under: true})
			}
			continue
		}
		entries = append(entries, entry{key: key, t: child, v: v})
	}
	return entries, nil
}

// repeated adds a repeated field's entries: the values, and for
// primitives their ids and extensions, each only if any element has one.
func repeated(entries []entry, fi *fieldInfo, l reflect.Value) []entry {
	if fi.child.kind != kindPrimitive {
		return append(entries, entry{key: fi.json, t: fi.child, v: l, list: true})
	}
	anyValue, anyExt := false, false
	for i := range l.Len() {
		has, ext := primitiveParts(l.Index(i), fi.child)
		anyValue, anyExt = anyValue || has, anyExt || ext
	}
	if anyValue {
		entries = append(entries, entry{key: fi.json, t: fi.child, v: l, list: true})
	}
	if anyExt {
		entries = append(entries, entry{key: fi.under, t: fi.child, v: l, list: true, under: true})
	}
	return entries
}

func (w *jsonWriter) entryValue(e *entry, parent *typeInfo) error {
	if e.t == nil { // resourceType
		w.str(parent.name)
		return nil
	}
	primitive := e.t.kind == kindPrimitive
	if !e.list {
		switch {
		case e.under:
			return w.primitiveExtras(e.v, e.t)
		case primitive:
			return w.primitive(e.v, e.t)
		}
		return w.message(e.v, e.t)
	}
	w.buf = append(w.buf, '[')
	for i := range e.v.Len() {
		if i > 0 {
			w.buf = append(w.buf, ',')
		}
		p := e.v.Index(i)
		var err error
		switch {
		case e.under:
			if _, ext := primitiveParts(p, e.t); ext {
				err = w.primitiveExtras(p, e.t)
			} else {
				w.buf = append(w.buf, "null"...)
			}
		case primitive:
			if has, _ := primitiveParts(p, e.t); has {
				err = w.primitive(p, e.t)
			} else {
				w.buf = append(w.buf, "null"...)
			}
		default:
			err = w.message(p, e.t)
		}
		if err != nil {
			return err
		}
	}
	w.buf = append(w.buf, ']')
	return nil
}

// primitiveParts says whether a primitive (p, a *Message) has a value to
// write and whether it has an id or extensions (its "_" part).
func primitiveParts(p reflect.Value, t *typeInfo) (value, extras bool) {
	if p.IsNil() {
		return false, false
	}
	s := p.Elem()
	value = true
	if t.valueKind == protoreflect.EnumKind && t.valueF >= 0 && s.Field(t.valueF).Int() == 0 {
		value = false // an unset code
	}
	if t.extF >= 0 {
		exts := s.Field(t.extF)
		for i := range exts.Len() {
			if extensionURL(exts.Index(i)) == primitiveHasNoValueURL {
				value = false
			} else {
				extras = true
			}
		}
	}
	if t.idF >= 0 && !s.Field(t.idF).IsNil() {
		extras = true
	}
	return value, extras
}

// extensionURL is an Extension's url (ext, an *Extension).
func extensionURL(ext reflect.Value) string {
	t := infoOf(ext.Type())
	if ext.IsNil() || t == nil || t.urlF < 0 {
		return ""
	}
	u := ext.Elem().Field(t.urlF)
	if u.IsNil() {
		return ""
	}
	return u.Elem().Field(t.urlValueF).String()
}

// primitiveExtras writes a primitive's "_" object: its id and extensions
// (but not google/fhir's own marker extensions).
func (w *jsonWriter) primitiveExtras(p reflect.Value, t *typeInfo) error {
	s := p.Elem()
	w.buf = append(w.buf, '{')
	first := true
	if t.extF >= 0 {
		exts := s.Field(t.extF)
		written := false
		for i := range exts.Len() {
			ext := exts.Index(i)
			switch extensionURL(ext) {
			case primitiveHasNoValueURL:
				continue
			case separatorStrideURL:
				return fmt.Errorf("%w: base64 separator", ErrUnsupported)
			}
			if !written {
				w.buf = append(w.buf, `"extension":[`...)
				written = true
			} else {
				w.buf = append(w.buf, ',')
			}
			et := infoOf(ext.Type())
			if et == nil {
				return fmt.Errorf("%w: extension type", ErrUnsupported)
			}
			if err := w.message(ext, et); err != nil {
				return err
			}
		}
		if written {
			w.buf = append(w.buf, ']')
			first = false
		}
	}
	if t.idF >= 0 && !s.Field(t.idF).IsNil() {
		if !first {
			w.buf = append(w.buf, ',')
		}
		id := s.Field(t.idF)
		it := infoOf(id.Type())
		if it == nil || it.valueF < 0 {
			return fmt.Errorf("%w: primitive id", ErrUnsupported)
		}
		w.buf = append(w.buf, `"id":`...)
		w.str(id.Elem().Field(it.valueF).String())
	}
	w.buf = append(w.buf, '}')
	return nil
}

// primitive writes a primitive's value (p, a *Message).
func (w *jsonWriter) primitive(p reflect.Value, t *typeInfo) error {
	s := p.Elem()
	if t.valueF < 0 && t.prim != primTime {
		return fmt.Errorf("%w: primitive %s without a value", ErrUnsupported, t.name)
	}
	switch t.prim {
	case primBase64:
		if t.extF >= 0 {
			exts := s.Field(t.extF)
			for i := range exts.Len() {
				if extensionURL(exts.Index(i)) == separatorStrideURL {
					return fmt.Errorf("%w: base64 separator", ErrUnsupported)
				}
			}
		}
		b := s.Field(t.valueF).Bytes()
		marked := len(b) > 0 && len(b) == len(w.mark) && &b[0] == &w.mark[0]
		if marked && w.markAt == 0 {
			w.markAt = len(w.buf)
		}
		// Room for a large attachment at once, and some for what follows,
		// rather than doubling the buffer towards it.
		if n := base64.StdEncoding.EncodedLen(len(b)) + 2; cap(w.buf)-len(w.buf) < n {
			w.buf = slices.Grow(w.buf, n+64<<10)
		}
		w.buf = append(w.buf, '"')
		if marked && w.markText != nil {
			w.buf = append(w.buf, w.markText...)
		} else {
			at := len(w.buf)
			w.buf = w.buf[:at+pdfbase64.EncodedLen(len(b))]
			pdfbase64.Encode(w.buf[at:], b)
		}
		w.buf = append(w.buf, '"')
	case primString:
		w.str(s.Field(t.valueF).String())
	case primBool:
		w.buf = strconv.AppendBool(w.buf, s.Field(t.valueF).Bool())
	case primInt:
		w.buf = strconv.AppendInt(w.buf, s.Field(t.valueF).Int(), 10)
	case primUint:
		w.buf = strconv.AppendUint(w.buf, s.Field(t.valueF).Uint(), 10)
	case primDecimal:
		d := s.Field(t.valueF).String()
		if !validNumber(d) {
			return fmt.Errorf("%w: decimal", ErrUnsupported) // jsonformat would fail too; let it say why
		}
		w.buf = append(w.buf, d...)
	case primTime:
		if t.usF < 0 || t.precF < 0 {
			return fmt.Errorf("%w: %s layout", ErrUnsupported, t.name)
		}
		tz := ""
		if t.tzF >= 0 {
			tz = s.Field(t.tzF).String()
		}
		text, err := formatTime(t.name, s.Field(t.usF).Int(), tz, t.precisions[s.Field(t.precF).Int()])
		if err != nil {
			return err
		}
		w.str(text)
	case primCode:
		v := s.Field(t.valueF)
		if t.valueKind == protoreflect.EnumKind {
			w.str(t.codes[v.Int()])
		} else {
			w.str(v.String())
		}
	default:
		return fmt.Errorf("%w: unknown primitive %s", ErrUnsupported, t.name)
	}
	return nil
}

// validNumber accepts a JSON number, as json.Encoder checks a raw value.
func validNumber(s string) bool {
	return s != "" && (s[0] == '-' || s[0] >= '0' && s[0] <= '9') && json.Valid([]byte(s))
}

// str writes s as a JSON string the way encoding/json does with HTML
// escaping off: quotes, backslashes and control characters escaped,
// invalid UTF-8 as U+FFFD, U+2028 and U+2029 escaped.
func (w *jsonWriter) str(s string) {
	const hex = "0123456789abcdef"
	w.buf = append(w.buf, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < 0x80 {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			w.buf = append(w.buf, s[start:i]...)
			switch b {
			case '\\', '"':
				w.buf = append(w.buf, '\\', b)
			case '\b':
				w.buf = append(w.buf, '\\', 'b')
			case '\f':
				w.buf = append(w.buf, '\\', 'f')
			case '\n':
				w.buf = append(w.buf, '\\', 'n')
			case '\r':
				w.buf = append(w.buf, '\\', 'r')
			case '\t':
				w.buf = append(w.buf, '\\', 't')
			default:
				w.buf = append(w.buf, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == unicode.ReplacementChar && size == 1 {
			w.buf = append(w.buf, s[start:i]...)
			w.buf = append(w.buf, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			w.buf = append(w.buf, s[start:i]...)
			w.buf = append(w.buf, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	w.buf = append(w.buf, s[start:]...)
	w.buf = append(w.buf, '"')
}

// MarshalOrFallback writes m with the writer, or with jsonformat where the
// writer does not support an element.
func MarshalOrFallback(m proto.Message, reference *jsonformat.Marshaller) ([]byte, error) {
	out, _, err := marshalOrFallbackLocating(m, nil, nil, reference)
	return out, err
}

// marshalOrFallbackLocating is MarshalOrFallback that says where data was
// written, as marshalLocating does (0 when jsonformat wrote it).
func marshalOrFallbackLocating(m proto.Message, data, encoded []byte, reference *jsonformat.Marshaller) ([]byte, int, error) {
	out, at, err := marshalLocating(m, data, encoded)
	if errors.Is(err, ErrUnsupported) {
		out, err = reference.MarshalResource(m)
		return out, 0, err
	}
	return out, at, err
}
