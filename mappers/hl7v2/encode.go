package hl7v2

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nhs-genomics/results-gateway/gateway"
	"github.com/nhs-genomics/results-gateway/hl7"
)

// Options are a receiving EPR's choices for the ORU^R01 it gets.
type Options struct {
	Version              string `json:"version,omitempty"`              // 2.5.1 (default), 2.4 or 2.3
	NHSNumberField       int    `json:"nhsNumberField,omitempty"`       // 3: PID-3 with NH/NHS (default); 2: PID-2, as older systems expect
	PDFLabel             string `json:"pdfLabel,omitempty"`             // AP (^AP^PDF^Base64^, default), IM (MOL^IM^PDF^Base64^) or application/pdf
	OmitPDF              bool   `json:"omitPdf,omitempty"`              // leave the PDF out
	ReceivingApplication string `json:"receivingApplication,omitempty"` // MSH-5
	// ReceivingFacility is MSH-6: a code the receiver expects for itself;
	// by default the ODS code of the organisation the message is for (the
	// ordering trust, or a copy-to recipient).
	ReceivingFacility string `json:"receivingFacility,omitempty"`
	// MessageTime is MSH-7, when the message was made: the gateway gives
	// the time it queued the delivery (a resend repeats the same bytes).
	// Zero: the report's issue time, for a message made on demand.
	MessageTime time.Time `json:"-"`
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
// Segments follow the ORU_R01 grammar of the version: each OBR is followed
// by its NTEs, its OBX rows (each with its NTEs), then its SPMs.
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
	if !r.IsGenomic() && len(r.ResultGroups) > 0 {
		e.notes(r.Notes) // a laboratory report's own notes, after PID
		e.warnings()
		for i := range r.ResultGroups {
			e.groupOrder(i)
			if i == 0 {
				e.reportRows(pdf)
			}
			e.groupRows(i)
			if i == 0 {
				e.specimens()
			}
		}
		return declareUTF8(e.b.Bytes())
	}
	e.order()
	e.notes(r.Notes)
	e.warnings()
	e.reportRows(pdf)
	e.specimens()
	for i := range r.ResultGroups {
		e.groupOrder(i)
		e.groupRows(i)
	}
	return declareUTF8(e.b.Bytes())
}

// declareUTF8 names the character set in MSH-18 (HL7 table 0211) of a
// message holding characters beyond ASCII, which the gateway writes as
// UTF-8: a receiver reads a message without MSH-18 as ASCII, and would
// show Ó'Brien as "Ã“'Brien". An all-ASCII message is left as it is. The
// header ends at MSH-12 (see header), so MSH-18 is six fields on.
func declareUTF8(msg []byte) []byte {
	if !slices.ContainsFunc(msg, func(c byte) bool { return c >= 0x80 }) {
		return msg
	}
	end := bytes.IndexByte(msg, '\r')
	return slices.Concat(msg[:end], []byte("||||||UNICODE UTF-8"), msg[end:])
}

type encoder struct {
	b   *hl7.Builder
	r   *gateway.Report
	o   Options
	cwe string
	obx int
	obr int
}

// reportRows are the rows of the report itself: metadata, findings, people, documents.
func (e *encoder) reportRows(pdf []byte) {
	e.metadata()
	e.testRows()
	e.variantGroups()
	e.people()
	if pdf != nil && !e.o.OmitPDF {
		e.pdf(pdf)
	}
	e.attachments()
}

func (e *encoder) header(controlID string) {
	b, r := e.b, e.r
	msgType := b.C("ORU", "R01", "ORU_R01")
	if e.o.Version == "2.3" {
		msgType = b.C("ORU", "R01")
	}
	facility := e.o.ReceivingFacility
	if facility == "" {
		facility = r.OrderingTrust.ODSCode
	}
	made := ts(r.Issued)
	if !e.o.MessageTime.IsZero() {
		made = e.o.MessageTime.In(gateway.London).Format("20060102150405-0700")
	}
	b.MSH(b.V("RESULTS-GATEWAY"), b.V(r.PerformingLab.ODSCode), b.V(e.o.ReceivingApplication), b.V(facility),
		made, "", msgType, b.V(controlID), "P", e.o.Version) // original acknowledgement mode: AA means processed
	p := r.Patient
	ids := []string{}
	pid2 := ""
	if p.NHSNumber != "" {
		nhs := b.C(p.NHSNumber, "", "", "NHS", "NH")
		if e.o.NHSNumberField == 2 {
			pid2 = nhs
		} else {
			ids = append(ids, nhs)
		}
	}
	if p.CHINumber != "" {
		ids = append(ids, b.C(p.CHINumber, "", "", "CHI", "NI"))
	}
	if p.HCNumber != "" {
		ids = append(ids, b.C(p.HCNumber, "", "", "HSC", "NI"))
	}
	if p.MRN != "" {
		ids = append(ids, b.C(p.MRN, "", "", p.MRNAuthority, "MR"))
	}
	if p.PedigreeNumber != "" { // table 0203 has no pedigree type: a local one, named by its authority too
		ids = append(ids, b.C(p.PedigreeNumber, "", "", "PEDIGREE", "PED"))
	}
	name := []string{p.Name.Family, "", "", "", p.Name.Prefix}
	if len(p.Name.Given) > 0 {
		name[1] = p.Name.Given[0]
	}
	if len(p.Name.Given) > 1 {
		name[2] = strings.Join(p.Name.Given[1:], " ")
	}
	address := ""
	if a := p.Address; a != nil {
		line1, line2 := "", ""
		if len(a.Lines) > 0 {
			line1, line2 = a.Lines[0], strings.Join(a.Lines[1:], ", ")
		}
		address = b.C(line1, line2, a.City, a.District, a.Postcode)
	}
	b.Add("PID", "1", pid2, b.R(ids...), "", b.C(name...), "", date(p.BirthDate), sexV2[p.Gender], "", "", address)
}

func (e *encoder) notes(notes []string) {
	for i, n := range notes {
		e.b.Add("NTE", strconv.Itoa(i+1), "L", e.b.V(n))
	}
}

// warnings writes what the gateway noticed in the report as NTEs from
// another system (NTE-2 O) typed as gateway warnings, so an EPR shows them
// and a reader of this ORU never takes them for the lab's own notes.
func (e *encoder) warnings() {
	for i, w := range e.r.Warnings {
		e.b.Add("NTE", strconv.Itoa(len(e.r.Notes)+i+1), "O", e.b.V(strings.TrimSpace(w.Path+" "+w.Message)),
			e.b.C(gatewayWarning, "Results Gateway warning", Local))
	}
}

// requester is ORC-12: the requesting clinician as an XCN.
func (e *encoder) requester() string {
	c := e.r.RequestingClinician
	if c == nil {
		return ""
	}
	id, body := "", ""
	if c.Registration != nil {
		id, body = c.Registration.Number, c.Registration.Body
	}
	return e.b.C(id, c.Name, "", "", "", "", "", "", body)
}

// placer is ORC-2/OBR-2: the order number with the ordering trust as its
// namespace, and, for a Genomic Medicine Service order number, NHS
// England's system as its universal id, so a reader can tell it from an
// EPR's own number.
func (e *encoder) placer() string {
	r := e.r
	if r.OrderNumber != "" && !r.OrderNumberLocal {
		return e.b.C(r.OrderNumber, r.OrderingTrust.ODSCode, GMSOrderSystem, "URI")
	}
	return e.b.C(r.OrderNumber, r.OrderingTrust.ODSCode)
}

// order writes the ORC and the report's OBR.
func (e *encoder) order() {
	b, r := e.b, e.r
	placer := e.placer()
	filler := b.C(r.ID, r.PerformingLab.ODSCode)
	requester := e.requester()
	b.Add("ORC", "RE", placer, filler, "", "CM", "", "", "", "", "", "", requester)
	system := "England-GenomicTestDirectory"
	if gateway.InDigitalService(r.Test.Code) {
		system = "England-DigitalGenomicTestService"
	}
	test := []string{r.Test.Code, r.Test.Name, system, "", "", "", r.Test.DirectoryVersion, "", ""}
	if official := r.Test.DirectoryName; official != "" && official != r.Test.Name && e.o.Version == "2.5.1" {
		test[1], test[8] = official, r.Test.Name // the directory's name; the lab's words as original text (CWE-9)
	}
	if r.Test.Code == "" {
		test[2] = ""
	}
	if l := r.Test.LocalCode; l != nil {
		if r.Test.Code == "" {
			test[0], test[1], test[2] = l.Code, l.Display, systemName(l.System)
		} else {
			test[3], test[4], test[5] = l.Code, l.Display, systemName(l.System)
		}
	}
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
	fields[0], fields[1], fields[2], fields[3] = e.nextOBR(), placer, filler, b.C(test...)
	fields[6], fields[13], fields[14], fields[15] = collected, received, source, requester
	fields[21], fields[24], fields[31] = ts(r.Issued), obrStatus(r.Status), interpreter
	var copies []string
	for _, o := range r.CopyTo { // OBR-28 result copies to: organisations by ODS code (XCN.9 "ODS")
		copies = append(copies, b.C(o.ODSCode, b.V(o.Name), "", "", "", "", "", "", "ODS"))
	}
	fields[27] = b.R(copies...)
	if p := r.Previous; p != nil { // OBR-29 parent: the earlier report's filler number
		fields[28] = b.C("", b.V(p.ID))
	}
	if e.o.Version != "2.3" && e.o.Version != "2.4" { // OBR-15 specimen source was withdrawn in 2.5
		fields[14] = ""
	}
	b.Add("OBR", fields...)
}

func (e *encoder) nextOBR() string {
	e.obr++
	return strconv.Itoa(e.obr)
}

// specimens writes SPM segments (2.5.1 only), after the OBX rows of their OBR.
func (e *encoder) specimens() {
	if e.o.Version != "2.5.1" {
		return
	}
	for i, s := range e.r.Specimens {
		e.b.Add("SPM", strconv.Itoa(i+1), e.b.C(s.ID), "", e.b.C("", s.Type), "", "", "", "", "", "", "", "", "", "", "", "", ts(s.Collected), ts(s.Received))
	}
}

// obxRow adds one OBX: value type, code in a system, sub-ID, value (already built).
func (e *encoder) obxRow(vt, code, text, system, sub, value string) {
	e.obxFull(vt, code, text, system, sub, value, "", "", "", "", "")
}

// obxFull adds an OBX with units, range, flag, status and time.
func (e *encoder) obxFull(vt, code, text, system, sub, value, unit, refRange, flag, status, observed string) {
	e.obx++
	if status == "" || e.r.Status == gateway.StatusEnteredInError { // every result of a withdrawn report is wrong
		status = statusV2[string(e.r.Status)]
	}
	if status == "" {
		status = "F"
	}
	e.b.Add("OBX", strconv.Itoa(e.obx), vt, e.b.C(code, text, system), e.b.V(sub), value, unit, refRange, flag, "", "", status, "", "", observed)
}

// local adds a row under the gateway's local code system, labelled so an
// EPR that shows OBX-3 text shows what it is.
func (e *encoder) local(vt, code, sub, value string) {
	if value != "" {
		e.obxRow(vt, code, localLabels[code], Local, sub, value)
	}
}

func (e *encoder) coded(code, text, system, sub string, a answer, answerSystem string) {
	if a.code != "" || a.text != "" {
		e.obxRow(e.cwe, code, text, system, sub, e.b.C(a.code, a.text, answerSystem))
	}
}

// coding writes a CWE value from a report coding.
func (e *encoder) coding(c *gateway.Coding) string {
	return e.b.C(c.Code, c.Display, systemName(c.System))
}

func (e *encoder) metadata() {
	b, r := e.b, e.r
	if !r.IsGenomic() {
		e.local("ST", rgwKind, "0", b.V(r.Kind))
		if len(r.ResultGroups) > 0 && r.ResultGroups[0].ID != "" && r.ResultGroups[0].ID != r.ID {
			e.local("ST", rgwReportID, "0", b.V(r.ID)) // OBR-3 holds the first test's own number
		}
	}
	e.local("NM", rgwVersion, "0", strconv.Itoa(r.Version))
	e.local("ST", rgwStatus, "0", b.V(string(r.Status)))
	e.local("ST", rgwMethod, "0", b.V(r.Test.Method))
	e.local("ST", rgwLabName, "0", b.V(r.PerformingLab.Name))
	e.local("ST", rgwTrustName, "0", b.V(r.OrderingTrust.Name))
	if a, ok := outcomeLA[r.Result.Outcome]; ok {
		e.coded(lnOverall, "Genetic analysis overall interpretation", "LN", "1", a, "LN")
	}
	if len(r.Changes) > 0 { // what changed since the earlier report, first
		var lines []string
		for _, c := range r.Changes {
			lines = append(lines, c.Statement())
		}
		e.local("TX", rgwChanges, "0", b.V(strings.Join(lines, "\n")))
	}
	if p := r.Previous; p != nil {
		if p.Version > 0 {
			e.local("NM", rgwPrevVersion, "0", strconv.Itoa(p.Version))
		}
		e.local("ST", rgwRelation, "0", b.V(p.Relation))
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

// testRows are what was studied, in the LOINC convention: reason, diseases
// assessed, variants tested, genes and regions studied.
func (e *encoder) testRows() {
	b, t := e.b, e.r.Test
	if t.Reason != "" {
		e.obxRow("TX", lnReason, "Reason for study", "LN", "1", b.V(t.Reason))
	}
	for i := range t.Conditions {
		e.obxRow(e.cwe, lnDisease, "Genetic disease(s) assessed", "LN", "1", e.coding(&t.Conditions[i]))
	}
	for _, v := range t.VariantsTested {
		e.obxRow(e.cwe, lnTested, "Gene mutations tested", "LN", "1", b.C(v))
	}
	for i, g := range t.GenesStudied {
		e.obxRow(e.cwe, lnGene, "Gene studied", "LN", "1.g"+strconv.Itoa(i+1), b.C(g.HGNCID, g.Symbol, "HGNC"))
	}
	for i, region := range t.RegionsStudied {
		e.obxRow("ST", lnRangeExamined, "Range(s) of DNA sequence examined", "LN", "1.r"+strconv.Itoa(i+1), b.V(region))
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
		assessment := v.Assessment
		if assessment == "" {
			assessment = "present"
		}
		e.coded(lnAssessment, "Genetic variant assessment", "LN", sub, assessmentLA[assessment], "LN")
		if v.Gene.HGNCID != "" || v.Gene.Symbol != "" {
			e.obxRow(e.cwe, lnGene, "Gene studied", "LN", sub, b.C(v.Gene.HGNCID, v.Gene.Symbol, "HGNC"))
		}
		for _, row := range []struct{ code, text, value string }{
			{lnTranscript, "Transcript reference sequence", v.Transcript}, {lnCHGVS, "DNA change (c.HGVS)", v.HGVS.C},
			{lnPHGVS, "Amino acid change (p.HGVS)", v.HGVS.P}, {lnGHGVS, "Genomic DNA change (g.HGVS)", v.HGVS.G},
			{lnRefSeq, "Genomic reference sequence", v.GenomicReference}, {lnDisplayName, "Variant display name", v.DisplayName},
			{lnChromosome, "Chromosome", v.Chromosome}, {lnCytoLocation, "Cytogenetic (chromosome) location", v.CytogeneticLocation},
			{lnRefAllele, "Genomic ref allele", v.Ref}, {lnAltAllele, "Genomic alt allele", v.Alt}, {lnISCN, "Variant ISCN", v.ISCN},
		} {
			if row.value != "" {
				e.obxRow("ST", row.code, row.text, "LN", sub, b.V(row.value))
			}
		}
		e.coded(lnBuild, "Human reference sequence assembly version", "LN", sub, buildLA[v.GenomeBuild], "LN")
		if v.Start != 0 {
			span := b.C(strconv.FormatInt(v.Start, 10))
			if v.End != 0 {
				span = b.C(strconv.FormatInt(v.Start, 10), strconv.FormatInt(v.End, 10))
			}
			e.obxRow("NR", lnStartEnd, "Genomic allele start-end", "LN", sub, span)
		}
		if v.CopyNumber != nil {
			e.obxRow("NM", lnCopyNumber, "Genomic structural variant copy number", "LN", sub, strconv.Itoa(*v.CopyNumber))
		}
		e.local("ST", rgwRepeatCount, sub, b.V(v.RepeatCount))
		for _, c := range []struct {
			code, text string
			value      *gateway.Coding
		}{{lnChangeType, "DNA change type", v.ChangeType}, {lnAAChangeType, "Amino acid change type", v.AminoAcidChangeType},
			{lnVariantCat, "Variant category", v.Category}, {lnAnalysisMethod, "Variant analysis method", v.Method}} {
			if c.value != nil {
				e.obxRow(e.cwe, c.code, c.text, "LN", sub, e.coding(c.value))
			}
		}
		for j := range v.Identifiers {
			id := &v.Identifiers[j]
			switch id.System {
			case "http://www.ncbi.nlm.nih.gov/projects/SNP":
				e.obxRow(e.cwe, lnDbSNP, "dbSNP ID", "LN", sub, e.coding(id))
			case "http://www.ncbi.nlm.nih.gov/clinvar":
				e.obxRow(e.cwe, lnClinVar, "Discrete genetic variant", "LN", sub, e.coding(id))
			default:
				e.local(e.cwe, rgwIdentifier, sub, e.coding(id))
			}
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
		for _, f := range []*float64{v.HeteroplasmyFraction, v.AlleleFrequency} {
			if f != nil { // a fraction (UCUM 1); a mitochondrial variant's is its heteroplasmy
				e.obxFull("NM", lnAlleleFreq, "Sample variant allelic frequency", "LN", sub, strconv.FormatFloat(*f, 'f', -1, 64), e.b.C("1", "", "UCUM"), "", "", "", "")
			}
		}
		e.coded(lnSignificance, "Genetic variation clinical significance", "LN", sub, acmgLA[v.Classification.ACMG], "LN")
		if len(v.Classification.Criteria) > 0 {
			e.local("ST", rgwCriteria, sub, b.V(strings.Join(v.Classification.Criteria, ",")))
		}
		if v.Condition != nil {
			e.condition(*v.Condition, sub)
		}
		for _, c := range v.AdditionalConditions {
			e.condition(c, sub)
		}
		e.local("TX", rgwComment, sub, b.V(v.Comment))
	}
}

// condition writes a phenotype row, then its mode of inheritance.
func (e *encoder) condition(c gateway.Condition, sub string) {
	e.coded(lnPhenotype, "Probable associated phenotype", "LN", sub, answer{c.Code, c.Name}, conditionSystemsV2[c.System])
	if m, ok := modeHPO[c.ModeOfInheritance]; ok {
		e.local(e.cwe, rgwModeOfInh, sub, e.b.C(m.code, m.text, "HPO"))
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

// pdf adds the report PDF base64 in an ED OBX, labelled as the EPR expects:
// coded as a genetic report or, for a pathology report, a laboratory
// report, with the lab's title for its own PDF.
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
	code, label, system := lnGeneticReport, "Genetic report", "SCT"
	if !e.r.IsGenomic() {
		code, label, system = lnLabReport, "Laboratory report", "LN"
	}
	if e.r.PDF != nil && e.r.PDF.Title != "" {
		label = e.r.PDF.Title
	}
	e.obxRow("ED", code, e.b.V(label), system, "", value)
}

// attachments adds the lab's further documents (ED), or pointers to them (RP).
func (e *encoder) attachments() {
	for _, a := range e.r.Attachments {
		ct := a.ContentType
		if ct == "" {
			ct = "application/pdf"
		}
		if a.URL != "" {
			e.obxRow("RP", rgwAttachment, a.Title, Local, "", e.b.C(a.URL, "", "", ct))
			continue
		}
		e.obxRow("ED", rgwAttachment, a.Title, Local, "", e.b.C("", "AP", ct, "Base64", base64.StdEncoding.EncodeToString(a.Data)))
	}
}

// groupOrder writes the OBR of a group of ordinary results.
func (e *encoder) groupOrder(i int) {
	b, r, g := e.b, e.r, e.r.ResultGroups[i]
	id := g.ID
	if id == "" {
		id = r.ID
	}
	status := obrStatus(g.Status)
	if status == "" {
		status = obrStatus(r.Status)
	}
	fields := make([]string, 25)
	fields[0], fields[1], fields[2] = e.nextOBR(), e.placer(), b.C(id, r.PerformingLab.ODSCode)
	fields[3], fields[6], fields[21], fields[24] = e.coding(&g.Code), ts(g.Collected), ts(r.Issued), status
	if i == 0 && !r.IsGenomic() { // a laboratory report's first OBR carries the order
		e.b.Add("ORC", "RE", fields[1], fields[2], "", "CM", "", "", "", "", "", "", e.requester())
	}
	b.Add("OBR", fields...)
	e.notes(g.Notes)
}

// groupRows writes a group's results.
func (e *encoder) groupRows(i int) {
	b := e.b
	for _, o := range e.r.ResultGroups[i].Observations {
		vt, value := "TX", b.V(o.Value)
		switch o.ValueType {
		case gateway.ValueQuantity:
			vt = "NM"
			if o.Comparator != "" {
				vt, value = "SN", b.C(o.Comparator, o.Value)
			}
		case gateway.ValueRatio:
			x, y, _ := strings.Cut(o.Value, ":")
			vt, value = "SN", b.C("", x, ":", y)
		case gateway.ValueRange:
			x, y, _ := strings.Cut(strings.TrimPrefix(o.Value, "-"), "-")
			if strings.HasPrefix(o.Value, "-") {
				x = "-" + x
			}
			vt, value = "SN", b.C("", x, "-", y)
		case gateway.ValueCoded:
			vt, value = e.cwe, ""
			if o.Coded != nil {
				value = e.coding(o.Coded)
			}
		case gateway.ValueDateTime:
			vt, value = "DTM", ts(o.Value)
			if e.o.Version != "2.5.1" {
				vt = "TS"
			}
		}
		status := statusV2[string(o.Status)]
		if o.AbsentReason == "not-performed" && status == "" {
			status = "X" // results cannot be obtained for this observation; a status the lab gave is kept
		}
		unit := b.C(o.Unit)
		if o.UnitCode != "" {
			unit = b.C(o.UnitCode, o.Unit, "UCUM")
		}
		e.obxFull(vt, o.Code.Code, o.Code.Display, systemName(o.Code.System), "", value, unit, b.V(o.ReferenceRange),
			b.V(o.Interpretation), status, ts(o.Observed))
		e.notes(o.Notes)
	}
}

// obrStatus is OBR-25 (table 0123) for a report or group status. An
// entered-in-error report goes as a correction (C) whose every OBX-11 is
// W ("post original as wrong"), the way table 0085 withdraws results
// filed against the wrong patient: 0123 has no W, and a validating
// receiver refuses one.
func obrStatus(s gateway.Status) string {
	if s == gateway.StatusEnteredInError {
		return "C"
	}
	return statusV2[string(s)]
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

// localLabels are the OBX-3 texts of the gateway's local codes.
var localLabels = map[string]string{
	rgwVersion: "Report version", rgwLabName: "Performing laboratory", rgwTrustName: "Ordering organisation",
	rgwStatus: "Report status", rgwMethod: "Test method", rgwConclusion: "Conclusion", rgwInterpretation: "Interpretation",
	rgwLimitations: "Limitations", rgwPanel: "Virtual gene panel", rgwPanelGene: "Panel gene", rgwSpecimenID: "Specimen id",
	rgwSpecimenType: "Specimen type", rgwCollected: "Specimen collected", rgwReceived: "Specimen received",
	rgwRelationship: "Relative tested", rgwRelativeNHS: "Relative's NHS number", rgwRelativeLabID: "Relative's lab id",
	rgwAffected: "Relative affected status", rgwVariantID: "Variant id", rgwVariantType: "Variant type",
	rgwCriteria: "ACMG criteria met", rgwModeOfInh: "Mode of inheritance", rgwHeteroplasmy: "Heteroplasmy fraction",
	rgwComment: "Variant comment", rgwOrigin: "Variant origin", rgwInheritance: "Variant inheritance",
	rgwAuthName: "Authorised by", rgwAuthRole: "Authoriser role", rgwAuthReg: "Authoriser registration",
	rgwAuthAt: "Authorised at", rgwPrevVersion: "Previous report version", rgwRelation: "Relation to the previous report",
	rgwChanges: "Changes since the earlier report", rgwKind: "Report kind", rgwRepeatCount: "Repeat count", rgwAttachment: "Attached document", rgwReportID: "Report id",
	rgwIdentifier: "Variant identifier",
}
