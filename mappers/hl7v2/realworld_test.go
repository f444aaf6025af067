package hl7v2_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nhs-genomics/results-gateway/fixtures"
	"github.com/nhs-genomics/results-gateway/gateway"
	"github.com/nhs-genomics/results-gateway/hl7"
	"github.com/nhs-genomics/results-gateway/internal/peers"
	"github.com/nhs-genomics/results-gateway/mappers/fhirr4"
	"github.com/nhs-genomics/results-gateway/mappers/hl7v2"
)

// ukSender is how a North West GLH sender would be configured: iGene
// writes MSH-6 "MFT" for Manchester University NHS FT (ODS R0A).
var ukSender = hl7v2.SenderOptions{FacilityAliases: map[string]string{"MFT": "R0A"}}

type decodedMessage struct {
	d       *hl7v2.Decoded
	refuse  []gateway.Problem
	bundle  string
	haystak string // every string in the Bundle and the unmapped list, whitespace collapsed
}

// decodeAndMap reads a message as the gateway does and maps it to FHIR.
func decodeAndMap(t *testing.T, raw []byte, o hl7v2.SenderOptions) decodedMessage {
	t.Helper()
	raw, _ = hl7v2.ToUTF8(raw)
	m, err := hl7.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	d, err := hl7v2.Decode(m, "699X0", o)
	if err != nil {
		t.Fatal(err)
	}
	refuse, _ := gateway.ValidateLenient(d.Report)
	out := decodedMessage{d: d, refuse: refuse}
	if !d.Report.Patient.Identified() {
		return out // refused: nothing is mapped
	}
	if d.Report.Version == 0 {
		d.Report.Version = 1
	}
	pdf := []byte("%PDF-1.4 gateway rendering stand-in")
	if d.Report.PDF != nil {
		pdf = d.Report.PDF.Data
	}
	mapper, _ := fhirr4.New("")
	b, _, err := mapper.EncodeBundle(d.Report, pdf)
	if err != nil {
		t.Fatal(err)
	}
	out.bundle = string(b)
	var tree any
	json.Unmarshal(b, &tree)
	var sb strings.Builder
	collectStrings(tree, &sb)
	for _, u := range d.Unmapped {
		sb.WriteString(" " + u.Location + " " + u.Code + " " + u.Text)
	}
	out.haystak = collapse(sb.String())
	return out
}

func collectStrings(v any, sb *strings.Builder) {
	switch x := v.(type) {
	case map[string]any:
		for _, c := range x {
			collectStrings(c, sb)
		}
	case []any:
		for _, c := range x {
			collectStrings(c, sb)
		}
	case string:
		sb.WriteString(" " + x)
	case float64:
		b, _ := json.Marshal(x)
		sb.WriteString(" " + string(b))
	}
}

func collapse(s string) string { return strings.Join(strings.Fields(s), " ") }

// TestRealWorldUKMessages: each real-world-shaped UK message from the North
// West GMSA (iGene → Epic, Shire cytogenetics, a Welsh pathology lab, ctDNA,
// Histotrac) is filed, its facts found in the FHIR Bundle, or refused only
// for want of a patient identity, with the ERR location.
func TestRealWorldUKMessages(t *testing.T) {
	dir := filepath.Join(peers.DataDir(t), "hl7v2", "nw-gmsa")
	cases := []struct {
		file  string
		facts []string // must appear in the Bundle
		pdf   string   // "report": the lab's PDF is the presentedForm; "incomplete": it was cut short (kept, flagged)
		kind  string
	}{
		{"spec-MFT-ORU_R01_PDF.txt", []string{"https://fhir.nhs.uk/Id/nhs-number", "9449305552", "R240.1", "633", "R0A", "C3456789", "KT19 0ST"}, "", ""},
		{"spec-NWGMSA-ORU_R01_PDF.txt", []string{"9449305552", "R240.1", "SANGER", "Targeted mutation testing", "R0A", "Fraser Suttie"}, "incomplete", ""},
		{"testing-LRI-GeneVariant-1.txt", []string{"9737383281", "ABC14567", "GALT", "NM_000155.3:c.563A>G", "p.Gln188Arg",
			"NC_000009.11:g.34648167A>G", "rs75391579", "LA6668-3", "LA6706-1", "LA6683-2", "C0016952", "Patient may be carrier", "9p13", "HGNC:4135"}, "", ""},
		{"testing-ORU_R01_PDF.txt", []string{"9449305552", "R240.1", "RESULT CONSISTENT WITH REFERRAL INDICATION", "R0A"}, "incomplete", ""},
		{"testing-ORU_R01_R125.1_R0A.txt", []string{"9737383192", "R125.1", "1234567", "Thoracic aortic aneurysm", "Jonathan Edgerley"}, "report", ""},
		{"testing-Shire-1.txt", []string{"9737383192", "46,XY,del(20)(q*q*)[]", "consistent with the diagnosis of MDS"}, "", ""},
		{"testing-WALES_ORU_R01_FULL.txt", []string{"9737383257", "403281375", "mmol/mol", "10*9/L", "x10^9/L", "3.5", "6.00", "149",
			"130-180", "not-performed", "Not assayed", "NICE guidelines", "http://documents.example.com/document123.pdf", "rwtu"}, "", gateway.KindLaboratory},
		{"testing-ctdna9737383222.txt", []string{"9737383222", "M4.14", "LA9664-9", "RXR0817610", "RR8"}, "report", ""},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(dir, c.file))
			if err != nil {
				t.Fatal(err)
			}
			got := decodeAndMap(t, raw, ukSender)
			for _, p := range got.refuse {
				if !strings.Contains(p.Message, "nothing to file") || !got.d.Carried {
					t.Errorf("refused: %s %s", p.Path, p.Message)
				}
			}
			for _, f := range c.facts {
				if !strings.Contains(got.haystak, f) {
					t.Errorf("fact %q is neither in the Bundle nor listed as unmapped", f)
				}
			}
			r := got.d.Report
			switch c.pdf {
			case "report":
				if r.PDF == nil || !bytes.HasPrefix(r.PDF.Data, []byte("%PDF-")) || !strings.Contains(got.bundle, `"data":"JVBERi0`) {
					t.Error("the lab's PDF is not the presentedForm")
				}
			case "incomplete": // these samples' PDFs are cut short: kept and flagged, never shown as the report
				if r.PDF != nil || len(r.Attachments) != 1 || !strings.Contains(r.Attachments[0].Title, "incomplete") ||
					!hasWarning(got.d.Warnings, "pdf", "incomplete") || !strings.Contains(got.bundle, `"data":"JVBERi0`) {
					t.Errorf("an incomplete PDF: report PDF %v, attachments %d, warnings %v", r.PDF != nil, len(r.Attachments), got.d.Warnings)
				}
			}
			if k := got.d.Report.Kind; k != c.kind {
				t.Errorf("kind %q, want %q", k, c.kind)
			}
		})
	}

	t.Run("a LOINC test code is LOINC's, and said to be no directory code", func(t *testing.T) {
		raw, _ := os.ReadFile(filepath.Join(dir, "testing-LRI-GeneVariant-1.txt"))
		got := decodeAndMap(t, raw, ukSender)
		if !strings.Contains(got.bundle, `{"code":"42318-6","display":"GALT gene targeted mutation analysis","system":"http://loinc.org"}`) ||
			strings.Contains(got.bundle, "local-code/699X0/LN") {
			t.Error("OBR-4's LOINC code is not coded in LOINC")
		}
		_, lenient := gateway.ValidateLenient(got.d.Report)
		// The sample's variant names GALT 3614 (HGNC-Symb), where its gene studied is GALT HGNC:4135.
		if !hasWarning(lenient, "variants[0].gene.hgncId", "HGNC:4135") {
			t.Errorf("no warning that the variant's GALT id disagrees with the gene studied: %v", lenient)
		}
		if hasWarning(append(got.d.Warnings, lenient...), "test.name", "") || !hasWarning(got.d.Warnings, "test.code", "42318-6 in LN") {
			t.Errorf("warnings %v %v: want test.code's to name the LOINC code, and none that the name is missing", got.d.Warnings, lenient)
		}
	})

	t.Run("an EPR's placer order number is not a GMS order number", func(t *testing.T) {
		raw, _ := os.ReadFile(filepath.Join(dir, "testing-LRI-GeneVariant-1.txt"))
		got := decodeAndMap(t, raw, ukSender)
		if strings.Contains(got.bundle, "GMSOrder") || !strings.Contains(got.bundle, `"value":"R0A-LRI-1601716017"`) {
			t.Error("ORC-2's Epic order number LRI-1601716017 is written as NHS England's GMSOrder, or not as the order's own identifier")
		}
		// A sender whose LIMS writes GMS order numbers there says so.
		gms := ukSender
		gms.GMSOrderNumbers = true
		got = decodeAndMap(t, raw, gms)
		if !strings.Contains(got.bundle, `{"system":"https://fhir.nhs.uk/Id/GMSOrder","value":"LRI-1601716017"}`) {
			t.Error("with gmsOrderNumbers the placer number is not a GMSOrder identifier")
		}
		// As does the order's EI naming NHS England's system (EI-3), as the gateway's own ORUs do.
		named := strings.Replace(string(raw), "|LRI-1601716017|", "|LRI-1601716017^^https://fhir.nhs.uk/Id/GMSOrder^URI|", 1)
		if got = decodeAndMap(t, []byte(named), ukSender); !strings.Contains(got.bundle, `{"system":"https://fhir.nhs.uk/Id/GMSOrder","value":"LRI-1601716017"}`) {
			t.Error("an EI naming the GMSOrder system is not read as a GMS order number")
		}
	})

	t.Run("histotrac: an MRN without its assigning authority identifies no patient", func(t *testing.T) {
		raw, _ := os.ReadFile(filepath.Join(dir, "testing-histotrac.txt"))
		got := decodeAndMap(t, raw, hl7v2.SenderOptions{})
		if len(got.refuse) == 0 || !strings.Contains(got.refuse[0].Message, "does not identify the patient") {
			t.Fatalf("refusals %v", got.refuse)
		}
		if loc := got.d.Locate(got.refuse[0].Path); loc.Segment != "PID" || loc.Field != 3 {
			t.Fatalf("ERR at %v, want PID-3", loc)
		}
		// The sender setting that names the MRNs' authority makes it fileable.
		got = decodeAndMap(t, raw, hl7v2.SenderOptions{MRNAuthority: "RXX"})
		for _, p := range got.refuse {
			if strings.Contains(p.Message, "identify") {
				t.Fatalf("still refused with mrnAuthority set: %v", got.refuse)
			}
		}
	})
}

// TestRealWorldBundlesValidate runs the third-party validator (base R4 and
// the Genomics Reporting IG STU3 profiles, strict) over the Bundle of every
// public sample and synthetic message the gateway files.
func TestRealWorldBundlesValidate(t *testing.T) {
	dir := t.TempDir()
	var paths []string
	add := func(name string, raw []byte) {
		got := decodeAndMap(t, raw, ukSender)
		if got.bundle == "" {
			return // refused
		}
		path := filepath.Join(dir, name+".json")
		if err := os.WriteFile(path, peers.WithoutNHSEClaims([]byte(got.bundle)), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, path)
	}
	for _, s := range peers.HL7Samples(t) {
		add(strings.NewReplacer("/", "-", ".", "-").Replace(s.Name), s.Raw)
	}
	for _, f := range fixtures.HL7() {
		add("fixture-"+f.Name, f.Body)
	}
	if len(paths) < 20 {
		t.Fatalf("only %d Bundles", len(paths))
	}
	out, err := peers.Command(t, "validate-genomics", append([]string{"--strict"}, paths...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("validator rejected the Bundles: %v\n%s", err, out)
	}
}

// TestLaboratoryReportsNeedNoDirectoryCode: a blood count's local test code
// is no cause for a warning about the genomic test directory.
func TestLaboratoryReportsNeedNoDirectoryCode(t *testing.T) {
	d := decode(t, fixtures.HL7Message("pathology-fbc"))
	if d.Report.IsGenomic() {
		t.Fatal("the blood count is read as a genomic report")
	}
	if hasWarning(d.Warnings, "test.code", "") {
		t.Errorf("a laboratory report warned of its test code: %v", d.Warnings)
	}
}
