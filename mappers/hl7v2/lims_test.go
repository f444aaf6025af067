package hl7v2_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/nhs-genomics/results-gateway/gateway"
	"github.com/nhs-genomics/results-gateway/mappers/hl7v2"
)

// msg joins segment lines into a message. header is MSH and PID; the lines
// after it are the rest.
func msg(version string, pid string, lines ...string) string {
	return strings.Join(append([]string{
		"MSH|^~\\&|LIMS|699X0|EPR|R0A|20261105093000||ORU^R01|T-1|P|" + version,
		pid,
	}, lines...), "\r") + "\r"
}

const pid1286 = "PID|1||9990001286^^^NHS^NH||PATIENT^Test||19800101|F"

// TestWaysLIMSDiffer: each case is a way a real LIMS writes something,
// found by testing against new messages; each once went wrong.
func TestWaysLIMSDiffer(t *testing.T) {
	order := "OBR|1|ORD-1|REP-1|R208^Inherited breast and ovarian cancer^England-GenomicTestDirectory|||20260901|||||||||||||||20261104120000|||F"

	t.Run("variants without sub-IDs stay two variants", func(t *testing.T) {
		d := decodeWith(t, msg("2.5.1", pid1286, order,
			"OBX|1|CWE|48018-6^Gene studied^LN||HGNC:1100^BRCA1^HGNC||||||F",
			"OBX|2|ST|48004-6^DNA change^LN||NM_007294.4:c.68_69del||||||F",
			"OBX|3|CWE|53037-8^Significance^LN||LA6668-3^Pathogenic^LN||||||F",
			"OBX|4|CWE|48018-6^Gene studied^LN||HGNC:1101^BRCA2^HGNC||||||F",
			"OBX|5|ST|48004-6^DNA change^LN||NM_000059.4:c.7007G>A||||||F",
			"OBX|6|CWE|53037-8^Significance^LN||LA26333-7^Uncertain significance^LN||||||F"), hl7v2.SenderOptions{})
		v := d.Report.Variants
		if len(v) != 2 || v[0].Gene.Symbol != "BRCA1" || v[0].Classification.ACMG != "pathogenic" || v[1].Gene.Symbol != "BRCA2" {
			t.Fatalf("variants %+v", v)
		}
		if !hasWarning(d.Warnings, "variants", "sub-ID") {
			t.Fatal("no warning that the variants were told apart by order")
		}
	})

	t.Run("not detected is a result, not assayed is none", func(t *testing.T) {
		d := decodeWith(t, msg("2.5.1", pid1286, "OBR|1||REP-2|HEP^Hepatitis^WINPATH|||20260901|||||||||||||||20261104120000|||F",
			"OBX|1|CE|HBSAG^HBsAg^WINPATH||ND^Not detected^WINPATH||||||F",
			"OBX|2|CE|HCVAB^HCV antibody^WINPATH||POS^Detected^WINPATH~REF^Referred for confirmation^WINPATH||||||F",
			"OBX|3|NM|BIL^Bilirubin^WINPATH||.5|umol/L||||||F",
			"OBX|4|NM|WBC^White cells^WINPATH||23.4|10*9/L^x10\\S\\9/L^UCUM||||||F"), hl7v2.SenderOptions{})
		obs := d.Report.ResultGroups[0].Observations
		if obs[0].AbsentReason != "" || obs[0].Coded.Display != "Not detected" {
			t.Errorf("ND^Not detected: %+v", obs[0])
		}
		if len(obs[1].Notes) != 1 || !strings.Contains(obs[1].Notes[0], "Referred for confirmation") {
			t.Errorf("a second coded answer was dropped: %+v", obs[1])
		}
		if obs[2].ValueType != gateway.ValueQuantity || obs[2].Value != "0.5" || obs[2].Unit != "umol/L" {
			t.Errorf(".5 umol/L: %+v", obs[2])
		}
		if obs[3].Unit != "x10^9/L" || obs[3].UnitCode != "10*9/L" {
			t.Errorf("coded UCUM unit: %+v", obs[3])
		}
	})

	t.Run("a pathology code shaped like an R-code is the lab's own", func(t *testing.T) {
		d := decodeWith(t, msg("2.4", pid1286, "OBR|1||REP-3|R1^Renal profile^WINPATH|||20260901|||||||||||||||20261104120000|||F",
			"OBX|1|NM|NA^Sodium^WINPATH||140|mmol/L|133-146|N|||F"), hl7v2.SenderOptions{})
		if d.Report.Test.Code != "" || d.Report.Kind != gateway.KindLaboratory {
			t.Fatalf("R1 in WINPATH: test code %q, kind %q", d.Report.Test.Code, d.Report.Kind)
		}
	})

	t.Run("LRI details: chromosome by LA code, start-end as text, nested ranges, a symbol-only gene", func(t *testing.T) {
		d := decodeWith(t, msg("2.5.1", pid1286, order,
			"OBX|1|CWE|48013-7^Genomic reference sequence^LN|1.a|NG_016465.4^^RefSeq-G||||||F",
			"OBX|2|NR|51959-5^Range(s) of DNA sequence examined^LN|1.a.1|98809^288697||||||F",
			"OBX|3|CWE|48018-6^Gene studied^LN|2a|CFTR^CFTR^HGNC-Symb||||||F",
			"OBX|4|CWE|48000-4^Chromosome^LN|2a|LA21260-7^^LN||||||F",
			"OBX|5|ST|81254-5^Genomic allele start-end^LN|2a|117559590-117559592||||||F",
			"OBX|6|ST|48004-6^DNA change^LN|2a|NM_000492.4:c.1521_1523del||||||F"), hl7v2.SenderOptions{})
		v := d.Report.Variants[0]
		if v.Chromosome != "7" || v.Start != 117559590 || v.End != 117559592 || v.Gene.HGNCID != "" || v.Gene.Symbol != "CFTR" {
			t.Errorf("variant %+v", v)
		}
		if regions := d.Report.Test.RegionsStudied; len(regions) != 1 || regions[0] != "NG_016465.4:98809-288697" {
			t.Errorf("regions %v", regions)
		}
	})

	t.Run("two different NHS numbers refuse the message", func(t *testing.T) {
		d := decodeWith(t, msg("2.3", "PID|1||9990001286^^^NHS^NH||PATIENT^Test||19800101|F"+strings.Repeat("|", 11)+"999 000 1294", order,
			"OBX|1|TX|RES^Result^L||No variant detected.||||||F"), hl7v2.SenderOptions{})
		if len(d.Refusals) != 1 || d.Refusals[0].At.Segment != "PID" || d.Refusals[0].At.Field != 19 {
			t.Fatalf("refusals %+v", d.Refusals)
		}
	})

	t.Run("names in escapes and code pages", func(t *testing.T) {
		d := decodeWith(t, msg("2.5.1", "PID|1||9990001286^^^NHS^NH||PRYS-JONES^Si\\XE2\\n^Zo\\XEB\\||19800101|F", order,
			"OBX|1|TX|RES^Result^L||No variant detected.||||||F"), hl7v2.SenderOptions{})
		if g := d.Report.Patient.Name.Given; strings.Join(g, " ") != "Siân Zoë" {
			t.Errorf("hex escapes: %q", g)
		}
		raw, note := hl7v2.ToUTF8([]byte("O\x92REILLY \x96 caf\xe9"))
		if string(raw) != "O’REILLY – café" || note == "" {
			t.Errorf("Windows-1252: %q %q", raw, note)
		}
	})

	t.Run("line breaks sent as hex escapes or spacing commands", func(t *testing.T) {
		d := decodeWith(t, msg("2.5.1", pid1286, order,
			"OBX|1|TX|51969-4^Full narrative report^LN||Line1\\.br\\Line2\\X0D\\Line3\\X0A\\Line4 normal\\.sp\\next||||||F"), hl7v2.SenderOptions{})
		if got := d.Report.Result.Conclusion; got != "Line1\nLine2\nLine3\nLine4 normal\nnext" {
			t.Errorf("conclusion %q", got)
		}
	})

	t.Run("an ordering organisation named but not coded is held, never routed by MSH-6", func(t *testing.T) {
		m := strings.Replace(msg("2.3", pid1286,
			"ORC|RE|5521-RR8"+strings.Repeat("|", 19)+"Leeds Teaching Hospitals NHS Trust", order,
			"OBX|1|TX|RES^Result^L||No variant detected.||||||F"), "|EPR|R0A|", "|EPIC|MFT|", 1)
		d := decodeWith(t, m, hl7v2.SenderOptions{FacilityAliases: map[string]string{"MFT": "R0A"}})
		if d.Report.OrderingTrust.ODSCode == "R0A" || !hasWarning(d.Warnings, "orderingTrust.odsCode", "held") {
			t.Fatalf("trust %q, warnings %v", d.Report.OrderingTrust.ODSCode, d.Warnings)
		}
		d = decodeWith(t, m, hl7v2.SenderOptions{FacilityAliases: map[string]string{"Leeds Teaching Hospitals NHS Trust": "RR8"}})
		if d.Report.OrderingTrust.ODSCode != "RR8" {
			t.Fatalf("with an alias for the name: %q", d.Report.OrderingTrust.ODSCode)
		}
		for field, want := range map[string]string{
			"Some Trust^^^^^NHS":                             "",    // an assigning authority, not a code
			"Some Trust^L^^^^ODS^NII":                        "",    // an identifier type, not a code
			"Trust^^R0A&ODS":                                 "R0A", // subcomponents
			"R0A^Manchester University NHS Foundation Trust": "R0A",
			"Trust^^^^^R0A^^^ODS":                            "R0A",
		} {
			d := decodeWith(t, msg("2.3", pid1286, "ORC|RE|X"+strings.Repeat("|", 19)+field, order,
				"OBX|1|TX|RES^Result^L||No variant detected.||||||F"), hl7v2.SenderOptions{TrustFields: []string{"ORC-21"}})
			got := d.Report.OrderingTrust.ODSCode
			if want == "" && odsLike(got) || want != "" && got != want {
				t.Errorf("ORC-21 %q: trust %q, want %q", field, got, want)
			}
		}
	})

	t.Run("a bare base64 PDF over several rows", func(t *testing.T) {
		b64 := pdfBase64("bare base64 body spread over three rows")
		d := decodeWith(t, msg("2.3", pid1286, order,
			"OBX|1|TX|Report^Report^L||"+b64[:40]+"||||||F",
			"OBX|2|TX|Report^Report^L||"+b64[40:80]+"||||||F",
			"OBX|3|TX|Report^Report^L||"+b64[80:]+"||||||F"), hl7v2.SenderOptions{})
		if d.Report.PDF == nil || !strings.Contains(string(d.Report.PDF.Data), "three rows") || d.Report.Result.Conclusion != "" {
			t.Fatalf("PDF %v, conclusion %q", d.Report.PDF != nil, d.Report.Result.Conclusion)
		}
		cut := decodeWith(t, msg("2.3", pid1286, order, "OBX|1|TX|Report^Report^L||"+b64[:60]+"||||||F"), hl7v2.SenderOptions{})
		if cut.Report.PDF != nil || !hasWarning(cut.Warnings, "pdf", "incomplete") {
			t.Fatalf("a cut-short PDF was used as the report")
		}
	})
}

func odsLike(s string) bool {
	return len(s) >= 3 && len(s) <= 6 && strings.ToUpper(s) == s && !strings.ContainsAny(s, " ")
}

func pdfBase64(text string) string {
	return base64.StdEncoding.EncodeToString([]byte("%PDF-1.4\n% " + text + "\n" + strings.Repeat("x", 40) + "\n%%EOF\n"))
}

// TestEDEncodings: an ED's data in Base64 split across OBX-5 repetitions
// (each a whole ED with its part), in Hex, or as ASCII text ("A") is
// filed: the PDF as the report's, the text as a text attachment.
func TestEDEncodings(t *testing.T) {
	pdf := []byte("%PDF-1.4\n% a lab's report, long enough to be split\n%%EOF\n")
	b64 := base64.StdEncoding.EncodeToString(pdf)
	order := "OBR|1|ORD-1|REP-ED|R240.1^Diagnostic testing for known variant(s)^England-GenomicTestDirectory|||20260901|||||||||||||||20261104120000|||F"
	narrative := "OBX|1|TX|51969-4^Full narrative report^LN||No pathogenic variant was detected.||||||F"
	for name, ed := range map[string]string{
		"base64 in repetitions": "^AP^PDF^Base64^" + b64[:20] + "~^AP^PDF^Base64^" + b64[20:40] + "~^AP^PDF^Base64^" + b64[40:],
		"hex":                   "^AP^PDF^Hex^" + strings.ToUpper(hex.EncodeToString(pdf)),
	} {
		d := decodeWith(t, msg("2.5.1", pid1286, order, narrative, "OBX|2|ED|1054161000000101^Genetic report^SCT||"+ed+"||||||F"), hl7v2.SenderOptions{})
		if d.Report.PDF == nil || !bytes.Equal(d.Report.PDF.Data, pdf) {
			t.Errorf("%s: the PDF was not filed whole: %+v", name, d.Report.PDF)
		}
	}
	d := decodeWith(t, msg("2.5.1", pid1286, order, narrative, `OBX|2|ED|LETTER^Clinic letter^L||^TEXT^PLAIN^A^Dear Dr Darwin\.br\Result attached.||||||F`), hl7v2.SenderOptions{})
	if as := d.Report.Attachments; len(as) != 1 || as[0].ContentType != "text/plain" || string(as[0].Data) != "Dear Dr Darwin\nResult attached." {
		t.Errorf("the ASCII ED: %+v", as)
	}
}
