package gateway

import (
	"reflect"
	"testing"
)

func TestWalkValues(t *testing.T) {
	cn, frac := 0, 0.45
	r := &Report{ID: "R1", Version: 2, Variants: []Variant{{Start: 100, CopyNumber: &cn, HeteroplasmyFraction: &frac}}, Unstructured: true,
		PDF: &Attachment{Title: "report", Data: []byte("%PDF-")}}
	got := map[string]string{}
	WalkValues(r, func(path, v string) { got[path] = v })
	want := map[string]string{
		"id": "R1", "version": "2", "variants[0].start": "100", "variants[0].copyNumber": "0", // a number set through a pointer counts, even 0
		"variants[0].heteroplasmyFraction": "0.45", "unstructured": "true", "pdf.title": "report",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("WalkValues = %v, want %v", got, want)
	}
	strs := map[string]string{}
	WalkStrings(r, func(path, v string) { strs[path] = v })
	if len(strs) != 2 || strs["id"] != "R1" || strs["pdf.title"] != "report" {
		t.Fatalf("WalkStrings = %v: only strings, no document bytes", strs)
	}
}
