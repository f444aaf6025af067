package hl7v2

import (
	"fmt"
	"strings"

	"github.com/nhs-genomics/results-gateway/gateway"
	"github.com/nhs-genomics/results-gateway/hl7"
)

// Decoded is an ORU^R01 read into a report: the report, what could not be
// mapped (each with its place in the message), and what was missing or odd.
type Decoded struct {
	Report   *gateway.Report
	Unmapped []gateway.Unmapped
	Warnings []gateway.Warning
	// Carried says the message held a result (an OBX value or a note) even
	// if nothing in it could be read: such a report is filed with its
	// warnings rather than bounced, so the record shows a result exists.
	Carried bool
	// Refusals are what makes the message unfileable that only the message
	// shows (two different NHS numbers for one patient), with their place.
	Refusals []Refusal
	// IssuedFromMessage says the report carried no time of its own (OBR-22)
	// and the message's (MSH-7) stands in: a resend changes it.
	IssuedFromMessage bool
	// EarlierID is the id releases before 2 December 2026 gave a lab
	// number an id cannot hold as written (its safe characters, without
	// the digest that keeps two such numbers apart); "" when the id is the
	// number as written. A report filed under it before is still this one.
	EarlierID string
	origins   map[string]hl7.ErrorLocation
}

// Locate says where in the message a report field (a JSON path such as
// "variants[0].hgvs.c") came from, for the ERR segments of the ACK.
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

// Refusal is a reason to refuse the message, located in it.
type Refusal struct {
	Problem gateway.Problem
	At      hl7.ErrorLocation
}

// decoder holds one decoding's state. Every field it reads is marked used;
// what carries content and was never read is listed as unmapped at the end,
// so nothing in a message is dropped without a trace.
type decoder struct {
	earlierID string // see Decoded.EarlierID
	m         *hl7.Message
	o         SenderOptions
	lab       string // the authenticated lab's ODS code
	r         *gateway.Report
	origins   map[string]hl7.ErrorLocation
	used      map[*hl7.Segment]map[int]bool
	seq       map[*hl7.Segment]int // position among segments of the same name, 1-based
	groups    []*group
	rows      []*obx
	claimed   map[*hl7.Segment]bool // NTEs already kept with what they comment on
	unmapped  []gateway.Unmapped
	warnings  []gateway.Warning
	refusals  []Refusal
	// narrative is free text for the conclusion: 51969-4 rows and the like.
	narrative []string
}

// group is one OBR (or, for a message without one, the rows before any)
// with its ORC, OBX rows, NTEs and SPMs.
type group struct {
	index int
	orc   *hl7.Segment
	obr   *hl7.Segment
	rows  []*obx
	notes []*hl7.Segment // NTE right after the OBR
	spms  []*hl7.Segment
}

// obx is one OBX row with where it stands.
type obx struct {
	seg              *hl7.Segment
	seq              int // its place among the message's OBX segments
	group            *group
	valueType, code  string
	codeText, system string
	sub, value       string // OBX-4 and raw OBX-5
	notes            []*hl7.Segment
	used             bool
}

// Decode reads an ORU^R01 into a report (version 0 unless the message
// carries one) as lab (the sender's ODS code, from its credentials) sent it.
// It returns EUNSUPPORTED for another message type; anything odd in the
// content is a warning, and field rules are checked later by gateway
// validation, whose paths Locate maps back to segments.
func Decode(m *hl7.Message, lab string, o SenderOptions) (*Decoded, error) {
	msh := m.First("MSH")
	if msh == nil {
		return nil, gateway.Errorf(gateway.EMALFORMED, "no MSH segment")
	}
	if t := m.Value(msh, 9, 1) + "^" + m.Value(msh, 9, 2); t != "ORU^R01" {
		return nil, gateway.Errorf(gateway.EUNSUPPORTED, "message type %s is not ORU^R01", t)
	}
	d := &decoder{m: m, o: o, lab: lab, r: &gateway.Report{SchemaVersion: gateway.SchemaVersion},
		origins: map[string]hl7.ErrorLocation{}, used: map[*hl7.Segment]map[int]bool{}, seq: map[*hl7.Segment]int{},
		claimed: map[*hl7.Segment]bool{}}
	d.structure()
	if m.First("PID") == nil {
		return nil, &gateway.Error{Code: gateway.EINVALID, Message: "the message identifies no patient",
			Problems: []gateway.Problem{{Path: "PID", Message: "the PID segment is missing"}}}
	}
	if pids := countSegments(m, "PID"); pids > 1 {
		// ORU^R01 may carry several patients' results, but a report is one
		// patient's: filed as one, the second patient's results would be
		// read as the first's. Refused whole rather than half-filed.
		return nil, &gateway.Error{Code: gateway.EINVALID, Message: "the message holds more than one patient's results",
			Problems: []gateway.Problem{{Path: "PID[2]", Message: fmt.Sprintf("%d PID segments: a report is one patient's; send each patient's results in a message of its own", pids)}}}
	}
	d.header(msh)
	d.at("result", d.groups[0].obr, 0, 0) // "nothing to file" points at the order, or the first result
	if len(d.rows) > 0 {
		d.at("result", d.rows[0].seg, 5, 0)
	}
	d.patient()
	d.order()
	d.testCode()
	d.localRows()
	d.variants()
	d.documents()
	d.results()
	d.specimens()
	d.authorisers()
	d.noDirectoryCode() // once the report's kind is known
	d.finish()
	d.leftovers()
	out := &Decoded{Report: d.r, Unmapped: d.unmapped, Warnings: d.warnings, Refusals: d.refusals, origins: d.origins,
		IssuedFromMessage: d.origins["issued"].Segment == "MSH", EarlierID: d.earlierID}
	for _, row := range d.rows {
		out.Carried = out.Carried || strings.Trim(row.value, "^~&\\ ") != ""
	}
	return out, nil
}

// countSegments counts the message's segments named name.
func countSegments(m *hl7.Message, name string) int {
	n := 0
	for _, s := range m.Segments {
		if s.Name() == name {
			n++
		}
	}
	return n
}

// structure splits the message into OBR groups and numbers the segments.
func (d *decoder) structure() {
	count := map[string]int{}
	var cur *group
	var last *obx
	var orc *hl7.Segment
	afterOBR := false
	for _, s := range d.m.Segments {
		count[s.Name()]++
		d.seq[s] = count[s.Name()]
		switch s.Name() {
		case "ORC":
			orc = s
		case "OBR":
			cur = &group{index: len(d.groups), obr: s, orc: orc}
			orc = nil
			d.groups = append(d.groups, cur)
			last, afterOBR = nil, true
		case "OBX":
			if cur == nil { // no OBR at all (some document feeds): one implicit group
				cur = &group{index: 0, orc: orc}
				d.groups = append(d.groups, cur)
			}
			row := &obx{seg: s, seq: count["OBX"], group: cur, valueType: strings.ToUpper(d.m.Value(s, 2, 0)),
				code: d.m.Value(s, 3, 1), codeText: d.m.Value(s, 3, 2), system: d.m.Value(s, 3, 3),
				sub: d.m.Value(s, 4, 0), value: s.Field(5)}
			d.use(s, 1, 2, 3, 4, 5)
			cur.rows = append(cur.rows, row)
			d.rows = append(d.rows, row)
			last, afterOBR = row, false
		case "NTE":
			switch {
			case last != nil:
				last.notes = append(last.notes, s)
			case afterOBR:
				cur.notes = append(cur.notes, s)
			default: // after PID: a comment on the patient or the message
				d.noteSegment(s, "")
			}
		case "SPM":
			if cur != nil {
				cur.spms = append(cur.spms, s)
			}
			last, afterOBR = nil, false
		}
	}
	if len(d.groups) == 0 {
		d.groups = []*group{{index: 0, orc: orc}}
	}
}

// use marks fields of s as read.
func (d *decoder) use(s *hl7.Segment, fields ...int) {
	if s == nil {
		return
	}
	u := d.used[s]
	if u == nil {
		u = map[int]bool{}
		d.used[s] = u
	}
	for _, f := range fields {
		u[f] = true
	}
}

// val reads component c (0: the whole field) of field n's first repetition, unescaped, and marks it used.
func (d *decoder) val(s *hl7.Segment, n, c int) string {
	if s == nil {
		return ""
	}
	d.use(s, n)
	return strings.TrimSpace(d.m.Value(s, n, c))
}

// raw reads field n as sent (escaped) and marks it used.
func (d *decoder) raw(s *hl7.Segment, n int) string {
	if s == nil {
		return ""
	}
	d.use(s, n)
	return s.Field(n)
}

// comp reads component c of the first repetition of a raw field, unescaped.
func (d *decoder) comp(field string, c int) string {
	rep, _, _ := strings.Cut(field, string(d.m.Delims.Repetition))
	return strings.TrimSpace(d.m.Unescape(d.m.Component(rep, c)))
}

// loc is where a segment's field is, for ERR segments and warnings.
func (d *decoder) loc(s *hl7.Segment, field, comp int) hl7.ErrorLocation {
	if s == nil {
		return hl7.ErrorLocation{Segment: "MSH", Sequence: 1}
	}
	return hl7.ErrorLocation{Segment: s.Name(), Sequence: d.seq[s], Field: field, Component: comp}
}

// at records where a report field came from.
func (d *decoder) at(path string, s *hl7.Segment, field, comp int) {
	if s != nil {
		d.origins[path] = d.loc(s, field, comp)
	}
}

// where writes a location as "OBR[1]-7" (or "OBR[1]" for a whole segment).
func where(l hl7.ErrorLocation) string {
	if l.Field == 0 {
		return fmt.Sprintf("%s[%d]", l.Segment, l.Sequence)
	}
	return fmt.Sprintf("%s[%d]-%d", l.Segment, l.Sequence, l.Field)
}

// warn records something missing or odd that does not stop the report.
func (d *decoder) warn(path string, s *hl7.Segment, field int, format string, args ...any) {
	w := gateway.Warning{Path: path, Message: fmt.Sprintf(format, args...)}
	if s != nil {
		w.Source = where(d.loc(s, field, 0))
	}
	d.warnings = append(d.warnings, w)
}

// unmap lists content that is kept only on the record, with why.
func (d *decoder) unmap(s *hl7.Segment, field int, code, text, reason string) {
	d.unmapped = append(d.unmapped, gateway.Unmapped{Location: where(d.loc(s, field, 0)), Code: code, Text: clip(text, 200), Reason: reason})
}

// unmapRep lists repetition rep (1-based) of a field, at "PID[1]-5[2]";
// rep 0 is a field sent without repetitions, at "PID[1]-5".
func (d *decoder) unmapRep(s *hl7.Segment, field, rep int, code, text, reason string) {
	loc := where(d.loc(s, field, 0))
	if rep > 0 {
		loc += fmt.Sprintf("[%d]", rep)
	}
	d.unmapped = append(d.unmapped, gateway.Unmapped{Location: loc, Code: code, Text: clip(text, 200), Reason: reason})
}

// repetition numbers repetition i (0-based) of n for unmapRep: 0 when the
// field has only the one.
func repetition(i, n int) int {
	if n > 1 {
		return i + 1
	}
	return 0
}

// unmapComponents lists the components of one repetition (numbered as
// for unmapRep) that nothing reads (those not in read), as "PID-11.6 GBR",
// so a field read in part is not dropped in part.
func (d *decoder) unmapComponents(s *hl7.Segment, field, rep int, value string, read map[int]bool, what string) {
	var left []string
	for c, v := range strings.Split(value, string(d.m.Delims.Component)) {
		if v = strings.TrimSpace(d.m.Unescape(v)); v != "" && !read[c+1] {
			left = append(left, fmt.Sprintf("%s-%d.%d %s", s.Name(), field, c+1, v))
		}
	}
	if len(left) > 0 {
		d.unmapRep(s, field, rep, "", strings.Join(left, "; "), what+" not mapped")
	}
}

// noteSegment adds an NTE's text to the report notes, labelled when it
// comments on something that has no notes of its own.
func (d *decoder) noteSegment(s *hl7.Segment, label string) {
	text := d.noteText(s)
	if text == "" {
		return
	}
	if label != "" {
		text = label + ": " + text
	}
	d.r.Notes = append(d.r.Notes, text)
}

// noteText is an NTE's comment (NTE-3, every repetition); "" for a
// warning another Results Gateway wrote, which is kept as a warning.
func (d *decoder) noteText(s *hl7.Segment) string {
	d.use(s, 1, 2, 3)
	// NTE-4 (comment type, table 0364): a remark is what a note is; any
	// other type (patient instructions, a reason) is left for the list of
	// what was not mapped rather than dropped.
	if plainNote[strings.ToUpper(d.m.Value(s, 4, 1))] || d.m.Value(s, 4, 1) == gatewayWarning && d.m.Value(s, 4, 3) == Local {
		d.use(s, 4)
	}
	if d.m.Value(s, 4, 1) == gatewayWarning && d.m.Value(s, 4, 3) == Local {
		d.warnings = append(d.warnings, gateway.Warning{Source: where(d.loc(s, 3, 0)),
			Message: "the sending gateway noted: " + strings.TrimSpace(d.m.Value(s, 3, 0))})
		return ""
	}
	var lines []string
	for _, rep := range d.m.Repetitions(s.Field(3)) {
		lines = append(lines, strings.TrimRight(d.m.Unescape(rep), " "))
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}

// plainNote are the NTE-4 comment types that say no more than that the
// segment is a note: none, or remark (RE, or the word, as some LIMS write it).
var plainNote = map[string]bool{"": true, "RE": true, "REMARK": true}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

func first(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
