package hl7v2

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nhs-genomics/results-gateway/gateway"
	"github.com/nhs-genomics/results-gateway/hl7"
)

// Options are a receiving EPR's choices for the ORU^R01 it gets.
type Options struct {
	Version              string `json:"version"`              // 2.5.1 (default), 2.4 or 2.3
	NHSNumberField       int    `json:"nhsNumberField"`       // 3: PID-3 with NH/NHS (default); 2: PID-2, as older systems expect
	PDFLabel             string `json:"pdfLabel"`             // AP (^AP^PDF^Base64^, default), IM (MOL^IM^PDF^Base64^) or application/pdf
	OmitPDF              bool   `json:"omitPdf"`              // leave the PDF out
	ReceivingApplication string `json:"receivingApplication"` // MSH-5
}

// Check reports an option a destination got wrong.
func (o Options) Check() error {
	switch {
	case o.Version != "" && o.Version != "2.5.1" && o.Version != "2.4" && o.Version != "2.3":
		return fmt.Errorf("version %q is not 2.5.1, 2.4 or 2.3", o.Version)
	case o.NHSNumberField != 0 && o.NHSNumberField != 2 && o.NHSNumberField != 3:
		return fmt.Errorf("nhsNumberField %d is not 2 or 3", o.NHSNumberField)
	case o.PDFLabel != "" && o.PDFLabel != "AP" && o.PDFLabel != "IM" && o.PDFLabel != "application/pdf":
		return fmt.Errorf("pdfLabel %q is not AP, IM or application/pdf", o.PDFLabel)
	}
	return nil
}

// Encode writes r as ORU^R01 with the given control id (MSH-10) and PDF.
// The same report, options and control id always give the same bytes.
func Encode(r *gateway.Report, pdf []byte, controlID string, o Options) []byte {
	e := &encoder{b: hl7.NewBuilder(), r: r, o: o}
	if e.o.Version == "" {
		e.o.Version = "2.5.1"
	}
	e.cwe = "CWE"
	if e.o.Version != "2.5.1" {
		e.cwe = "CE" // CWE arrived in 2.5
	}
	e.header(controlID)
	e.order()
	e.metadata()
	e.variantGroups()
	e.people()
	if pdf != nil && !o.OmitPDF {
		e.pdf(pdf)
	}
	return e.b.Bytes()
}

type encoder struct {
	b   *hl7.Builder
	r   *gateway.Report
	o   Options
	cwe string
	obx int
}

func (e *encoder) header(controlID string) {
	b, r := e.b, e.r
	msgType := b.C("ORU", "R01", "ORU_R01")
	if e.o.Version == "2.3" {
		msgType = b.C("ORU", "R01")
	}
	b.MSH(b.V("RESULTS-GATEWAY"), b.V(r.PerformingLab.ODSCode), b.V(e.o.ReceivingApplication), b.V(r.OrderingTrust.ODSCode),
		ts(r.Issued), "", msgType, b.V(controlID), "P", e.o.Version) // original acknowledgement mode: AA means processed
	p := r.Patient
	nhs := b.C(p.NHSNumber, "", "", "NHS", "NH")
	ids := []string{}
	pid2 := ""
	if e.o.NHSNumberField == 2 {
		pid2 = nhs
	} else {
		ids = append(ids, nhs)
	}
	if p.MRN != "" {
		ids = append(ids, b.C(p.MRN, "", "", r.OrderingTrust.ODSCode, "MR"))
	}
	name := append([]string{p.Name.Family}, p.Name.Given...)
	b.Add("PID", "1", pid2, b.R(ids...), "", b.C(name...), "", date(p.BirthDate), sexV2[p.Gender])
}

func (e *encoder) order() {
	b, r := e.b, e.r
	placer := b.C(r.OrderNumber, r.OrderingTrust.ODSCode)
	filler := b.C(r.ID, r.PerformingLab.ODSCode)
	requester := ""
	if c := r.RequestingClinician; c != nil {
		id, body := "", ""
		if c.Registration != nil {
			id, body = c.Registration.Number, c.Registration.Body
		}
		requester = b.C(id, c.Name, "", "", "", "", "", "", body)
	}
	b.Add("ORC", "RE", placer, filler, "", "CM", "", "", "", "", "", "", requester)
	system := "England-GenomicTestDirectory"
	if strings.HasPrefix(r.Test.Code, "GT") || strings.HasPrefix(r.Test.Code, "TP") {
		system = "England-DigitalGenomicTestService"
	}
	test := b.C(r.Test.Code, r.Test.Name, system, "", "", "", r.Test.DirectoryVersion)
	collected, received, source := "", "", ""
	if len(r.Specimens) > 0 {
		s := r.Specimens[0]
		collected, received, source = ts(s.Collected), ts(s.Received), b.C("", s.Type)
	}
	interpreter := ""
	if len(r.Authorisers) > 0 {
		a := r.Authorisers[0]
		interpreter = b.CRaw(b.S(a.Registration.Number, a.Name))
	}
	fields := make([]string, 33)
	fields[0], fields[1], fields[2], fields[3] = "1", placer, filler, test
	fields[6], fields[13], fields[14], fields[15] = collected, received, source, requester
	fields[21], fields[24], fields[31] = ts(r.Issued), statusV2[string(r.Status)], interpreter
	if e.o.Version != "2.3" && e.o.Version != "2.4" { // OBR-15 specimen source was withdrawn in 2.5
		fields[14] = ""
	}
	b.Add("OBR", fields...)
	if e.o.Version == "2.5.1" {
		for i, s := range r.Specimens {
			b.Add("SPM", strconv.Itoa(i+1), b.C(s.ID), "", b.C("", s.Type), "", "", "", "", "", "", "", "", "", "", "", "", ts(s.Collected), ts(s.Received))
		}
	}
}

// obxRow adds one OBX: value type, code in a system, sub-ID, value (already built).
func (e *encoder) obxRow(vt, code, text, system, sub, value string) {
	e.obx++
	status := statusV2[string(e.r.Status)]
	if status == "" {
		status = "F"
	}
	e.b.Add("OBX", strconv.Itoa(e.obx), vt, e.b.C(code, text, system), e.b.V(sub), value, "", "", "", "", "", status)
}

func (e *encoder) local(vt, code, sub, value string) {
	if value != "" {
		e.obxRow(vt, code, "", Local, sub, value)
	}
}

func (e *encoder) coded(code, text, system, sub string, a answer, answerSystem string) {
	if a.code != "" || a.text != "" {
		e.obxRow(e.cwe, code, text, system, sub, e.b.C(a.code, a.text, answerSystem))
	}
}

func (e *encoder) metadata() {
	b, r := e.b, e.r
	e.local("NM", rgwVersion, "0", strconv.Itoa(r.Version))
	e.local("ST", rgwStatus, "0", b.V(string(r.Status)))
	e.local("ST", rgwMethod, "0", b.V(r.Test.Method))
	e.local("ST", rgwLabName, "0", b.V(r.PerformingLab.Name))
	e.local("ST", rgwTrustName, "0", b.V(r.OrderingTrust.Name))
	if a, ok := outcomeLA[r.Result.Outcome]; ok {
		e.coded(lnOverall, "Genetic analysis overall interpretation", "LN", "1", a, "LN")
	}
	e.local("TX", rgwConclusion, "0", b.V(r.Result.Conclusion))
	e.local("TX", rgwInterpretation, "0", b.V(r.Result.Interpretation))
	e.local("TX", rgwLimitations, "0", b.V(r.Result.Limitations))
	for i, p := range r.Test.Panels {
		sub := "P" + strconv.Itoa(i+1)
		e.local(e.cwe, rgwPanel, sub, b.C(p.PanelAppID, p.Name, "PanelApp", "", "", "", p.Version))
		for _, g := range p.Genes {
			e.local(e.cwe, rgwPanelGene, sub, b.C(g.HGNCID, g.Symbol, "HGNC"))
		}
	}
	for i, s := range r.Specimens {
		sub := "S" + strconv.Itoa(i+1)
		e.local("ST", rgwSpecimenID, sub, b.V(s.ID))
		e.local("ST", rgwSpecimenType, sub, b.V(s.Type))
		e.local("ST", rgwCollected, sub, b.V(s.Collected))
		e.local("ST", rgwReceived, sub, b.V(s.Received))
	}
	for i, rel := range r.Relatives {
		sub := "F" + strconv.Itoa(i+1)
		e.local("ST", rgwRelationship, sub, b.V(rel.Relationship))
		e.local("ST", rgwRelativeNHS, sub, b.V(rel.NHSNumber))
		e.local("ST", rgwRelativeLabID, sub, b.V(rel.LabID))
		e.local("ST", rgwAffected, sub, b.V(rel.Affected))
	}
}

// variantSub is the OBX-4 sub-ID of the i-th variant: 2a, 2b, ... 2z, 2aa ...
func variantSub(i int) string {
	s := ""
	for n := i; ; n = n/26 - 1 {
		s = string(rune('a'+n%26)) + s
		if n < 26 {
			break
		}
	}
	return "2" + s
}

func (e *encoder) variantGroups() {
	b := e.b
	for i := range e.r.Variants {
		v, sub := &e.r.Variants[i], variantSub(i)
		e.local("ST", rgwVariantID, sub, b.V(v.ID))
		e.local("ST", rgwVariantType, sub, b.V(v.Type))
		e.coded(lnAssessment, "Genetic variant assessment", "LN", sub, answer{"LA9633-4", "Present"}, "LN")
		e.obxRow(e.cwe, lnGene, "Gene studied", "LN", sub, b.C(v.Gene.HGNCID, v.Gene.Symbol, "HGNC"))
		for _, row := range []struct{ code, text, value string }{
			{lnTranscript, "Transcript reference sequence", v.Transcript}, {lnCHGVS, "DNA change (c.HGVS)", v.HGVS.C},
			{lnPHGVS, "Amino acid change (p.HGVS)", v.HGVS.P}, {lnGHGVS, "Genomic DNA change (g.HGVS)", v.HGVS.G},
			{lnChromosome, "Chromosome", v.Chromosome}, {lnRefAllele, "Genomic ref allele", v.Ref},
			{lnAltAllele, "Genomic alt allele", v.Alt}, {lnISCN, "Variant ISCN", v.ISCN},
		} {
			if row.value != "" {
				e.obxRow("ST", row.code, row.text, "LN", sub, b.V(row.value))
			}
		}
		e.coded(lnBuild, "Human reference sequence assembly version", "LN", sub, buildLA[v.GenomeBuild], "LN")
		span := b.C(strconv.FormatInt(v.Start, 10))
		if v.End != 0 {
			span = b.C(strconv.FormatInt(v.Start, 10), strconv.FormatInt(v.End, 10))
		}
		e.obxRow("NR", lnStartEnd, "Genomic allele start-end", "LN", sub, span)
		if v.CopyNumber != nil {
			e.obxRow("NM", lnCopyNumber, "Genomic structural variant copy number", "LN", sub, strconv.Itoa(*v.CopyNumber))
		}
		e.coded(lnZygosity, "Allelic state", "LN", sub, zygosityLA[v.Zygosity], "LN")
		e.local("ST", rgwOrigin, sub, b.V(v.Origin))
		source := v.Origin
		if v.Inheritance == "de-novo" {
			source = "de-novo"
		}
		e.coded(lnSourceClass, "Genomic source class", "LN", sub, sourceLA[source], "LN")
		e.local("ST", rgwInheritance, sub, b.V(v.Inheritance))
		e.coded(lnInheritance, "Variant inheritance", "LN", sub, inheritanceLA[v.Inheritance], "LN")
		if v.HeteroplasmyFraction != nil {
			e.local("NM", rgwHeteroplasmy, sub, strconv.FormatFloat(*v.HeteroplasmyFraction, 'f', -1, 64))
		}
		e.coded(lnSignificance, "Genetic variation clinical significance", "LN", sub, acmgLA[v.Classification.ACMG], "LN")
		if len(v.Classification.Criteria) > 0 {
			e.local("ST", rgwCriteria, sub, b.V(strings.Join(v.Classification.Criteria, ",")))
		}
		if c := v.Condition; c != nil {
			e.coded(lnPhenotype, "Probable associated phenotype", "LN", sub, answer{c.Code, c.Name}, conditionSystemsV2[c.System])
			if m, ok := modeHPO[c.ModeOfInheritance]; ok {
				e.local(e.cwe, rgwModeOfInh, sub, b.C(m.code, m.text, "HPO"))
			}
		}
		e.local("TX", rgwComment, sub, b.V(v.Comment))
	}
}

func (e *encoder) people() {
	b := e.b
	for i, a := range e.r.Authorisers {
		sub := "A" + strconv.Itoa(i+1)
		e.local("ST", rgwAuthName, sub, b.V(a.Name))
		e.local("ST", rgwAuthRole, sub, b.V(a.Role))
		e.local(e.cwe, rgwAuthReg, sub, b.C(a.Registration.Number, "", a.Registration.Body))
		e.local("ST", rgwAuthAt, sub, b.V(a.AuthorisedAt))
	}
}

// pdf adds the report PDF base64 in an ED OBX, labelled as the EPR expects.
func (e *encoder) pdf(pdf []byte) {
	data := base64.StdEncoding.EncodeToString(pdf)
	var value string
	switch e.o.PDFLabel {
	case "IM":
		value = e.b.C("MOL", "IM", "PDF", "Base64", data)
	case "application/pdf":
		value = e.b.C("", "IGene", "application/pdf", "Base64", data)
	default:
		value = e.b.C("", "AP", "PDF", "Base64", data)
	}
	e.obxRow("ED", "1054161000000101", "Genetic report", "SCT", "", value)
}

// ts turns an RFC 3339 time or a date into an HL7 TS.
func ts(s string) string {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.Format("20060102150405-0700")
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t.Format("20060102")
	}
	return ""
}

func date(s string) string { return strings.ReplaceAll(s, "-", "") }
