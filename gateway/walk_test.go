package gateway

import (
	"reflect"
	"slices"
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

// AnyString visits the strings WalkStrings visits, no more and no fewer.
func TestAnyStringSeesWhatWalkStringsSees(t *testing.T) {
	r := &Report{ID: "R1", Patient: Patient{Name: Name{Family: "Zoë"}}, Variants: []Variant{{Gene: Gene{Symbol: "BRCA1"}}}, PDF: &Attachment{Data: []byte("BRCA2")}}
	var seen []string
	WalkStrings(r, func(_, s string) { seen = append(seen, s) })
	for _, s := range append(seen, "BRCA2", "absent") {
		want := slices.Contains(seen, s)
		if got := AnyString(r, func(v string) bool { return v == s }); got != want {
			t.Errorf("AnyString for %q: %v, WalkStrings saw it: %v", s, got, want)
		}
	}
	if len(seen) < 3 {
		t.Fatalf("the walk saw only %v", seen)
	}
}
