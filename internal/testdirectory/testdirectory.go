// Package testdirectory is the gateway's copy of NHS England's National
// Genomic Test Directory: the codes of clinical indications (R14, M4) and
// their tests (R14.1) with their official names, in directory.csv.
//
// Source and version: compiled in December 2026 from the public NHS England
// National Genomic Test Directory for Rare and Inherited Disease and for
// Cancer, as quoted by the Genomic Laboratory Hubs' public pages and the NW
// GMSA test messages, and the re-interpretation (R442) and re-analysis
// (R387) codes of NHS England's genomics IG examples. It is a PARTIAL copy
// (the indications GLHs report most and the codes in the project's
// fixtures but R54.1, for which it has no source), not the whole directory, which
// NHS England publishes as spreadsheets. To update it, export the current
// spreadsheets' code and name columns as "code,name,kind" rows into
// directory.csv (kind is rare or cancer) and rebuild; set Version below.
// An unknown code is a warning on the report, never a rejection: the
// directory changes every year and this copy may lag.
package testdirectory

import (
	_ "embed"
	"encoding/csv"
	"fmt"
	"strings"
)

// Version names the directory release this copy follows.
const Version = "2024-25 (partial copy, compiled 2026-12)"

//go:embed directory.csv
var data string

// Entry is one directory code.
type Entry struct {
	Code string
	Name string
	Kind string // rare or cancer
}

// Directory looks codes up. The zero value is not usable: use Load.
type Directory struct {
	entries map[string]Entry
}

// Load reads the embedded directory.
func Load() (*Directory, error) {
	rows, err := csv.NewReader(strings.NewReader(data)).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("test directory: %w", err)
	}
	d := &Directory{entries: map[string]Entry{}}
	for i, row := range rows[1:] {
		if len(row) != 3 || row[0] == "" || row[1] == "" {
			return nil, fmt.Errorf("test directory: row %d is not code,name,kind", i+2)
		}
		d.entries[row[0]] = Entry{Code: row[0], Name: row[1], Kind: row[2]}
	}
	return d, nil
}

// Lookup returns the official name for a code: the test's own (R14.1), or
// else its clinical indication's (R14 for R14.7). ok is false for a code
// the directory does not have.
func (d *Directory) Lookup(code string) (name string, ok bool) {
	if e, found := d.entries[code]; found {
		return e.Name, true
	}
	indication, _, _ := strings.Cut(code, ".")
	if e, found := d.entries[indication]; found {
		return e.Name, true
	}
	return "", false
}

// Version names the release.
func (d *Directory) Version() string { return Version }

// Len is how many codes the copy holds.
func (d *Directory) Len() int { return len(d.entries) }
