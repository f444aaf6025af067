package gateway

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// WalkStrings calls fn for every non-empty string in v (a report or part of
// one) with its JSON path, e.g. "variants[0].hgvs.c". Byte slices (document
// data) are not strings and are skipped; so are fields not in the JSON form.
func WalkStrings(v any, fn func(path, s string)) {
	walk(reflect.ValueOf(v), "", false, fn)
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
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
			if name == "" || name == "-" || !t.Field(i).IsExported() {
				continue
			}
			child := name
			if path != "" {
				child = path + "." + name
			}
			walk(v.Field(i), child, all, fn)
		}
	}
}
