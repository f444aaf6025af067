package labjson

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/nhs-genomics/results-gateway/fixtures"
	"github.com/nhs-genomics/results-gateway/gateway"
)

// unknownFields is the reference for unknownKeys: it reports every member of the JSON tree that the report schema
// does not define: a misspelt field must not pass as an absent one.
func unknownFields(path string, node any, t reflect.Type, problems *[]gateway.Problem) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch n := node.(type) {
	case map[string]any:
		if t.Kind() != reflect.Struct {
			return
		}
		fields := jsonFields(t)
		keys := make([]string, 0, len(n))
		for k := range n {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			child := join(path, k)
			ft, ok := fields[k]
			if !ok {
				*problems = append(*problems, gateway.Problem{Path: child, Message: "is not a field of the lab report schema"})
				continue
			}
			unknownFields(child, n[k], ft, problems)
		}
	case []any:
		if t.Kind() != reflect.Slice || t.Elem().Kind() == reflect.Uint8 {
			return
		}
		for i, item := range n {
			unknownFields(fmt.Sprintf("%s[%d]", path, i), item, t.Elem(), problems)
		}
	}
}

// TestUnknownKeysAsFromATree: the byte walk finds exactly the problems the
// decoded-tree walk finds, on every fixture (valid and invalid) and on
// fixtures with keys renamed, added, repeated and escaped at random.
func TestUnknownKeysAsFromATree(t *testing.T) {
	var bodies [][]byte
	for _, f := range fixtures.Reports() {
		bodies = append(bodies, f.Body)
	}
	for _, f := range fixtures.Invalid() {
		bodies = append(bodies, f.Body)
	}
	rng := rand.New(rand.NewPCG(1, 9))
	base := len(bodies)
	for i := range 300 {
		b := string(bodies[i%base])
		for range rng.IntN(4) + 1 {
			switch rng.IntN(5) {
			case 0:
				b = strings.Replace(b, `"name"`, `"nmae"`, 1)
			case 1:
				b = strings.Replace(b, `{`, `{"extra\u0041": [1, {"x": "a\"b"}], `, 1)
			case 2:
				b = strings.Replace(b, `"code"`, `"Code"`, 1)
			case 3:
				b = strings.Replace(b, `"id": `, `"id": "dup", "id": `, 1)
			case 4: // a repeated key whose first value has problems: the decoder keeps the second
				b = strings.Replace(b, `"patient": `, `"patient": {"bogus": [{"x": 1}]}, "patient": `, 1)
			}
		}
		bodies = append(bodies, []byte(b))
	}
	compared := 0
	for i, body := range bodies {
		var tree any
		if json.Unmarshal(body, &tree) != nil {
			continue
		}
		if _, ok := tree.(map[string]any); !ok {
			continue
		}
		var want []gateway.Problem
		unknownFields("", tree, reflect.TypeOf(gateway.Report{}), &want)
		got := unknownKeys(body, reflect.TypeOf(gateway.Report{}))
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("body %d:\n got %v\nwant %v", i, got, want)
		}
		compared++
	}
	if compared < 300 {
		t.Fatalf("only %d bodies compared", compared)
	}
}
