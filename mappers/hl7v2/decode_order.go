package hl7v2

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"

	"github.com/nhs-genomics/results-gateway/gateway"
	"github.com/nhs-genomics/results-gateway/hl7"
)

var (
	idUnsafe = regexp.MustCompile(`[^A-Za-z0-9._-]+`)
	// directoryInText finds a test directory code written into a name, as
	// in "PACKAGE: M4.14 - Non-Small Cell Lung Cancer".
	directoryInText = regexp.MustCompile(`\b([RM]\d{1,4}\.\d{1,2})\b`)
	// directoryNote is iGene's NTE convention: "R240.1=PACKAGE: R240.1 - Diagnostic testing ...".
	directoryNote = regexp.MustCompile(`^\s*([RM]\d{1,4}(?:\.\d{1,2})?)\s*=\s*(?:(?:PACKAGE|PANEL|TEST)\s*:\s*)?(?:[RM]\d{1,4}(?:\.\d{1,2})?\s*-\s*)?(.*)$`)
)

// resultStatus maps OBR-25 (table 0123) and OBX-11 (table 0085) to a report status.
var resultStatus = map[string]gateway.Status{
	"F": gateway.StatusFinal, "C": gateway.StatusCorrected, "P": gateway.StatusPreliminary, "A": gateway.StatusPreliminary,
	"R": gateway.StatusPreliminary, "S": gateway.StatusPreliminary, "I": gateway.StatusPreliminary,
	"X": gateway.StatusCancelled, "W": gateway.StatusEnteredInError, "D": gateway.StatusEnteredInError,
}

// order reads the report's identity, status, times and requester from the
// first OBR and its ORC.
func (d *decoder) order() {
	r, g := d.r, d.groups[0]
	obr, orc := g.obr, g.orc
	d.use(obr, 1)
	d.use(orc, 1, 5)
	for _, c := range []struct {
		s *hl7.Segment
		f int
	}{{obr, 3}, {orc, 3}, {obr, 2}, {orc, 2}, {obr, 20}, {obr, 18}} {
		if v := d.val(c.s, c.f, 1); v != "" && r.ID == "" {
			r.ID = v
			d.at("id", c.s, c.f, 1)
			if c.f != 3 {
				d.warn("id", c.s, c.f, "no filler order number (OBR-3 or ORC-3): the report id is taken from %s", where(d.loc(c.s, c.f, 0)))
			}
		}
	}
	d.reportID()
	r.OrderNumber = first(d.val(obr, 2, 1), d.val(orc, 2, 1))
	gms := d.val(obr, 2, 3) == GMSOrderSystem || d.val(orc, 2, 3) == GMSOrderSystem || d.o.GMSOrderNumbers
	r.OrderNumberLocal = r.OrderNumber != "" && !gms
	d.copyTo(obr)
	if parent := first(d.val(obr, 29, 2), d.val(obr, 29, 1)); parent != "" { // OBR-29: the report this one follows
		r.Previous = &gateway.PreviousReport{ID: parent}
		d.use(obr, 29)
		d.at("previous", obr, 29, 0)
	}
	d.status()
	r.Issued = hlTime(d.val(obr, 22, 1))
	d.at("issued", obr, 22, 0)
	if r.Issued == "" {
		msh := d.m.First("MSH")
		r.Issued = hlTime(d.val(msh, 7, 1))
		d.at("issued", msh, 7, 0)
		d.warn("issued", obr, 22, "no report time in OBR-22: the message time (MSH-7) is used")
	}
	orderedBy, onOBR := d.person(orc, 12), d.person(obr, 16)
	switch {
	case orderedBy != nil:
		r.RequestingClinician = orderedBy
		if onOBR != nil && onOBR.Name != orderedBy.Name {
			d.unmap(obr, 16, "", onOBR.Name, "a different ordering provider from ORC-12's, which is the one kept")
		}
	case onOBR != nil:
		r.RequestingClinician = onOBR
	}
	d.at("requestingClinician", obr, 16, 0)
	r.Test.Reason = d.val(obr, 13, 0)
}

// reportID makes the id safe for URLs and keys, or derives one from the
// content when the message carries no order number at all.
func (d *decoder) reportID() {
	r := d.r
	if r.ID == "" {
		h := sha256.New()
		h.Write([]byte(d.lab + "|" + r.Patient.NHSNumber + r.Patient.CHINumber + r.Patient.HCNumber + "|" + r.Patient.MRN))
		for _, g := range d.groups {
			if g.obr != nil {
				h.Write([]byte("|" + g.obr.Field(4) + "|" + g.obr.Field(7)))
			}
		}
		for _, row := range d.rows {
			h.Write([]byte("|" + row.seg.Field(3) + "|" + row.value))
		}
		r.ID = "HL7-" + hex.EncodeToString(h.Sum(nil))[:20]
		d.warn("id", d.m.First("MSH"), 10, "the message has no order or report number (OBR-2, OBR-3, ORC-2, ORC-3): the report id %s is derived from its content", r.ID)
		return
	}
	if safe := safeID(r.ID); safe != r.ID {
		earlier := strings.Trim(idUnsafe.ReplaceAllString(r.ID, "-"), "-._")
		d.earlierID = earlier[:min(len(earlier), 64)]
		loc := d.origins["id"]
		d.warnings = append(d.warnings, gateway.Warning{Path: "id", Source: where(loc),
			Message: "the report number " + r.ID + " holds characters an id cannot, or is longer than 64: filed as " + safe})
		r.ID = safe
	}
}

// safeID is the lab's number as an id: unchanged when it is one, else its
// safe characters, cut to fit, and a digest of the number as the lab wrote
// it. Without the digest "T-COL/1" and "T-COL 1", two patients' reports,
// would both be T-COL-1, and the second filed as a correction of the
// first that moves its result to another patient; with it, each number
// is its own report, and the same number always the same id.
func safeID(number string) string {
	safe := strings.Trim(idUnsafe.ReplaceAllString(number, "-"), "-._")
	if safe == number && len(safe) <= 64 {
		return number
	}
	sum := sha256.Sum256([]byte(number))
	return strings.TrimRight(safe[:min(len(safe), 55)], "-._") + "-" + hex.EncodeToString(sum[:4])
}

// status reads OBR-25, else the OBX result statuses; a message with neither
// is a finished result (an ORU), filed as final with a warning.
func (d *decoder) status() {
	d.firstStatus()
	d.laterGroupStatuses()
}

// laterGroupStatuses reads OBR-25 of the groups after the first: while any
// test's results are preliminary the report as a whole is, whatever the
// first group says (a panel whose second test is still running).
func (d *decoder) laterGroupStatuses() {
	for _, g := range d.groups[1:] {
		if g.obr == nil {
			continue
		}
		code := strings.ToUpper(d.val(g.obr, 25, 0))
		d.use(g.obr, 25)
		released := d.r.Status == gateway.StatusFinal || d.r.Status == gateway.StatusAmended || d.r.Status == gateway.StatusCorrected
		if resultStatus[code] == gateway.StatusPreliminary && released {
			d.r.Status = gateway.StatusPreliminary
			d.warn("status", g.obr, 25, "%s is %q: one test's results are not final yet, so the report is filed as preliminary", where(d.loc(g.obr, 25, 0)), code)
		}
	}
}

// firstStatus reads the first group's status.
func (d *decoder) firstStatus() {
	obr := d.groups[0].obr
	code := strings.ToUpper(d.val(obr, 25, 0))
	d.at("status", obr, 25, 0)
	onOBR := code != ""
	if !onOBR {
		counts := map[string]int{}
		best := ""
		for _, row := range d.rows {
			c := strings.ToUpper(d.val(row.seg, 11, 0))
			if c == "" {
				continue
			}
			counts[c]++
			if best == "" || counts[c] > counts[best] {
				best = c
			}
		}
		code = best
		if code != "" {
			d.warn("status", obr, 25, "no result status in OBR-25: taken from the OBX result statuses (%s)", code)
		}
	}
	for _, row := range d.rows {
		d.use(row.seg, 11)
	}
	switch {
	case onOBR && (code == "W" || code == "D"):
		// Table 0085's codes, not 0123's: earlier releases of this gateway wrote W here.
		d.warn("status", obr, 25, "result status %q is not in HL7 table 0123 (it is an OBX-11 code): read as entered in error", code)
	case code == "C" && d.allResultsWrong():
		// A correction whose every result is posted as wrong (OBX-11 W) withdraws the report.
		d.r.Status = gateway.StatusEnteredInError
		return
	}
	if s, ok := resultStatus[code]; ok {
		d.r.Status = s
		return
	}
	d.r.Status = gateway.StatusFinal
	if code == "" {
		d.warn("status", obr, 25, "no result status (OBR-25 or OBX-11): filed as final, as a result message is")
	} else {
		d.warn("status", obr, 25, "result status %q is not in HL7 table 0123: filed as final", code)
	}
}

// allResultsWrong reports whether the message has results and every
// OBX-11 says "wrong" (W: posted to the wrong patient, or otherwise in error).
func (d *decoder) allResultsWrong() bool {
	for _, row := range d.rows {
		if strings.ToUpper(d.val(row.seg, 11, 0)) != "W" {
			return false
		}
	}
	return len(d.rows) > 0
}

// person reads an XCN (ORC-12, OBR-16): id, family, given, middle, suffix,
// prefix ... and assigning authority (component 9). nil when no name. The
// report has one requesting clinician: a further repetition (a second
// clinician to copy the result to) is listed, not dropped.
func (d *decoder) person(s *hl7.Segment, f int) *gateway.Clinician {
	field := d.raw(s, f)
	if field == "" {
		return nil
	}
	for i, rep := range d.m.Repetitions(field)[1:] {
		if strings.Trim(rep, "^&~ ") != "" {
			d.unmapRep(s, f, i+2, strings.TrimSpace(d.m.Unescape(d.m.Component(rep, 1))), d.m.Unescape(rep), "a further clinician: only the first is kept")
		}
	}
	id, given, middle, prefix := d.comp(field, 1), d.comp(field, 3), d.comp(field, 4), d.comp(field, 6)
	rep := strings.Split(field, string(d.m.Delims.Repetition))[0]
	family := strings.TrimSpace(d.m.Unescape(d.m.Subcomponent(d.m.Component(rep, 2), 1))) // FN: surname&prefix...
	name := strings.Join(strings.Fields(prefix+" "+given+" "+middle+" "+family), " ")
	if name == "" {
		return nil
	}
	c := &gateway.Clinician{Name: name}
	if body := strings.ToUpper(d.comp(field, 9)); id != "" && gateway.RegistrationBodies.Has(body) {
		c.Registration = &gateway.Registration{Body: body, Number: id}
	}
	return c
}

// testCode finds the Genomic Test Directory code, from the first place
// that has one: OBR-4 (or its alternate identifier), an OBX coded in the
// directory, an NTE "R240.1=PACKAGE: ...", the sender's map of local codes,
// or the test's name.
func (d *decoder) testCode() {
	r, obr := d.r, d.groups[0].obr
	t := &r.Test
	code, name, system := d.val(obr, 4, 1), d.val(obr, 4, 2), d.val(obr, 4, 3)
	t.DirectoryVersion = d.val(obr, 4, 7)
	d.at("test.code", obr, 4, 1)
	d.at("test.name", obr, 4, 2)
	// A directory-shaped code counts as one only in the directory's system
	// or none: "R1^Renal profile^WINPATH" is a pathology lab's own code.
	directory := func(system string) bool { return system == "" || isDirectorySystem(system) }
	switch {
	case testCodeSpec.MatchString(code) && directory(system):
		t.Code, t.Name = code, first(d.val(obr, 4, 9), name) // CWE-9 original text is the lab's own words
		if alt := d.val(obr, 4, 4); alt != "" {
			t.LocalCode = &gateway.Coding{Code: alt, Display: d.val(obr, 4, 5), System: systemURI(d.val(obr, 4, 6))}
		}
		return
	case testCodeSpec.MatchString(d.val(obr, 4, 4)) && directory(d.val(obr, 4, 6)):
		t.Code, t.Name = d.val(obr, 4, 4), d.val(obr, 4, 5)
		d.at("test.code", obr, 4, 4)
	}
	if code != "" || name != "" {
		// A known system (LN: a LOINC test code) by its URI; a lab's own stays its own.
		t.LocalCode = &gateway.Coding{Code: code, Display: name, System: systemURI(system)}
	}
	if t.Code != "" {
		return
	}
	for _, row := range d.rows {
		if isDirectorySystem(row.system) && testCodeSpec.MatchString(row.code) {
			row.used = true
			d.use(row.seg, 14)
			t.Code, t.Name = row.code, row.codeText
			d.at("test.code", row.seg, 3, 1)
			return
		}
	}
	for _, nte := range d.allNotes() {
		if m := directoryNote.FindStringSubmatch(d.m.Value(nte, 3, 0)); m != nil {
			d.use(nte, 1, 2, 3, 4)
			d.claimed[nte] = true
			t.Code, t.Name = m[1], strings.TrimSpace(m[2])
			d.at("test.code", nte, 3, 0)
			return
		}
	}
	if mapped, ok := d.o.TestCodes[code]; ok {
		t.Code = mapped
		return
	}
	if m := directoryInText.FindStringSubmatch(name); m != nil {
		t.Code = m[1]
		d.warn("test.code", obr, 4, "the test directory code %s is read from the test's name %q", m[1], name)
	}
}

// noDirectoryCode says, for a genomic report, that its test has no
// directory code but the lab's own in OBR-4, where the code is, rather
// than as a bare "missing". A laboratory report (a blood count) needs none.
func (d *decoder) noDirectoryCode() {
	t := d.r.Test
	if l := t.LocalCode; d.r.IsGenomic() && t.Code == "" && l != nil && l.Code != "" {
		d.warn("test.code", d.groups[0].obr, 4, "no National Genomic Test Directory code: the test is filed under the code OBR-4 gives (%s in %s), and %s",
			l.Code, first(systemName(l.System), "the lab's own system"), "a sender's testCodes setting can map it to one")
	}
}

func isDirectorySystem(system string) bool {
	s := strings.ToLower(system)
	return strings.Contains(s, "genomictestdirectory") || strings.Contains(s, "digitalgenomictestservice")
}

// allNotes lists every NTE, in order.
func (d *decoder) allNotes() []*hl7.Segment {
	var out []*hl7.Segment
	for _, s := range d.m.Segments {
		if s.Name() == "NTE" {
			out = append(out, s)
		}
	}
	return out
}

// authorisers reads the gateway's own rows, else OBR-32 (principal result
// interpreter) and OBR-33 (assistant) of every OBR, each once.
func (d *decoder) authorisers() {
	r := d.r
	if len(r.Authorisers) > 0 { // the gateway's own rows; OBR-32 says the same for other readers
		for _, g := range d.groups {
			d.use(g.obr, 32, 33)
		}
		return
	}
	seen := map[string]bool{}
	for _, g := range d.groups {
		for _, f := range []struct {
			field int
			role  string
		}{{32, "Principal result interpreter"}, {33, "Assistant result interpreter"}} {
			for _, rep := range d.m.Repetitions(d.raw(g.obr, f.field)) {
				id, name := d.interpreter(rep)
				if id == "" && name == "" {
					continue
				}
				if key := id + "|" + name; !seen[key] {
					seen[key] = true
					r.Authorisers = append(r.Authorisers, gateway.Authoriser{Name: first(name, id), Role: f.role,
						Registration: gateway.Registration{Body: "LOCAL", Number: first(id, name)}, AuthorisedAt: r.Issued})
					d.at("authorisers", g.obr, f.field, 0)
				}
			}
		}
	}
	if len(r.Authorisers) == 0 && r.IsGenomic() {
		d.warn("authorisers", d.groups[0].obr, 32, "no result interpreter (OBR-32): the report names nobody who authorised it")
	}
}

// interpreter reads an OBR-32/33 repetition: CN components in 2.3/2.4
// (id^family^given), or CNN subcomponents of component 1 in 2.5 (id&family&given).
func (d *decoder) interpreter(rep string) (id, name string) {
	parts := func(get func(int) string) (string, string) {
		return strings.TrimSpace(get(1)), strings.Join(strings.Fields(get(6)+" "+get(3)+" "+get(4)+" "+get(2)), " ")
	}
	if strings.Trim(rep, string(d.m.Delims.Component)) != strings.TrimRight(d.m.Component(rep, 1), " ") {
		return parts(func(c int) string { return d.m.Unescape(d.m.Component(rep, c)) })
	}
	cnn := d.m.Component(rep, 1)
	return parts(func(c int) string { return d.m.Unescape(d.m.Subcomponent(cnn, c)) })
}

// copyTo reads OBR-28 (result copies to): each organisation named by an
// ODS code becomes a copy-to recipient; a person (a clinician's own code)
// is listed as not routed, since the gateway routes by organisation.
func (d *decoder) copyTo(obr *hl7.Segment) {
	if obr == nil {
		return
	}
	for i, rep := range d.m.Repetitions(d.raw(obr, 28)) {
		id := strings.TrimSpace(d.m.Unescape(d.m.Component(rep, 1)))
		if id == "" {
			continue
		}
		name := strings.TrimSpace(d.m.Unescape(d.m.Component(rep, 2)))
		authority := strings.ToUpper(strings.TrimSpace(d.m.Unescape(d.m.Component(rep, 9))))
		if authority == "ODS" || authority == "" && odsCode.MatchString(id) {
			d.r.CopyTo = append(d.r.CopyTo, gateway.Organisation{ODSCode: id, Name: name})
			d.at(fmt.Sprintf("copyTo[%d]", len(d.r.CopyTo)-1), obr, 28, i+1)
			continue
		}
		d.unmap(obr, 28, id, name, "a copy-to recipient that is not an organisation with an ODS code: not routed")
	}
	d.use(obr, 28)
}
