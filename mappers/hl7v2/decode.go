package hl7v2

import (
	"encoding/base64"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // UK senders send local times without a zone: read them as Europe/London

	"github.com/nhs-genomics/results-gateway/gateway"
	"github.com/nhs-genomics/results-gateway/hl7"
)

// SenderOptions are how one lab's messages are read.
type SenderOptions struct {
	// NHSNumberField names where the NHS number is when it is not a PID-3
	// repetition typed NH or with authority NHS, e.g. "PID-2" or "PID-4".
	NHSNumberField string `json:"nhsNumberField"`
	// RejectUnmapped answers AE when any OBX cannot be mapped, instead of
	// accepting the report and listing what was not mapped.
	RejectUnmapped bool `json:"rejectUnmapped"`
}

// Decoded is an ORU^R01 read into a report.
type Decoded struct {
	Report   *gateway.Report
	Unmapped []gateway.Unmapped
	origins  map[string]hl7.ErrorLocation
}

// Locate says where in the message a report field (a JSON path such as
// "variants[0].hgvs.c") came from, for the ERR segment of an AE.
func (d *Decoded) Locate(path string) hl7.ErrorLocation {
	for p := path; p != ""; {
		if loc, ok := d.origins[p]; ok {
			return loc
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return hl7.ErrorLocation{Segment: "MSH", Sequence: 1}
}

var (
	testCode = regexp.MustCompile(`^(R\d{1,4}(\.\d{1,2})?|GT\d{1,5}|TP\d{1,5})$`)
	london   = mustLocation("Europe/London")
)

func mustLocation(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		return time.UTC
	}
	return loc
}

// obx is one OBX row with where it stands.
type obx struct {
	seg              *hl7.Segment
	seq              int
	valueType, code  string
	codeText, system string
	sub, value       string
	used             bool
}

type decoder struct {
	m         *hl7.Message
	o         SenderOptions
	r         *gateway.Report
	origins   map[string]hl7.ErrorLocation
	rows      []*obx
	narrative []string
}

// Decode reads an ORU^R01 into a report (version 0 unless the message
// carries one). It returns EUNSUPPORTED for another message type and
// EINVALID when the structure is missing; field rules are checked later by
// gateway validation, and Locate maps their paths back to segments.
func Decode(m *hl7.Message, o SenderOptions) (*Decoded, error) {
	msh := m.First("MSH")
	if msh == nil {
		return nil, gateway.Errorf(gateway.EMALFORMED, "no MSH segment")
	}
	if t := m.Value(msh, 9, 1) + "^" + m.Value(msh, 9, 2); t != "ORU^R01" {
		return nil, gateway.Errorf(gateway.EUNSUPPORTED, "message type %s is not ORU^R01", t)
	}
	d := &decoder{m: m, o: o, r: &gateway.Report{SchemaVersion: gateway.SchemaVersion}, origins: map[string]hl7.ErrorLocation{}}
	var problems []gateway.Problem
	for _, name := range []string{"PID", "OBR"} {
		if m.First(name) == nil {
			problems = append(problems, gateway.Problem{Path: name, Message: "the " + name + " segment is missing"})
		}
	}
	if len(problems) > 0 {
		return nil, &gateway.Error{Code: gateway.EINVALID, Message: "the message is not a complete ORU^R01", Problems: problems}
	}
	d.collectOBX()
	d.header(msh)
	d.patient()
	d.order()
	d.specimens()
	d.metadata()
	d.variants()
	d.authorisers()
	d.pdfAndNarrative()
	out := &Decoded{Report: d.r, origins: d.origins}
	for _, row := range d.rows {
		if !row.used {
			out.Unmapped = append(out.Unmapped, gateway.Unmapped{Location: fmt.Sprintf("OBX[%d] OBX-3", row.seq),
				Code: row.code, Text: row.codeText, Reason: "observation code not recognised: not mapped to the report"})
		}
	}
	return out, nil
}

func (d *decoder) at(path, segment string, field, comp int) {
	seq := 1
	d.origins[path] = hl7.ErrorLocation{Segment: segment, Sequence: seq, Field: field, Component: comp}
}

func (d *decoder) collectOBX() {
	seq := 0
	for _, s := range d.m.Segments {
		if s.Name() != "OBX" {
			continue
		}
		seq++
		code := d.m.Component(s.Field(3), 1)
		d.rows = append(d.rows, &obx{seg: s, seq: seq, valueType: d.m.Value(s, 2, 0), code: d.m.Unescape(code),
			codeText: d.m.Value(s, 3, 2), system: d.m.Value(s, 3, 3), sub: d.m.Value(s, 4, 0), value: s.Field(5)})
	}
}

// find returns the rows with code (and sub-ID prefix, when given) and marks them used.
func (d *decoder) find(code, sub string) []*obx {
	var out []*obx
	for _, r := range d.rows {
		if r.code == code && (sub == "" || r.sub == sub) {
			r.used = true
			out = append(out, r)
		}
	}
	return out
}

// text is the first matching row's value as text (component 1 for coded values).
func (d *decoder) text(code, sub string) (string, *obx) {
	rows := d.find(code, sub)
	if len(rows) == 0 {
		return "", nil
	}
	return d.m.Unescape(rows[0].value), rows[0]
}

func (d *decoder) comp(row *obx, c int) string {
	if row == nil {
		return ""
	}
	rep, _, _ := strings.Cut(row.value, string(d.m.Delims.Repetition))
	return d.m.Unescape(d.m.Component(rep, c))
}

func (d *decoder) header(msh *hl7.Segment) {
	d.r.PerformingLab.ODSCode = d.m.Value(msh, 4, 1)
	d.r.OrderingTrust.ODSCode = d.m.Value(msh, 6, 1)
	d.at("performingLab.odsCode", "MSH", 4, 1)
	d.at("orderingTrust.odsCode", "MSH", 6, 1)
}

func (d *decoder) patient() {
	pid := d.m.First("PID")
	p := &d.r.Patient
	for _, rep := range d.m.Repetitions(pid.Field(3)) {
		value := d.m.Unescape(d.m.Component(rep, 1))
		authority := strings.ToUpper(d.m.Unescape(d.m.Component(rep, 4)))
		idType := strings.ToUpper(d.m.Unescape(d.m.Component(rep, 5)))
		switch {
		case idType == "NH" || idType == "NHSNMBR" || strings.HasPrefix(authority, "NHS"):
			p.NHSNumber = gateway.NormaliseNHSNumber(value)
		case idType == "MR" || idType == "MRN":
			p.MRN = value
		}
	}
	d.at("patient.nhsNumber", "PID", 3, 1)
	if p.NHSNumber == "" {
		field := 2
		if f := d.o.NHSNumberField; strings.HasPrefix(f, "PID-") {
			field, _ = strconv.Atoi(strings.TrimPrefix(f, "PID-"))
		}
		p.NHSNumber = gateway.NormaliseNHSNumber(d.m.Value(pid, field, 1))
		d.at("patient.nhsNumber", "PID", field, 1)
	}
	p.Name.Family = d.m.Value(pid, 5, 1)
	for c := 2; c <= 3; c++ {
		if g := d.m.Value(pid, 5, c); g != "" {
			p.Name.Given = append(p.Name.Given, g)
		}
	}
	p.BirthDate = hlDate(d.m.Value(pid, 7, 1))
	p.Gender = reverseStrings(sexV2)[d.m.Value(pid, 8, 1)]
	d.at("patient.name", "PID", 5, 0)
	d.at("patient.birthDate", "PID", 7, 0)
	d.at("patient.gender", "PID", 8, 0)
}

func (d *decoder) order() {
	m, r := d.m, d.r
	obr, orc := m.First("OBR"), m.First("ORC")
	r.ID = m.Value(obr, 3, 1)
	d.at("id", "OBR", 3, 1)
	if r.ID == "" && orc != nil {
		r.ID = m.Value(orc, 3, 1)
		d.at("id", "ORC", 3, 1)
	}
	r.OrderNumber = m.Value(obr, 2, 1)
	if r.OrderNumber == "" && orc != nil {
		r.OrderNumber = m.Value(orc, 2, 1)
	}
	r.Status = gateway.Status(map[string]string{"F": "final", "C": "corrected", "P": "preliminary", "A": "preliminary",
		"X": "cancelled", "W": "entered-in-error"}[m.Value(obr, 25, 0)])
	d.at("status", "OBR", 25, 0)
	r.Issued = hlTime(m.Value(obr, 22, 1))
	d.at("issued", "OBR", 22, 0)
	if r.Issued == "" {
		r.Issued = hlTime(m.Value(m.First("MSH"), 7, 1))
		d.at("issued", "MSH", 7, 0)
	}
	r.Test.Code, r.Test.Name, r.Test.DirectoryVersion = m.Value(obr, 4, 1), m.Value(obr, 4, 2), m.Value(obr, 4, 7)
	d.at("test.code", "OBR", 4, 1)
	if !testCode.MatchString(r.Test.Code) && testCode.MatchString(m.Value(obr, 4, 4)) {
		r.Test.Code, r.Test.Name = m.Value(obr, 4, 4), m.Value(obr, 4, 5) // the alternate identifier
		d.at("test.code", "OBR", 4, 4)
	}
	requester := obr.Field(16)
	if orc != nil && orc.Field(12) != "" {
		requester = orc.Field(12)
	}
	if requester != "" {
		rep, _, _ := strings.Cut(requester, string(m.Delims.Repetition))
		name := strings.TrimSpace(m.Unescape(m.Component(rep, 3)) + " " + m.Unescape(m.Component(rep, 2)))
		c := &gateway.Clinician{Name: name}
		if id, body := m.Unescape(m.Component(rep, 1)), m.Unescape(m.Component(rep, 9)); id != "" && gateway.RegistrationBodies.Has(body) {
			c.Registration = &gateway.Registration{Body: body, Number: id}
		}
		r.RequestingClinician = c
	}
}

func (d *decoder) specimens() {
	m, r := d.m, d.r
	for i := 1; ; i++ {
		sub := "S" + strconv.Itoa(i)
		id, row := d.text(rgwSpecimenID, sub)
		if row == nil {
			break
		}
		typ, _ := d.text(rgwSpecimenType, sub)
		collected, _ := d.text(rgwCollected, sub)
		received, _ := d.text(rgwReceived, sub)
		r.Specimens = append(r.Specimens, gateway.Specimen{ID: id, Type: typ, Collected: collected, Received: received})
		d.origins[fmt.Sprintf("specimens[%d]", i-1)] = hl7.ErrorLocation{Segment: "OBX", Sequence: row.seq, Field: 5}
	}
	if len(r.Specimens) > 0 {
		return
	}
	for i, spm := 0, 0; i < len(m.Segments); i++ {
		if s := m.Segments[i]; s.Name() == "SPM" {
			spm++
			r.Specimens = append(r.Specimens, gateway.Specimen{ID: m.Value(s, 2, 1), Type: first(m.Value(s, 4, 2), m.Value(s, 4, 1)),
				Collected: hlTime(m.Value(s, 17, 1)), Received: hlTime(m.Value(s, 18, 1))})
			d.origins[fmt.Sprintf("specimens[%d]", spm-1)] = hl7.ErrorLocation{Segment: "SPM", Sequence: spm, Field: 2}
		}
	}
	if len(r.Specimens) > 0 {
		return
	}
	obr := m.First("OBR") // before 2.5: OBR-7 collected, OBR-14 received, OBR-15 source
	collected := hlTime(m.Value(obr, 7, 1))
	r.Specimens = []gateway.Specimen{{ID: r.ID + "-S1", Type: first(m.Value(obr, 15, 2), m.Value(obr, 15, 1), "Not stated"),
		Collected: collected, Received: first(hlTime(m.Value(obr, 14, 1)), collected)}}
	d.origins["specimens[0]"] = hl7.ErrorLocation{Segment: "OBR", Sequence: 1, Field: 7}
}

func (d *decoder) metadata() {
	r := d.r
	if v, row := d.text(rgwVersion, ""); row != nil {
		r.Version, _ = strconv.Atoi(v)
	}
	if s, row := d.text(rgwStatus, ""); row != nil {
		r.Status = gateway.Status(s)
	}
	r.PerformingLab.Name, _ = d.text(rgwLabName, "")
	r.OrderingTrust.Name, _ = d.text(rgwTrustName, "")
	r.Test.Method, _ = d.text(rgwMethod, "")
	if r.Test.Method == "" {
		r.Test.Method = inferMethod(r.Test.Name)
	}
	if rows := d.find(lnOverall, ""); len(rows) > 0 {
		code := d.comp(rows[0], 1)
		r.Result.Outcome = reverse(outcomeLA)[code]
		if r.Result.Outcome == "" {
			r.Result.Outcome = reverse(outcomeLA)[strings.ToLower(first(d.comp(rows[0], 2), code))]
		}
		d.origins["result.outcome"] = hl7.ErrorLocation{Segment: "OBX", Sequence: rows[0].seq, Field: 5}
	}
	r.Result.Conclusion, _ = d.text(rgwConclusion, "")
	r.Result.Interpretation, _ = d.text(rgwInterpretation, "")
	r.Result.Limitations, _ = d.text(rgwLimitations, "")
	for i := 1; ; i++ {
		sub := "P" + strconv.Itoa(i)
		rows := d.find(rgwPanel, sub)
		if len(rows) == 0 {
			break
		}
		p := gateway.Panel{PanelAppID: d.comp(rows[0], 1), Name: d.comp(rows[0], 2), Version: d.comp(rows[0], 7)}
		for _, g := range d.find(rgwPanelGene, sub) {
			p.Genes = append(p.Genes, gateway.Gene{HGNCID: d.comp(g, 1), Symbol: d.comp(g, 2)})
		}
		r.Test.Panels = append(r.Test.Panels, p)
	}
	for i := 1; ; i++ {
		sub := "F" + strconv.Itoa(i)
		rel, row := d.text(rgwRelationship, sub)
		if row == nil {
			break
		}
		nhs, _ := d.text(rgwRelativeNHS, sub)
		labID, _ := d.text(rgwRelativeLabID, sub)
		affected, _ := d.text(rgwAffected, sub)
		r.Relatives = append(r.Relatives, gateway.Relative{Relationship: rel, NHSNumber: nhs, LabID: labID, Affected: affected})
		d.origins[fmt.Sprintf("relatives[%d]", i-1)] = hl7.ErrorLocation{Segment: "OBX", Sequence: row.seq, Field: 5}
	}
}

func inferMethod(name string) string {
	switch n := strings.ToLower(name); {
	case strings.Contains(n, "genome"), strings.Contains(n, "wgs"):
		return "wgs"
	case strings.Contains(n, "exome"), strings.Contains(n, "wes"):
		return "wes"
	}
	return "panel"
}

// variantRows are the LOINC codes that make an OBX group a variant.
var variantRows = map[string]bool{lnGene: true, lnCHGVS: true, lnGHGVS: true, lnAssessment: true, lnSignificance: true}

func (d *decoder) variants() {
	var subs []string
	seen := map[string]bool{}
	for _, row := range d.rows {
		if variantRows[row.code] && !seen[row.sub] {
			seen[row.sub] = true
			subs = append(subs, row.sub)
		}
	}
	for i, sub := range subs {
		d.variant(i, sub)
	}
}

func (d *decoder) variant(i int, sub string) {
	path := fmt.Sprintf("variants[%d]", i)
	v := gateway.Variant{}
	loc := func(field string, row *obx) {
		if row != nil {
			d.origins[path+field] = hl7.ErrorLocation{Segment: "OBX", Sequence: row.seq, Field: 5}
		}
	}
	var row *obx
	v.ID, row = d.text(rgwVariantID, sub)
	if v.ID == "" {
		v.ID = "v" + strconv.Itoa(i+1)
	}
	v.Type, _ = d.text(rgwVariantType, sub)
	d.find(lnAssessment, sub)
	d.find(lnVariantCat, sub)
	d.find(lnDisplayName, sub)
	d.find(lnAnalysisMethod, sub)
	d.find(lnRefSeq, sub)
	if rows := d.find(lnGene, sub); len(rows) > 0 {
		v.Gene = gateway.Gene{HGNCID: d.comp(rows[0], 1), Symbol: d.comp(rows[0], 2)}
		if !strings.HasPrefix(v.Gene.HGNCID, "HGNC:") && strings.HasPrefix(d.comp(rows[0], 2), "HGNC:") {
			v.Gene = gateway.Gene{HGNCID: d.comp(rows[0], 2), Symbol: d.comp(rows[0], 1)}
		}
		loc(".gene", rows[0])
	}
	v.Transcript, row = d.text(lnTranscript, sub)
	loc(".transcript", row)
	v.HGVS.C, row = d.codedText(lnCHGVS, sub)
	loc(".hgvs.c", row)
	v.HGVS.P, row = d.codedText(lnPHGVS, sub)
	loc(".hgvs.p", row)
	v.HGVS.G, row = d.codedText(lnGHGVS, sub)
	loc(".hgvs.g", row)
	v.Chromosome, row = d.text(lnChromosome, sub)
	v.Chromosome = strings.TrimPrefix(strings.TrimPrefix(v.Chromosome, "chr"), "Chr")
	loc(".chromosome", row)
	v.Ref, _ = d.text(lnRefAllele, sub)
	v.Alt, _ = d.text(lnAltAllele, sub)
	v.ISCN, _ = d.text(lnISCN, sub)
	if rows := d.find(lnBuild, sub); len(rows) > 0 {
		v.GenomeBuild = reverse(buildLA)[d.comp(rows[0], 1)]
		loc(".genomeBuild", rows[0])
	}
	if rows := d.find(lnStartEnd, sub); len(rows) > 0 {
		v.Start, _ = strconv.ParseInt(d.comp(rows[0], 1), 10, 64)
		v.End, _ = strconv.ParseInt(d.comp(rows[0], 2), 10, 64)
		loc(".start", rows[0])
	}
	if n, row := d.text(lnCopyNumber, sub); row != nil {
		c, _ := strconv.Atoi(n)
		v.CopyNumber = &c
	}
	v.Zygosity, row = d.answer(lnZygosity, sub, zygosityLA)
	loc(".zygosity", row)
	source, _ := d.answer(lnSourceClass, sub, sourceLA)
	v.Origin, row = d.text(rgwOrigin, sub)
	if row == nil && source != "de-novo" {
		v.Origin = source
	}
	v.Inheritance, row = d.text(rgwInheritance, sub)
	inh, _ := d.answer(lnInheritance, sub, inheritanceLA)
	if row == nil {
		v.Inheritance = inh
		if source == "de-novo" {
			v.Inheritance, v.Origin = "de-novo", "germline"
		}
	}
	if f, row := d.text(rgwHeteroplasmy, sub); row != nil {
		x, _ := strconv.ParseFloat(f, 64)
		v.HeteroplasmyFraction = &x
	}
	v.Classification.ACMG, row = d.answer(lnSignificance, sub, acmgLA)
	loc(".classification.acmg", row)
	if c, _ := d.text(rgwCriteria, sub); c != "" {
		v.Classification.Criteria = strings.Split(c, ",")
	}
	if rows := d.find(lnPhenotype, sub); len(rows) > 0 {
		v.Condition = &gateway.Condition{Code: d.comp(rows[0], 1), Name: d.comp(rows[0], 2),
			System: reverseStrings(conditionSystemsV2)[d.comp(rows[0], 3)]}
		if v.Condition.Name == "" {
			v.Condition.Name = v.Condition.Code
		}
		if v.Condition.System == "" {
			v.Condition.Code = ""
		}
		if rows := d.find(rgwModeOfInh, sub); len(rows) > 0 {
			v.Condition.ModeOfInheritance = reverse(modeHPO)[d.comp(rows[0], 1)]
		}
		loc(".condition", rows[0])
	}
	v.Comment, _ = d.text(rgwComment, sub)
	if v.Type == "" {
		v.Type = "snv"
		if v.CopyNumber != nil {
			v.Type = "cnv"
		} else if len(v.Ref) != 1 || len(v.Alt) != 1 {
			v.Type = "indel"
		}
	}
	d.r.Variants = append(d.r.Variants, v)
}

// codedText reads a value sent as ST, or as CWE with the text in component 1.
func (d *decoder) codedText(code, sub string) (string, *obx) {
	rows := d.find(code, sub)
	if len(rows) == 0 {
		return "", nil
	}
	return d.comp(rows[0], 1), rows[0]
}

// answer reads a coded value by LOINC answer code, or by its text.
func (d *decoder) answer(code, sub string, list map[string]answer) (string, *obx) {
	rows := d.find(code, sub)
	if len(rows) == 0 {
		return "", nil
	}
	rev := reverse(list)
	if k, ok := rev[d.comp(rows[0], 1)]; ok {
		return k, rows[0]
	}
	return rev[strings.ToLower(first(d.comp(rows[0], 2), d.comp(rows[0], 1)))], rows[0]
}

func (d *decoder) authorisers() {
	m, r := d.m, d.r
	for i := 1; ; i++ {
		sub := "A" + strconv.Itoa(i)
		name, row := d.text(rgwAuthName, sub)
		if row == nil {
			break
		}
		role, _ := d.text(rgwAuthRole, sub)
		at, _ := d.text(rgwAuthAt, sub)
		a := gateway.Authoriser{Name: name, Role: role, AuthorisedAt: at}
		if rows := d.find(rgwAuthReg, sub); len(rows) > 0 {
			a.Registration = gateway.Registration{Number: d.comp(rows[0], 1), Body: d.comp(rows[0], 3)}
		}
		r.Authorisers = append(r.Authorisers, a)
	}
	if len(r.Authorisers) > 0 {
		return
	}
	obr := m.First("OBR") // OBR-32 principal and OBR-33 assistant result interpreters
	for field, role := range map[int]string{32: "Principal result interpreter", 33: "Assistant result interpreter"} {
		for _, rep := range m.Repetitions(obr.Field(field)) {
			cnn := m.Component(rep, 1)
			id := m.Unescape(m.Subcomponent(cnn, 1))
			name := strings.TrimSpace(m.Unescape(m.Subcomponent(cnn, 3)) + " " + m.Unescape(m.Subcomponent(cnn, 2)))
			if name == "" && id == "" {
				continue
			}
			body := m.Unescape(m.Subcomponent(cnn, 9))
			if !gateway.RegistrationBodies.Has(body) {
				body = "LOCAL"
			}
			r.Authorisers = append(r.Authorisers, gateway.Authoriser{Name: first(name, id), Role: role,
				Registration: gateway.Registration{Body: body, Number: first(id, name)}, AuthorisedAt: r.Issued})
			d.origins["authorisers"] = hl7.ErrorLocation{Segment: "OBR", Sequence: 1, Field: field}
		}
	}
}

// pdfAndNarrative finds the PDF (by its components and the %PDF signature,
// whatever OBX-2 says) and reads free text (TX/FT/ST rows, NTE) as narrative.
func (d *decoder) pdfAndNarrative() {
	m, r := d.m, d.r
	for _, row := range d.rows {
		if row.used {
			continue
		}
		if pdf := findPDF(m, row.value); pdf != nil {
			row.used = true
			if r.PDF == nil {
				r.PDF = &gateway.Attachment{Data: pdf}
			}
			continue
		}
		if row.valueType == "TX" || row.valueType == "FT" || (row.valueType == "ST" && row.sub == "") {
			for _, rep := range m.Repetitions(row.value) {
				if t := strings.TrimSpace(m.Unescape(rep)); t != "" {
					d.narrative = append(d.narrative, t)
				}
			}
			row.used = true
		}
	}
	afterOBR := false
	for _, s := range m.Segments {
		switch s.Name() {
		case "OBR":
			afterOBR = true
		case "OBX":
			afterOBR = false
		case "NTE":
			if afterOBR {
				if t := strings.TrimSpace(m.Value(s, 3, 0)); t != "" {
					d.narrative = append(d.narrative, t)
				}
			}
		}
	}
	if r.Result.Conclusion == "" {
		r.Result.Conclusion = strings.Join(d.narrative, "\n")
		d.at("result.conclusion", "OBX", 5, 0)
	} else if len(d.narrative) > 0 && r.Result.Interpretation == "" {
		r.Result.Interpretation = strings.Join(d.narrative, "\n")
	}
	if len(r.Variants) == 0 && r.Result.Outcome == "" {
		r.Unstructured = true
		d.at("pdf", "OBX", 5, 0)
	}
}

// findPDF looks for base64 PDF data in any component of an OBX-5.
func findPDF(m *hl7.Message, value string) []byte {
	if !strings.Contains(value, "JVBERi0") {
		return nil
	}
	for _, c := range strings.Split(value, string(m.Delims.Component)) {
		if strings.HasPrefix(c, "JVBERi0") {
			data, err := base64.StdEncoding.DecodeString(strings.Map(func(r rune) rune {
				if r == '\r' || r == '\n' || r == ' ' {
					return -1
				}
				return r
			}, m.Unescape(c)))
			if err == nil && strings.HasPrefix(string(data), "%PDF") {
				return data
			}
		}
	}
	return nil
}

// hlTime turns an HL7 TS into RFC 3339 (a bare date stays a date); local
// times without a zone are read as UK time.
func hlTime(ts string) string {
	ts = strings.TrimSpace(ts)
	if len(ts) == 8 {
		return hlDate(ts)
	}
	if len(ts) < 12 {
		return ts
	}
	digits, zone := ts, ""
	if i := strings.IndexAny(ts, "+-"); i > 0 {
		digits, zone = ts[:i], ts[i:]
	}
	if i := strings.IndexByte(digits, '.'); i > 0 {
		digits = digits[:i]
	}
	for len(digits) < 14 {
		digits += "0"
	}
	var t time.Time
	var err error
	if zone != "" {
		t, err = time.Parse("20060102150405-0700", digits+zone)
	} else {
		t, err = time.ParseInLocation("20060102150405", digits, london)
	}
	if err != nil {
		return ts
	}
	return t.Format(time.RFC3339)
}

func hlDate(s string) string {
	if len(s) < 8 {
		return s
	}
	return s[:4] + "-" + s[4:6] + "-" + s[6:8]
}

func first(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
