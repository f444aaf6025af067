package gateway

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
)

// WalkStrings calls fn for every non-empty string in v (a report or part of
// one) with its JSON path, e.g. "variants[0].hgvs.c". Byte slices (document
// data) are not strings and are skipped; so are fields not in the JSON form.
func WalkStrings(v any, fn func(path, s string)) {
	walk(reflect.ValueOf(v), "", false, fn)
}

// AnyString reports whether any string WalkStrings would visit in v
// satisfies match. It builds no paths, so a check that almost never finds
// anything costs a walk and nothing more; WalkStrings then says where.
func AnyString(v any, match func(s string) bool) bool {
	return anyString(reflect.ValueOf(v), match)
}

func anyString(v reflect.Value, match func(string) bool) bool {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return false
		}
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.String:
		return match(v.String())
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return false
		}
		for i := 0; i < v.Len(); i++ {
			if anyString(v.Index(i), match) {
				return true
			}
		}
	case reflect.Struct:
		for _, f := range jsonFieldsOf(v.Type()) {
			if anyString(v.Field(f.index), match) {
				return true
			}
		}
	}
	return false
}

var jsonFields sync.Map // reflect.Type -> []jsonField

// jsonField is a struct field WalkStrings visits: its index and JSON name.
type jsonField struct {
	index int
	name  string
}

// jsonFieldsOf are the fields of struct type t that WalkStrings visits.
func jsonFieldsOf(t reflect.Type) []jsonField {
	if f, ok := jsonFields.Load(t); ok {
		return f.([]jsonField)
	}
	var fields []jsonField
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" && t.Field(i).IsExported() {
			fields = append(fields, jsonField{i, name})
		}
	}
	jsonFields.Store(t, fields)
	return fields
}

// WalkValues is WalkStrings that also visits numbers (non-zero, or set
// through a pointer) and true booleans, formatted as Go writes them: every
// fact a report holds, for checks that each reaches every output.
func WalkValues(v any, fn func(path, value string)) {
	walk(reflect.ValueOf(v), "", true, fn)
}

func walk(v reflect.Value, path string, all bool, fn func(path, s string)) {
	pointed := false
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return
		}
		v, pointed = v.Elem(), true
	}
	switch v.Kind() {
	case reflect.String:
		if s := v.String(); s != "" {
			fn(path, s)
		}
	case reflect.Int, reflect.Int64:
		if all && (v.Int() != 0 || pointed) {
			fn(path, strconv.FormatInt(v.Int(), 10))
		}
	case reflect.Float64:
		if all && (v.Float() != 0 || pointed) {
			fn(path, strconv.FormatFloat(v.Float(), 'g', -1, 64))
		}
	case reflect.Bool:
		if all && v.Bool() {
			fn(path, "true")
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return
		}
		for i := 0; i < v.Len(); i++ {
			walk(v.Index(i), fmt.Sprintf("%s[%d]", path, i), all, fn)
		}
	case reflect.Struct:
		for _, f := range jsonFieldsOf(v.Type()) {
			child := f.name
			if path != "" {
				child = path + "." + f.name
			}
			walk(v.Field(f.index), child, all, fn)
		}
	}
}
