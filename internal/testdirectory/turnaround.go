package testdirectory

import (
	_ "embed"
	"encoding/csv"
	"fmt"
	"strconv"
	"strings"
)

// Turnaround targets. NHS England's genomic test reporting-time
// guidelines put every test in one of seven categories, by test type and
// urgency: 3, 5, 7, 14, 21, 42 or 84 calendar days from sample receipt to
// report (turnaround.csv, as the Genomic Laboratory Hubs publish them,
// e.g. East GLH's and North West GLH's quality pages, for samples received
// from 1 October 2018). The Test Directory's spreadsheets carry no
// turnaround column, and one code can fall in two categories (a predictive
// PCR test is 14 days, a known-familial-variant test 42), so which category
// a code gets is the lab's decision: a GLH sets it per code in the
// configuration (turnaroundTargets). Without one, a rare-disease code
// counts against "Standard rare disease" (42) and a cancer code against
// "Standard somatic cancer" (21).
//
// TurnaroundVersion names the guideline this copy follows.
const TurnaroundVersion = "NHS England genomic test reporting-time guidelines (categories as published by GLHs, 2018 onwards)"

//go:embed turnaround.csv
var turnaroundData string

// Category is one of NHS England's turnaround categories.
type Category struct {
	Days     int
	Name     string
	Examples string
}

// Categories lists the categories, shortest first.
func Categories() []Category {
	rows, err := csv.NewReader(strings.NewReader(turnaroundData)).ReadAll()
	if err != nil {
		panic("turnaround.csv: " + err.Error()) // embedded: a test reads it
	}
	var out []Category
	for _, r := range rows[1:] {
		days, _ := strconv.Atoi(r[0])
		out = append(out, Category{Days: days, Name: r[1], Examples: r[2]})
	}
	return out
}

// Targets gives each test code its turnaround category.
type Targets struct {
	dir       *Directory
	overrides map[string]int // code or clinical indication -> days
	byDays    map[int]Category
}

// NewTargets checks overrides (code -> days) name real categories.
func NewTargets(dir *Directory, overrides map[string]int) (*Targets, error) {
	t := &Targets{dir: dir, overrides: overrides, byDays: map[int]Category{}}
	for _, c := range Categories() {
		t.byDays[c.Days] = c
	}
	var bad []string
	for code, days := range overrides {
		if _, ok := t.byDays[days]; !ok {
			bad = append(bad, fmt.Sprintf("%s: %d days is not a category (3, 5, 7, 14, 21, 42 or 84)", code, days))
		}
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("turnaroundTargets: %s", strings.Join(bad, "; "))
	}
	return t, nil
}

// Target returns the code's category and where it came from ("configured"
// or "default for rare disease"/"default for cancer"); ok is false for a
// code that is neither configured nor recognisably R or M.
func (t *Targets) Target(code string) (c Category, basis string, ok bool) {
	indication, _, _ := strings.Cut(code, ".")
	for _, k := range []string{code, indication} {
		if days, found := t.overrides[k]; found {
			return t.byDays[days], "configured", true
		}
	}
	kind := ""
	if e, found := t.dir.entries[code]; found {
		kind = e.Kind
	} else if e, found := t.dir.entries[indication]; found {
		kind = e.Kind
	} else if strings.HasPrefix(code, "R") {
		kind = "rare"
	} else if strings.HasPrefix(code, "M") {
		kind = "cancer"
	}
	switch kind {
	case "rare":
		return t.byDays[42], "default for rare disease", true
	case "cancer":
		return t.byDays[21], "default for cancer", true
	}
	return Category{}, "", false
}
