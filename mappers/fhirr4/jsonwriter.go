package fhirr4

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/google/fhir/go/jsonformat"
	apb "github.com/google/fhir/go/proto/google/fhir/proto/annotations_go_proto"
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

// typeKind is what a message type is, for writing.
type typeKind uint8

const (
	kindComplex   typeKind = iota // an object of its fields
	kindPrimitive                 // a JSON value, its id and extensions under "_name"
	kindChoice                    // one of several types: flattened into the parent as nameType
	kindReference                 // a Reference, possibly by typed id
	kindContained                 // ContainedResource: the resource set in its oneof
)

// typeInfo is a message type's classification, computed once.
type typeInfo struct {
	kind     typeKind
	resource bool   // writes "resourceType"
	name     string // the resource's type name
	value    protoreflect.FieldDescriptor
	id, ext  protoreflect.FieldDescriptor // a primitive's
	codes    map[protoreflect.EnumNumber]string
	fields   []fieldInfo                  // by field index
	oneof    protoreflect.OneofDescriptor // a choice's or a ContainedResource's
}

// fieldInfo is what writing a field needs, found once: its JSON name,
// its type's classification, and for a choice the name of each option.
type fieldInfo struct {
	once    sync.Once
	json    string
	under   string    // "_" + json: a primitive's id and extensions
	child   *typeInfo // the field's message type
	choices []string  // a choice field's keys by option index (valueQuantity ...)
	unders  []string
}

func (t *typeInfo) field(f protoreflect.FieldDescriptor) *fieldInfo {
	fi := &t.fields[f.Index()]
	fi.once.Do(func() {
		fi.json, fi.under = f.JSONName(), "_"+f.JSONName()
		if f.Message() == nil {
			return
		}
		fi.child = info(f.Message())
		if fi.child.kind == kindChoice {
			opts := fi.child.oneof.Fields()
			fi.choices, fi.unders = make([]string, opts.Len()), make([]string, opts.Len())
			for i := range opts.Len() {
				fi.choices[i] = choiceName(f, opts.Get(i))
				fi.unders[i] = "_" + fi.choices[i]
			}
		}
	})
	return fi
}

var types sync.Map // protoreflect.FullName -> *typeInfo

func info(d protoreflect.MessageDescriptor) *typeInfo {
	if t, ok := types.Load(d.FullName()); ok {
		return t.(*typeInfo)
	}
	t := &typeInfo{}
	kind := proto.GetExtension(d.Options(), apb.E_StructureDefinitionKind).(apb.StructureDefinitionKindValue)
	switch {
	case kind == apb.StructureDefinitionKindValue_KIND_PRIMITIVE_TYPE:
		t.kind = kindPrimitive
		t.value, t.id, t.ext = d.Fields().ByName("value"), d.Fields().ByName("id"), d.Fields().ByName("extension")
		if t.value != nil && t.value.Kind() == protoreflect.EnumKind {
			t.codes = map[protoreflect.EnumNumber]string{}
			values := t.value.Enum().Values()
			for i := range values.Len() {
				ev := values.Get(i)
				code := proto.GetExtension(ev.Options(), apb.E_FhirOriginalCode).(string)
				if code == "" {
					code = strings.ReplaceAll(strings.ToLower(string(ev.Name())), "_", "-")
				}
				t.codes[ev.Number()] = code
			}
		}
	case proto.GetExtension(d.Options(), apb.E_IsChoiceType).(bool):
		t.kind = kindChoice
		if d.Oneofs().Len() == 1 {
			t.oneof = d.Oneofs().Get(0)
		}
	case proto.HasExtension(d.Options(), apb.E_FhirReferenceType):
		t.kind = kindReference
	case d.Name() == "ContainedResource":
		t.kind = kindContained
		t.oneof = d.Oneofs().ByName("oneof_resource")
	}
	t.fields = make([]fieldInfo, d.Fields().Len())
	if kind == apb.StructureDefinitionKindValue_KIND_RESOURCE {
		t.resource, t.name = true, string(d.Name())
	}
	actual, _ := types.LoadOrStore(d.FullName(), t)
	return actual.(*typeInfo)
}

// choiceName is jsonformat's name for a choice field: the parent field's
// name and the chosen type's, in lower camel case (value + quantity ->
// valueQuantity).
func choiceName(parent protoreflect.FieldDescriptor, chosen protoreflect.FieldDescriptor) string {
	return snakeToLowerCamel(string(parent.Name()) + "_" + camelToSnake(chosen.JSONName()))
}

func snakeToLowerCamel(s string) string {
	var b strings.Builder
	upper := true
	for _, c := range s {
		switch {
		case c == '_':
			upper = true
		case upper:
			upper = false
			b.WriteRune(unicode.ToUpper(c))
		default:
			b.WriteRune(unicode.ToLower(c))
		}
	}
	out := b.String()
	if out == "" {
		return out
	}
	return strings.ToLower(out[:1]) + out[1:]
}

func camelToSnake(s string) string {
	var b strings.Builder
	for _, c := range s {
		if !unicode.IsLower(c) && b.Len() > 0 {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToLower(c))
	}
	return b.String()
}

// MarshalResource writes a resource (a Bundle, a DiagnosticReport ...) as
// FHIR JSON, or returns ErrUnsupported.
func MarshalResource(m proto.Message) ([]byte, error) {
	out, _, err := marshalLocating(m, nil)
	return out, err
}

// marshalLocating is MarshalResource that also says where data (a
// base64Binary's own bytes, the same slice, not an equal copy) was
// written: the offset of its string's opening quote, or 0 if it was not.
// The stores leave a PDF's base64 out of a stored Bundle; knowing where
// the writer put it spares them finding it and checking it again, which
// is encoding the PDF twice more.
func marshalLocating(m proto.Message, data []byte) (out []byte, at int, err error) {
	w := writers.Get().(*jsonWriter)
	defer writers.Put(w)
	w.buf, w.depth, w.mark, w.markAt = w.buf[:0], 0, data, 0
	defer func() { w.mark = nil }()
	// A large attachment makes a large resource: its JSON is about 4/3 of
	// its binary size (base64), so size the buffer once rather than
	// growing and copying it several times.
	if len(data) > 1<<20 && cap(w.buf) < len(data)*7/5 {
		w.buf = make([]byte, 0, len(data)*7/5+64<<10)
	}
	r := m.ProtoReflect()
	if err := w.message(r, info(r.Descriptor())); err != nil {
		return nil, 0, err
	}
	if cap(w.buf) > 1<<20 { // hand a large buffer over rather than copy it; the pool keeps a small one
		out = w.buf
		w.buf = make([]byte, 0, 64<<10)
		return out, w.markAt, nil
	}
	return append(make([]byte, 0, len(w.buf)), w.buf...), w.markAt, nil
}

// writers keeps buffers (a Bundle's JSON is hundreds of kilobytes) and
// the per-depth entry lists from one marshal to the next.
var writers = sync.Pool{New: func() any {
	w := &jsonWriter{buf: make([]byte, 0, 64<<10)}
	w.visit = w.collect
	return w
}}

type jsonWriter struct {
	buf   []byte
	depth int
	stack [][]entry // entries being sorted, per nesting depth

	// The object whose fields Range is visiting (see message).
	visit   func(protoreflect.FieldDescriptor, protoreflect.Value) bool
	cur     protoreflect.Message
	curType *typeInfo
	entries []entry
	err     error

	mark   []byte // the bytes whose place marshalLocating reports
	markAt int
}

// entry is one key of an object: a field's value, or a primitive's "_"
// part, written once the keys are sorted.
type entry struct {
	key   string
	t     *typeInfo            // the value's type (nil: "resourceType")
	msg   protoreflect.Message // the value, for a single field
	list  protoreflect.List    // the values, for a repeated field
	under bool                 // the primitive's id and extensions ("_" + name)
}

// message writes a non-primitive message as an object.
func (w *jsonWriter) message(m protoreflect.Message, t *typeInfo) error {
	switch t.kind {
	case kindContained:
		if t.oneof == nil {
			return fmt.Errorf("%w: no resource oneof", ErrUnsupported)
		}
		f := m.WhichOneof(t.oneof)
		if f == nil {
			return fmt.Errorf("fhir json writer: no resource in %s", m.Descriptor().FullName())
		}
		return w.message(m.Get(f).Message(), t.field(f).child)
	case kindReference:
		if od := m.Descriptor().Oneofs().ByName("reference"); od != nil {
			if f := m.WhichOneof(od); f != nil && f.Name() != "uri" {
				// By typed id (Patient/123) or fragment (#p1): written as the
				// URI jsonformat makes of it, on a copy.
				ref := proto.Clone(m.Interface())
				if err := jsonformat.DenormalizeReference(ref); err != nil {
					return fmt.Errorf("%w: reference: %v", ErrUnsupported, err)
				}
				m = ref.ProtoReflect()
			}
		}
	}
	if w.depth == len(w.stack) {
		w.stack = append(w.stack, make([]entry, 0, 16))
	}
	w.depth++
	defer func() { w.depth-- }()
	// Range's callback is one method value bound when the writer was made,
	// reading the object being collected from the writer: no closure is
	// allocated per message.
	w.cur, w.curType, w.entries, w.err = m, t, w.stack[w.depth-1][:0], nil
	m.Range(w.visit)
	entries, err := w.entries, w.err
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
		w.str(e.key)
		w.buf = append(w.buf, ':')
		if err := w.entryValue(e, t); err != nil {
			return err
		}
	}
	w.buf = append(w.buf, '}')
	return nil
}

// collect adds a set field's entries to the object being collected.
func (w *jsonWriter) collect(f protoreflect.FieldDescriptor, v protoreflect.Value) bool {
	fi := w.curType.field(f)
	if fi.child == nil || f.IsMap() {
		w.err = fmt.Errorf("%w: %s", ErrUnsupported, w.cur.Descriptor().FullName())
		return false
	}
	if f.Cardinality() == protoreflect.Repeated {
		w.entries = repeated(w.entries, fi, v.List())
		return true
	}
	msg, child, key, under := v.Message(), fi.child, fi.json, fi.under
	if child.kind == kindChoice {
		chosen := msg.WhichOneof(child.oneof)
		if chosen == nil {
			w.err = fmt.Errorf("fhir json writer: no type chosen in %s", f.FullName())
			return false
		}
		key, under, msg, child = fi.choices[chosen.Index()], fi.unders[chosen.Index()], msg.Get(chosen).Message(), child.field(chosen).child
	}
	if child.kind == kindPrimitive {
		has, ext := primitiveParts(msg, child)
		if has {
			w.entries = append(w.entries, entry{key: key, t: child, msg: msg})
		}
		if ext {
			w.entries = append(w.entries, entry{key: under, t: child, msg: msg, under: true})
		}
		return true
	}
	w.entries = append(w.entries, entry{key: key, t: child, msg: msg})
	return true
}

// repeated adds a repeated field's entries: the values, and for
// primitives their ids and extensions, each only if any element has one.
func repeated(entries []entry, fi *fieldInfo, l protoreflect.List) []entry {
	if fi.child.kind != kindPrimitive {
		return append(entries, entry{key: fi.json, t: fi.child, list: l})
	}
	anyValue, anyExt := false, false
	for i := range l.Len() {
		has, ext := primitiveParts(l.Get(i).Message(), fi.child)
		anyValue, anyExt = anyValue || has, anyExt || ext
	}
	if anyValue {
		entries = append(entries, entry{key: fi.json, t: fi.child, list: l})
	}
	if anyExt {
		entries = append(entries, entry{key: fi.under, t: fi.child, list: l, under: true})
	}
	return entries
}

func (w *jsonWriter) entryValue(e *entry, parent *typeInfo) error {
	if e.t == nil { // resourceType
		w.str(parent.name)
		return nil
	}
	primitive := e.t.kind == kindPrimitive
	if e.list == nil {
		switch {
		case e.under:
			return w.primitiveExtras(e.msg, e.t)
		case primitive:
			return w.primitive(e.msg, e.t)
		}
		return w.message(e.msg, e.t)
	}
	w.buf = append(w.buf, '[')
	for i := range e.list.Len() {
		if i > 0 {
			w.buf = append(w.buf, ',')
		}
		m := e.list.Get(i).Message()
		var err error
		switch {
		case e.under:
			if _, ext := primitiveParts(m, e.t); ext {
				err = w.primitiveExtras(m, e.t)
			} else {
				w.buf = append(w.buf, "null"...)
			}
		case primitive:
			if has, _ := primitiveParts(m, e.t); has {
				err = w.primitive(m, e.t)
			} else {
				w.buf = append(w.buf, "null"...)
			}
		default:
			err = w.message(m, e.t)
		}
		if err != nil {
			return err
		}
	}
	w.buf = append(w.buf, ']')
	return nil
}

// primitiveParts says whether a primitive has a value to write and
// whether it has an id or extensions (its "_" part).
func primitiveParts(m protoreflect.Message, t *typeInfo) (value, extras bool) {
	value = true
	if t.value != nil && t.value.Kind() == protoreflect.EnumKind && m.Get(t.value).Enum() == 0 {
		value = false // an unset code
	}
	if t.ext != nil && m.Has(t.ext) {
		exts := m.Get(t.ext).List()
		for i := range exts.Len() {
			if extensionURL(exts.Get(i).Message()) == primitiveHasNoValueURL {
				value = false
			} else {
				extras = true
			}
		}
	}
	if t.id != nil && m.Has(t.id) {
		extras = true
	}
	return value, extras
}

func extensionURL(ext protoreflect.Message) string {
	f := ext.Descriptor().Fields().ByName("url")
	if f == nil || !ext.Has(f) {
		return ""
	}
	u := ext.Get(f).Message()
	return u.Get(u.Descriptor().Fields().ByName("value")).String()
}

// primitiveExtras writes a primitive's "_" object: its id and extensions
// (but not google/fhir's own marker extensions).
func (w *jsonWriter) primitiveExtras(m protoreflect.Message, t *typeInfo) error {
	w.buf = append(w.buf, '{')
	first := true
	if t.ext != nil {
		exts := m.Get(t.ext).List()
		written := false
		for i := range exts.Len() {
			ext := exts.Get(i).Message()
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
			if err := w.message(ext, info(ext.Descriptor())); err != nil {
				return err
			}
		}
		if written {
			w.buf = append(w.buf, ']')
			first = false
		}
	}
	if t.id != nil && m.Has(t.id) {
		if !first {
			w.buf = append(w.buf, ',')
		}
		id := m.Get(t.id).Message()
		w.buf = append(w.buf, `"id":`...)
		w.str(id.Get(id.Descriptor().Fields().ByName("value")).String())
	}
	w.buf = append(w.buf, '}')
	return nil
}

// primitive writes a primitive's value.
func (w *jsonWriter) primitive(m protoreflect.Message, t *typeInfo) error {
	d := m.Descriptor()
	switch d.Name() {
	case "Base64Binary":
		if t.ext != nil && m.Has(t.ext) {
			exts := m.Get(t.ext).List()
			for i := range exts.Len() {
				if extensionURL(exts.Get(i).Message()) == separatorStrideURL {
					return fmt.Errorf("%w: base64 separator", ErrUnsupported)
				}
			}
		}
		b := m.Get(t.value).Bytes()
		if w.markAt == 0 && len(b) > 0 && len(b) == len(w.mark) && &b[0] == &w.mark[0] {
			w.markAt = len(w.buf)
		}
		w.buf = append(w.buf, '"')
		w.buf = base64.StdEncoding.AppendEncode(w.buf, b)
		w.buf = append(w.buf, '"')
		return nil
	case "Canonical", "Code", "Markdown", "Oid", "String", "Uri", "Url", "Uuid", "Xhtml", "ReferenceId", "Id":
		w.str(m.Get(t.value).String())
		return nil
	case "Boolean":
		w.buf = strconv.AppendBool(w.buf, m.Get(t.value).Bool())
		return nil
	case "Integer":
		w.buf = strconv.AppendInt(w.buf, m.Get(t.value).Int(), 10)
		return nil
	case "PositiveInt", "UnsignedInt":
		w.buf = strconv.AppendUint(w.buf, m.Get(t.value).Uint(), 10)
		return nil
	case "Decimal":
		s := m.Get(t.value).String()
		if !validNumber(s) {
			return fmt.Errorf("%w: decimal", ErrUnsupported) // jsonformat would fail too; let it say why
		}
		w.buf = append(w.buf, s...)
		return nil
	case "Date", "DateTime", "Instant", "Time":
		s, err := formatTime(m)
		if err != nil {
			return err
		}
		w.str(s)
		return nil
	}
	if t.value == nil || !proto.HasExtension(d.Options(), apb.E_FhirValuesetUrl) {
		return fmt.Errorf("%w: unknown primitive", ErrUnsupported)
	}
	switch t.value.Kind() {
	case protoreflect.StringKind:
		w.str(m.Get(t.value).String())
	case protoreflect.EnumKind:
		w.str(t.codes[m.Get(t.value).Enum()])
	default:
		return fmt.Errorf("%w: code kind", ErrUnsupported)
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
	out, _, err := marshalOrFallbackLocating(m, nil, reference)
	return out, err
}

// marshalOrFallbackLocating is MarshalOrFallback that says where data was
// written, as marshalLocating does (0 when jsonformat wrote it).
func marshalOrFallbackLocating(m proto.Message, data []byte, reference *jsonformat.Marshaller) ([]byte, int, error) {
	out, at, err := marshalLocating(m, data)
	if errors.Is(err, ErrUnsupported) {
		out, err = reference.MarshalResource(m)
		return out, 0, err
	}
	return out, at, err
}
