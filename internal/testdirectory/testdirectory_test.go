package testdirectory

import "testing"

func TestLookup(t *testing.T) {
	d, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if d.Len() < 40 {
		t.Fatalf("only %d codes", d.Len())
	}
	for code, want := range map[string]string{
		"R14.1": "Acutely unwell children with a likely monogenic disorder (WGS)",
		"R14.7": "Acutely unwell children with a likely monogenic disorder", // a test the copy lacks: its indication
		"R240":  "Diagnostic testing for known variant(s)",
	} {
		if got, ok := d.Lookup(code); !ok || got != want {
			t.Errorf("%s: %q %v, want %q", code, got, ok, want)
		}
	}
	if _, ok := d.Lookup("R999.9"); ok {
		t.Error("R999.9 is not in the directory")
	}
}
