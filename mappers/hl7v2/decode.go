package hl7v2

import (
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
	p.Gender = fromSex[d.m.Value(pid, 8, 1)]
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
		r.Result.Outcome = fromOutcome[code]
		if r.Result.Outcome == "" {
			r.Result.Outcome = fromOutcome[strings.ToLower(first(d.comp(rows[0], 2), code))]
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
