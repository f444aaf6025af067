// Package labjson decodes the gateway's native JSON lab report (schema
// version 1, docs/lab-report.schema.json) into a gateway.Report and validates it.
package labjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"

	"github.com/nhs-genomics/results-gateway/gateway"
)

// Decode parses and validates a native JSON report. It returns a
// *gateway.Error: EMALFORMED when body is not JSON, EINVALID with every
// problem located when it is JSON that breaks the schema or the rules.
func Decode(body []byte) (*gateway.Report, error) {
	// One decoding pass over the body; the unknown-key walk then reads the
	// bytes without unquoting a single value (see keys.go).
	var r gateway.Report
	err := decodeLifted(body, &r)
	var te *json.UnmarshalTypeError
	if err != nil && !errors.As(err, &te) {
		return nil, malformed(body, err)
	}
	if trimmed := bytes.TrimLeft(body, " \t\r\n"); len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, &gateway.Error{Code: gateway.EINVALID, Message: "the report is not valid",
			Problems: []gateway.Problem{{Path: "$", Message: "must be a JSON object"}}}
	}
	problems := unknownKeys(body, reflect.TypeOf(gateway.Report{}))
	typeProblemAt := map[string]bool{}
	if te != nil {
		// encoding/json reports only the first type error but still fills the rest.
		problems = append(problems, gateway.Problem{Path: te.Field, Message: fmt.Sprintf("must be a JSON %s, not %s", jsonKind(te.Type), te.Value)})
		typeProblemAt[te.Field] = true
	}
	for _, p := range gateway.Validate(&r) {
		if !typeProblemAt[p.Path] {
			problems = append(problems, p)
		}
	}
	if len(problems) > 0 {
		return nil, &gateway.Error{Code: gateway.EINVALID, Message: "the report is not valid", Problems: problems}
	}
	if r.Previous != nil && r.Previous.Relation == "" {
		r.Previous.Relation = "reinterpretation" // the schema's default
	}
	if r.Patient.MRN != "" && r.Patient.MRNAuthority == "" {
		r.Patient.MRNAuthority = r.OrderingTrust.ODSCode // the schema's default: the ordering trust's own MRN
	}
	return &r, nil
}

// decodeLifted is json.Unmarshal(body, r) with the lab's PDF decoded
// directly (see liftPDFData). Any error comes from decoding the body as it
// is, so its messages and offsets are encoding/json's own.
func decodeLifted(body []byte, r *gateway.Report) error {
	lifted, pdf, ok := liftPDFData(body)
	if !ok {
		return json.Unmarshal(body, r)
	}
	if err := json.Unmarshal(lifted, r); err != nil || r.PDF == nil {
		*r = gateway.Report{}
		return json.Unmarshal(body, r)
	}
	r.PDF.Data, r.PDF.Encoded, r.PDF.DataAt = pdf.data, pdf.encoded, pdf.at
	return nil
}

func malformed(body []byte, err error) error {
	msg := err.Error()
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line, col := position(body, se.Offset)
		msg = fmt.Sprintf("%s at line %d, column %d", se.Error(), line, col)
	}
	return &gateway.Error{Code: gateway.EMALFORMED, Message: "the body is not valid JSON",
		Problems: []gateway.Problem{{Path: "$", Message: msg}}}
}

func position(body []byte, offset int64) (line, col int) {
	if offset > int64(len(body)) {
		offset = int64(len(body))
	}
	before := body[:offset]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(offset) - (bytes.LastIndexByte(before, '\n') + 1)
	return line, col
}

var fieldsOf sync.Map // reflect.Type -> map[string]reflect.Type

// jsonFields maps each JSON name of struct type t to its field's type
// (read-only: it is shared).
func jsonFields(t reflect.Type) map[string]reflect.Type {
	if f, ok := fieldsOf.Load(t); ok {
		return f.(map[string]reflect.Type)
	}
	fields := make(map[string]reflect.Type, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		fields[name] = f.Type
	}
	fieldsOf.Store(t, fields)
	return fields
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Int, reflect.Int64, reflect.Float64:
		return "number"
	case reflect.Bool:
		return "boolean"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return "base64 string"
		}
		return "array"
	default:
		return "object"
	}
}
