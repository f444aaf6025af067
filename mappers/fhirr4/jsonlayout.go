package fhirr4

import (
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unsafe"

	apb "github.com/google/fhir/go/proto/google/fhir/proto/annotations_go_proto"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// What the FHIR JSON writer knows of each message type, found once from
// its proto descriptor (what the type is in FHIR) and its generated Go
// struct (where each field is). The writer then reads fields straight from
// the struct with package reflect: protobuf's own reflection (protoreflect)
// builds a Value through a type-cache lookup for every field it visits,
// which was a sixth of intake's CPU.

// typeKind is what a message type is, for writing.
type typeKind uint8

const (
	kindComplex   typeKind = iota // an object of its fields
	kindPrimitive                 // a JSON value, its id and extensions under "_name"
	kindChoice                    // one of several types: flattened into the parent as nameType
	kindReference                 // a Reference, possibly by typed id
	kindContained                 // ContainedResource: the resource set in its oneof
)

// primitiveKind is how a primitive's value is written.
type primitiveKind uint8

const (
	primUnknown primitiveKind = iota
	primBase64
	primString
	primBool
	primInt
	primUint
	primDecimal
	primTime // date, dateTime, instant, time
	primCode // a code from a value set, stored as a string or an enum
)

// typeInfo is a message type's classification and layout.
type typeInfo struct {
	kind     typeKind
	resource bool   // writes "resourceType"
	name     string // the message's name (the resource type, for a resource)
	fields   []goField

	// A primitive's value, id and extension: Go field indexes, -1 if none.
	prim              primitiveKind
	valueF, idF, extF int
	valueKind         protoreflect.Kind
	codes             map[int64]string // an enum code's FHIR spelling, by number
	usF, tzF, precF   int              // a date or time's value_us, timezone, precision
	precisions        map[int64]string // precision names, by number
	isTime            bool             // FHIR time, not a date
	urlF, urlValueF   int              // an Extension's url, and that Uri's value
	oneof             *oneofInfo       // a choice's, a Reference's or a ContainedResource's
	oneofF            int              // its Go field
	oneofDesc         protoreflect.OneofDescriptor
	incomplete        bool // some proto field was not found in the struct
}

// goField is one field of a Go struct: a proto field, or a oneof (an
// interface holding one of its wrapper structs).
type goField struct {
	index  int
	offset uintptr
	shape  fieldShape
	fd     protoreflect.FieldDescriptor // nil for a oneof
	oneof  *oneofInfo
	info   fieldInfo
}

// fieldShape is how a field's presence can be read from the struct's
// memory without reflection.
type fieldShape uint8

const (
	shapeOther     fieldShape = iota // ask package reflect
	shapePointer                     // a message: nil when unset
	shapeSlice                       // a repeated field: empty when unset
	shapeInterface                   // a oneof: nil when unset
)

func shapeOf(k reflect.Kind) fieldShape {
	switch k {
	case reflect.Pointer:
		return shapePointer
	case reflect.Slice:
		return shapeSlice
	case reflect.Interface:
		return shapeInterface
	}
	return shapeOther
}

// unset reports whether the field is certainly unset in the struct at
// base, reading the first word of a pointer or interface (nil when unset)
// or a slice's length, as Go lays them out. The writer visits every field
// of every element and most are unset: a reflect.Value for each was a
// tenth of the writer's time.
func (f *goField) unset(base unsafe.Pointer) bool {
	p := unsafe.Add(base, f.offset)
	switch f.shape {
	case shapePointer, shapeInterface:
		return *(*unsafe.Pointer)(p) == nil
	case shapeSlice:
		return len(*(*[]byte)(p)) == 0
	}
	return false
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

// oneofInfo maps the wrapper struct a oneof holds to the option it is.
type oneofInfo struct {
	options map[reflect.Type]*oneofOption // by the wrapper's pointer type
}

type oneofOption struct {
	index int // among the oneof's fields
	fd    protoreflect.FieldDescriptor
	goTyp reflect.Type // the option's Go type (*Message)
	info  fieldInfo
}

// chosen is the option o holds and its value, or ok=false if it holds
// none (or one this writer does not know).
func (o *oneofInfo) chosen(iface reflect.Value) (opt *oneofOption, value reflect.Value, ok bool) {
	if iface.IsNil() {
		return nil, reflect.Value{}, false
	}
	wrapper := iface.Elem()
	opt = o.options[wrapper.Type()]
	if opt == nil || wrapper.IsNil() {
		return nil, reflect.Value{}, false
	}
	return opt, wrapper.Elem().Field(0), true
}

// of fills in what writing the field needs, the first time it is asked.
func (fi *fieldInfo) of(fd protoreflect.FieldDescriptor, goType reflect.Type) *fieldInfo {
	fi.once.Do(func() {
		fi.json, fi.under = fd.JSONName(), "_"+fd.JSONName()
		if fd.Message() == nil || fd.IsMap() {
			return
		}
		if fd.Cardinality() == protoreflect.Repeated {
			goType = goType.Elem()
		}
		fi.child = infoOf(goType)
		if fi.child != nil && fi.child.kind == kindChoice && fi.child.oneofDesc != nil {
			opts := fi.child.oneofDesc.Fields()
			fi.choices, fi.unders = make([]string, opts.Len()), make([]string, opts.Len())
			for i := range opts.Len() {
				fi.choices[i] = choiceName(fd, opts.Get(i))
				fi.unders[i] = "_" + fi.choices[i]
			}
		}
	})
	return fi
}

var types sync.Map // reflect.Type (*Message) -> *typeInfo

// infoOf is the classification of a generated message type (*Message),
// nil if goType is not one.
func infoOf(goType reflect.Type) *typeInfo {
	if t, ok := types.Load(goType); ok {
		return t.(*typeInfo)
	}
	if goType.Kind() != reflect.Pointer || goType.Elem().Kind() != reflect.Struct {
		return nil
	}
	m, ok := reflect.New(goType.Elem()).Interface().(proto.Message)
	if !ok {
		return nil
	}
	t := classify(m.ProtoReflect().Descriptor())
	t.layout(m, goType.Elem())
	actual, _ := types.LoadOrStore(goType, t)
	return actual.(*typeInfo)
}

// classify says what a message type is in FHIR, from its annotations.
func classify(d protoreflect.MessageDescriptor) *typeInfo {
	t := &typeInfo{name: string(d.Name()), valueF: -1, idF: -1, extF: -1, usF: -1, tzF: -1, precF: -1, urlF: -1, urlValueF: -1, oneofF: -1}
	kind := proto.GetExtension(d.Options(), apb.E_StructureDefinitionKind).(apb.StructureDefinitionKindValue)
	switch {
	case kind == apb.StructureDefinitionKindValue_KIND_PRIMITIVE_TYPE:
		t.kind = kindPrimitive
		if v := d.Fields().ByName("value"); v != nil {
			t.valueKind = v.Kind()
			if v.Kind() == protoreflect.EnumKind {
				t.codes = enumCodes(v.Enum())
			}
		}
		t.prim = primitiveOf(d, t.valueKind)
		if p := d.Fields().ByName("precision"); p != nil && p.Kind() == protoreflect.EnumKind {
			t.precisions = map[int64]string{}
			values := p.Enum().Values()
			for i := range values.Len() {
				t.precisions[int64(values.Get(i).Number())] = string(values.Get(i).Name())
			}
		}
		t.isTime = d.Name() == "Time"
	case proto.GetExtension(d.Options(), apb.E_IsChoiceType).(bool):
		t.kind = kindChoice
		if d.Oneofs().Len() == 1 {
			t.oneofDesc = d.Oneofs().Get(0)
		}
	case proto.HasExtension(d.Options(), apb.E_FhirReferenceType):
		t.kind = kindReference
		t.oneofDesc = d.Oneofs().ByName("reference")
	case d.Name() == "ContainedResource":
		t.kind = kindContained
		t.oneofDesc = d.Oneofs().ByName("oneof_resource")
	}
	t.resource = kind == apb.StructureDefinitionKindValue_KIND_RESOURCE
	return t
}

// primitiveOf is how a primitive type's value is written.
func primitiveOf(d protoreflect.MessageDescriptor, value protoreflect.Kind) primitiveKind {
	switch d.Name() {
	case "Base64Binary":
		return primBase64
	case "Canonical", "Code", "Markdown", "Oid", "String", "Uri", "Url", "Uuid", "Xhtml", "ReferenceId", "Id":
		return primString
	case "Boolean":
		return primBool
	case "Integer":
		return primInt
	case "PositiveInt", "UnsignedInt":
		return primUint
	case "Decimal":
		return primDecimal
	case "Date", "DateTime", "Instant", "Time":
		return primTime
	}
	if proto.HasExtension(d.Options(), apb.E_FhirValuesetUrl) && (value == protoreflect.StringKind || value == protoreflect.EnumKind) {
		return primCode
	}
	return primUnknown
}

// enumCodes spells each value of a code enum as FHIR does.
func enumCodes(e protoreflect.EnumDescriptor) map[int64]string {
	codes := map[int64]string{}
	values := e.Values()
	for i := range values.Len() {
		ev := values.Get(i)
		code := proto.GetExtension(ev.Options(), apb.E_FhirOriginalCode).(string)
		if code == "" {
			code = strings.ReplaceAll(strings.ToLower(string(ev.Name())), "_", "-")
		}
		codes[int64(ev.Number())] = code
	}
	return codes
}

// layout finds each proto field's Go struct field (by the field number in
// its protobuf tag) and, for a oneof, the wrapper struct of each option
// (by setting it on a scratch message and looking at what it holds).
func (t *typeInfo) layout(m proto.Message, st reflect.Type) {
	d := m.ProtoReflect().Descriptor()
	for i := range st.NumField() {
		sf := st.Field(i)
		if name, ok := sf.Tag.Lookup("protobuf_oneof"); ok {
			od := d.Oneofs().ByName(protoreflect.Name(name))
			if od == nil {
				continue
			}
			o := oneofOptions(st, i, od)
			t.fields = append(t.fields, goField{index: i, offset: sf.Offset, shape: shapeOf(sf.Type.Kind()), oneof: o})
			if od == t.oneofDesc {
				t.oneof, t.oneofF = o, i
			}
			continue
		}
		tag, ok := sf.Tag.Lookup("protobuf")
		if !ok {
			continue
		}
		fd := d.Fields().ByNumber(fieldNumber(tag))
		if fd == nil {
			continue
		}
		t.fields = append(t.fields, goField{index: i, offset: sf.Offset, shape: shapeOf(sf.Type.Kind()), fd: fd})
		switch fd.Name() {
		case "value":
			t.valueF = i
		case "id":
			t.idF = i
		case "extension":
			t.extF = i
		case "value_us":
			t.usF = i
		case "timezone":
			t.tzF = i
		case "precision":
			t.precF = i
		case "url":
			if fd.Message() != nil && fd.Cardinality() != protoreflect.Repeated {
				if u := infoOf(sf.Type); u != nil && u.kind == kindPrimitive && u.valueKind == protoreflect.StringKind {
					t.urlF, t.urlValueF = i, u.valueF
				}
			}
		}
	}
	if t.kind != kindPrimitive { // only a primitive's own parts are read by name
		t.valueF, t.idF, t.extF = -1, -1, -1
	}
	// Every proto field must have been found in the struct, as a field of
	// its own or an option of a oneof; a struct laid out some other way is
	// left to jsonformat rather than written without a field.
	found := 0
	for i := range t.fields {
		if o := t.fields[i].oneof; o != nil {
			found += len(o.options)
		} else {
			found++
		}
	}
	t.incomplete = found != d.Fields().Len()
}

// fieldNumber reads the number from a protobuf struct tag
// ("bytes,3,rep,name=extension,proto3").
func fieldNumber(tag string) protoreflect.FieldNumber {
	parts := strings.Split(tag, ",")
	if len(parts) < 2 {
		return 0
	}
	n, _ := strconv.Atoi(parts[1])
	return protoreflect.FieldNumber(n)
}

// oneofOptions finds the wrapper type of each of od's options in the
// struct st, whose field goField holds the oneof.
func oneofOptions(st reflect.Type, goField int, od protoreflect.OneofDescriptor) *oneofInfo {
	o := &oneofInfo{options: map[reflect.Type]*oneofOption{}}
	opts := od.Fields()
	for i := range opts.Len() {
		fd := opts.Get(i)
		scratch := reflect.New(st)
		pm := scratch.Interface().(proto.Message).ProtoReflect()
		pm.Set(fd, pm.NewField(fd))
		wrapper := scratch.Elem().Field(goField)
		if wrapper.IsNil() {
			continue
		}
		w := wrapper.Elem()
		o.options[w.Type()] = &oneofOption{index: i, fd: fd, goTyp: w.Elem().Field(0).Type()}
	}
	return o
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
