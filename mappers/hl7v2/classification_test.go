package hl7v2_test

import (
	"testing"

	"github.com/nhs-genomics/results-gateway/mappers/hl7v2"
)

// TestUKClassificationWordings: the ways UK labs write a variant's ACMG/ACGS
// class in OBX-5 of a 53037-8 row (from testers' messages), each read as
// the class it names; a wording that contradicts itself, or says more than
// a class, is not read (a warning, the row listed as unmapped).
func TestUKClassificationWordings(t *testing.T) {
	order := "OBR|1|ORD-1|REP-1|R208^Inherited breast and ovarian cancer^England-GenomicTestDirectory|||20260901|||||||||||||||20261104120000|||F"
	cases := []struct{ value, want string }{
		{"LA6668-3^Pathogenic^LN", "pathogenic"},
		{"^Likely Pathogenic^L", "likely-pathogenic"},
		{"^Class 5^L", "pathogenic"},
		{"^class 1^L", "benign"},
		{"^CLASS4^L", "likely-pathogenic"},
		{"^C2^L", "likely-benign"},
		{"C3", "uncertain-significance"},
		{"^P^L", "pathogenic"},
		{"^LP^L", "likely-pathogenic"},
		{"^VUS^L", "uncertain-significance"},
		{"^LB^L", "likely-benign"},
		{"^B^L", "benign"},
		{"^Pathogenic (Class 5)^L", "pathogenic"},
		{"^Pathogenic - Class 5^L", "pathogenic"},
		{"^Pathogenic (ACMG Class 5)^L", "pathogenic"},
		{"^Likely pathogenic (ACMG class 4)^L", "likely-pathogenic"},
		{"^Uncertain significance^L", "uncertain-significance"},
		{"^VUS (Class 3)^L", "uncertain-significance"},
		{"^ACGS Class 3 - variant of uncertain significance^L", "uncertain-significance"},
		{"^likely_pathogenic^L", "likely-pathogenic"},
		{"^Pathogenic variant^L", "pathogenic"},
		{"C3^Variant of uncertain significance^ACGS", "uncertain-significance"},
		{"P^Pathogenic^L", "pathogenic"},
		// Not read: a contradiction, a class the scheme does not have, or more than a class.
		{"^Likely pathogenic (Class 5)^L", ""},
		{"C5^Uncertain significance^ACGS", ""},
		{"^Class 3a^L", ""},
		{"^Class 6^L", ""},
		{"^Class 5 - provisional^L", ""},
		{"^Risk factor^L", ""},
	}
	for _, c := range cases {
		t.Run(c.value, func(t *testing.T) {
			d := decodeWith(t, msg("2.5.1", pid1286, order,
				"OBX|1|CWE|48018-6^Gene studied^LN|1|HGNC:1100^BRCA1^HGNC||||||F",
				"OBX|2|ST|48004-6^DNA change^LN|1|NM_007294.4:c.68_69del||||||F",
				"OBX|3|CWE|53037-8^Clinical significance^LN|1|"+c.value+"||||||F"), hl7v2.SenderOptions{})
			if len(d.Report.Variants) != 1 {
				t.Fatalf("variants %+v", d.Report.Variants)
			}
			got := d.Report.Variants[0].Classification.ACMG
			if got != c.want {
				t.Fatalf("classification %q, want %q", got, c.want)
			}
			warned, listed := hasWarning(d.Warnings, "variants[0].classification.acmg", ""), hasUnmapped(d.Unmapped, "OBX[3]-5")
			if c.want == "" && (!warned || !listed) || c.want != "" && warned {
				t.Errorf("warned %v, unmapped %v: want a warning and the row listed only when not read", warned, d.Unmapped)
			}
		})
	}
}
