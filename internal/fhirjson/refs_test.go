package fhirjson

import (
	"encoding/json"
	"testing"
)

func TestRewriteReferences(t *testing.T) {
	var res map[string]any
	json.Unmarshal([]byte(`{"subject":{"reference":"urn:uuid:1"},"result":[{"reference":"urn:uuid:2"},{"reference":"Observation/keep"}],
		"note":[{"text":"urn:uuid:1"}],"contained":[{"performer":[{"reference":"urn:uuid:1"}]}]}`), &res)
	RewriteReferences(res, map[string]string{"urn:uuid:1": "Patient/a", "urn:uuid:2": "Observation/b"})
	got, _ := json.Marshal(res)
	want := `{"contained":[{"performer":[{"reference":"Patient/a"}]}],"note":[{"text":"urn:uuid:1"}],"result":[{"reference":"Observation/b"},{"reference":"Observation/keep"}],"subject":{"reference":"Patient/a"}}`
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}
