package gateway

import (
	"fmt"
	"reflect"
	"strings"
)

// WalkStrings calls fn for every non-empty string in v (a report or part of
// one) with its JSON path, e.g. "variants[0].hgvs.c". Byte slices (document
// data) are not strings and are skipped; so are fields not in the JSON form.
func WalkStrings(v any, fn func(path, s string)) {
	walk(reflect.ValueOf(v), "", fn)
}

func walk(v reflect.Value, path string, fn func(path, s string)) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			walk(v.Elem(), path, fn)
		}
	case reflect.String:
		if s := v.String(); s != "" {
			fn(path, s)
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return
		}
		for i := 0; i < v.Len(); i++ {
			walk(v.Index(i), fmt.Sprintf("%s[%d]", path, i), fn)
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
			walk(v.Field(i), child, fn)
		}
	}
}
