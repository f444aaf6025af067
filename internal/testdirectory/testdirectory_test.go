package testdirectory

import (
	"fmt"
	"testing"
)

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
		"R442":  "Variant Re-interpretation", // NHS England's example orders (README, Lineage)
		"R387":  "Re-analysis",
	} {
		if got, ok := d.Lookup(code); !ok || got != want {
			t.Errorf("%s: %q %v, want %q", code, got, ok, want)
		}
	}
	if _, ok := d.Lookup("R999.9"); ok {
		t.Error("R999.9 is not in the directory")
	}
}

func TestTurnaroundTargets(t *testing.T) {
	d, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	var days []int
	for _, c := range Categories() {
		days = append(days, c.Days)
	}
	if fmt.Sprint(days) != "[3 5 7 14 21 42 84]" {
		t.Fatalf("categories: %v", days)
	}
	if _, err := NewTargets(d, map[string]int{"R14.1": 10}); err == nil {
		t.Fatal("10 days is not a category")
	}
	targets, err := NewTargets(d, map[string]int{"R14": 14, "R240.1": 21})
	if err != nil {
		t.Fatal(err)
	}
	for code, want := range map[string]string{"R14.1": "14 configured", "R240.1": "21 configured", "R240": "42 default for rare disease",
		"M4": "21 default for cancer", "R999.9": "42 default for rare disease"} {
		c, basis, ok := targets.Target(code)
		if got := fmt.Sprint(c.Days, " ", basis); !ok || got != want {
			t.Errorf("%s: %s (%v), want %s", code, got, ok, want)
		}
	}
	if _, _, ok := targets.Target("X1"); ok {
		t.Error("X1 is neither rare disease nor cancer")
	}
}
