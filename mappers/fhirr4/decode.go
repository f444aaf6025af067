package fhirr4

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"

	"github.com/nhs-genomics/results-gateway/gateway"
)

// Decoded is a report read from a lab's FHIR Bundle: what could not be
// mapped is listed with its FHIRPath, what was odd is a warning.
type Decoded struct {
	Report   *gateway.Report
	Unmapped []gateway.Unmapped
	Warnings []gateway.Warning
	origins  map[string]string // report path → FHIRPath it was read from
}

// Locate is the FHIRPath a report path (as validation names it, e.g.
// "patient.nhsNumber" or "specimens[0].type") was read from, or the
// nearest enclosing one; "Bundle" when nothing closer is known.
func (d *Decoded) Locate(path string) string {
	for p := path; p != ""; {
		if at, ok := d.origins[p]; ok {
			return at
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return "Bundle"
}

// Decode reads a Bundle (transaction, batch, collection, document or
// message) holding one DiagnosticReport into a report, as lab (the
// sender's ODS code, from its credentials) sent it. Where the Bundle is not
// FHIR R4 JSON the error names the element; a Bundle holding no report, or
// more than one, is refused with the reason.
func Decode(body []byte, lab string) (*Decoded, error) {
	if err := checkR4(body); err != nil {
		return nil, err
	}
	var root jnode
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber() // decimals as written: 6.00 stays 6.00
	if err := dec.Decode(&root); err != nil {
		return nil, gateway.Errorf(gateway.EMALFORMED, "the body is not JSON: %v", err)
	}
	d := &fhirDecoder{lab: lab, r: &gateway.Report{SchemaVersion: gateway.SchemaVersion},
		out: &Decoded{origins: map[string]string{}}, byRef: map[string]int{}, used: map[int]bool{}}
	d.out.Report = d.r
	switch root.str("resourceType") {
	case "Bundle":
		switch t := root.str("type"); t {
		case "transaction", "batch", "collection", "document", "message":
		default:
			return nil, refuse("Bundle", "type", "a %s Bundle is an answer or a listing, not a report to file: post a transaction, batch, collection, document or message Bundle", t)
		}
		d.index(root)
	case "DiagnosticReport": // a report on its own: its references must carry identifiers
		d.entries = []bundleEntry{{res: root, path: "DiagnosticReport"}}
	default:
		return nil, refuse("Bundle", "resourceType", "post a Bundle holding a DiagnosticReport, not a %s", root.str("resourceType"))
	}
	report, err := d.findReport()
	if err != nil {
		return nil, err
	}
	d.report(report)
	if d.missingPatient {
		return nil, refuse(report.path, "subject", "the patient is not in the Bundle and the reference carries no identifier: put the Patient in the Bundle, or give the reference an NHS number identifier")
	}
	d.listUnused()
	return d.out, nil
}

// checkR4 has google/fhir's R4 parser read the body (without its stricter
// profile checks, which real senders' Bundles often miss): JSON that is
// not an R4 resource is refused with the element it failed at.
func checkR4(body []byte) error {
	u, err := jsonformat.NewUnmarshallerWithoutValidation("UTC", fhirversion.R4)
	if err != nil {
		return err
	}
	if _, err := u.Unmarshal(body); err != nil {
		return &gateway.Error{Code: gateway.EMALFORMED, Message: "the body is not a FHIR R4 resource",
			Problems: []gateway.Problem{{Path: "Bundle", Message: err.Error()}}}
	}
	return nil
}

func refuse(at, field, format string, args ...any) error {
	return &gateway.Error{Code: gateway.EINVALID, Message: "the Bundle cannot be filed as a report",
		Problems: []gateway.Problem{{Path: at + pathSep(at, field), Message: fmt.Sprintf(format, args...)}}}
}

func pathSep(at, field string) string {
	if field == "" {
		return ""
	}
	return "." + field
}

// jnode is one JSON object of a FHIR resource.
type jnode map[string]any

func (n jnode) str(k string) string {
	s, _ := n[k].(string)
	return s
}

func (n jnode) obj(k string) jnode {
	m, _ := n[k].(map[string]any)
	return m
}

func (n jnode) list(k string) []jnode {
	var out []jnode
	switch v := n[k].(type) {
	case []any:
		for _, e := range v {
			if m, ok := e.(map[string]any); ok {
				out = append(out, m)
			}
		}
	case map[string]any: // a single value where FHIR has a list: liberal
		out = append(out, v)
	}
	return out
}

func (n jnode) strs(k string) []string {
	var out []string
	if v, ok := n[k].([]any); ok {
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
	}
	return out
}

// coding finds the first coding with system; ok false when there is none.
func (n jnode) coding(system string) (code, display string, ok bool) {
	for _, c := range n.list("coding") {
		if c.str("system") == system {
			return c.str("code"), c.str("display"), true
		}
	}
	return "", "", false
}

// text is a CodeableConcept's text, else its first coding's display or code.
func (n jnode) text() string {
	if t := n.str("text"); t != "" {
		return t
	}
	for _, c := range n.list("coding") {
		if c.str("display") != "" {
			return c.str("display")
		}
		if c.str("code") != "" {
			return c.str("code")
		}
	}
	return ""
}

type bundleEntry struct {
	res  jnode
	path string // its FHIRPath: Bundle.entry[3].resource
}

type fhirDecoder struct {
	lab string
	// missingPatient: the subject is a reference to nothing in the Bundle,
	// with no identifier: there is no one to file the report against.
	missingPatient bool
	r              *gateway.Report
	out            *Decoded
	entries        []bundleEntry
	byRef          map[string]int // fullUrl, Type/id → entries index
	used           map[int]bool
}

func (d *fhirDecoder) index(bundle jnode) {
	for i, e := range bundle.list("entry") {
		res := e.obj("resource")
		if res == nil {
			continue
		}
		d.entries = append(d.entries, bundleEntry{res: res, path: fmt.Sprintf("Bundle.entry[%d].resource", i)})
		n := len(d.entries) - 1
		if u := e.str("fullUrl"); u != "" {
			d.byRef[u] = n
		}
		if id := res.str("id"); id != "" {
			d.byRef[res.str("resourceType")+"/"+id] = n
		}
	}
}

// resolve finds the resource a reference points at in the Bundle: by
// fullUrl, by Type/id (also at the end of an absolute URL), or contained.
func (d *fhirDecoder) resolve(ref jnode, within bundleEntry) (bundleEntry, bool) {
	r := ref.str("reference")
	if r == "" {
		return bundleEntry{}, false
	}
	if strings.HasPrefix(r, "#") {
		for i, c := range within.res.list("contained") {
			if c.str("id") == r[1:] {
				return bundleEntry{res: c, path: fmt.Sprintf("%s.contained[%d]", within.path, i)}, true
			}
		}
		return bundleEntry{}, false
	}
	r, _, _ = strings.Cut(r, "/_history/") // a versioned reference names the same resource
	n, ok := d.byRef[r]
	if !ok {
		parts := strings.Split(strings.TrimSuffix(r, "/"), "/")
		if len(parts) >= 2 {
			n, ok = d.byRef[parts[len(parts)-2]+"/"+parts[len(parts)-1]]
		}
	}
	if !ok {
		return bundleEntry{}, false
	}
	d.used[n] = true
	return d.entries[n], true
}

func (d *fhirDecoder) at(reportPath, fhirPath string) { d.out.origins[reportPath] = fhirPath }

func (d *fhirDecoder) warn(reportPath, fhirPath, format string, args ...any) {
	d.out.Warnings = append(d.out.Warnings, gateway.Warning{Path: reportPath, Source: fhirPath, Message: fmt.Sprintf(format, args...)})
}

func (d *fhirDecoder) unmap(fhirPath, code, text, reason string) {
	d.out.Unmapped = append(d.out.Unmapped, gateway.Unmapped{Location: fhirPath, Code: code, Text: text, Reason: reason})
}

// findReport is the Bundle's one DiagnosticReport.
func (d *fhirDecoder) findReport() (bundleEntry, error) {
	var found []int
	for i, e := range d.entries {
		if e.res.str("resourceType") == "DiagnosticReport" {
			found = append(found, i)
		}
	}
	switch {
	case len(found) == 1:
		d.used[found[0]] = true
		return d.entries[found[0]], nil
	case len(found) == 0:
		kinds := map[string]bool{}
		for _, e := range d.entries {
			kinds[e.res.str("resourceType")] = true
		}
		if kinds["ServiceRequest"] || kinds["Task"] {
			return bundleEntry{}, refuse("Bundle", "entry", "the Bundle holds no DiagnosticReport: it is an order (ServiceRequest/Task), not a report")
		}
		return bundleEntry{}, refuse("Bundle", "entry", "the Bundle holds no DiagnosticReport")
	default:
		return bundleEntry{}, refuse("Bundle", "entry", "the Bundle holds %d DiagnosticReports: post one report per Bundle", len(found))
	}
}

// listUnused lists every resource of the Bundle the report did not read.
func (d *fhirDecoder) listUnused() {
	for i, e := range d.entries {
		if d.used[i] {
			continue
		}
		t := e.res.str("resourceType")
		reason := "not part of the report: nothing in the DiagnosticReport leads to it"
		switch t {
		case "Composition", "MessageHeader":
			reason = "the document's or message's envelope: its report was read"
		}
		d.unmap(e.path, t, e.res.str("id"), reason)
	}
}

func (d *fhirDecoder) report(dr bundleEntry) {
	r, res := d.r, dr.res
	r.ID = d.reportID(dr)
	d.at("id", dr.path+".identifier")
	r.Status = reportStatus(res.str("status"))
	if r.Status == "" {
		d.warn("status", dr.path+".status", "DiagnosticReport.status %q is not one the gateway files: read as final", res.str("status"))
		r.Status = gateway.StatusFinal
	}
	d.at("status", dr.path+".status")
	r.Issued = res.str("issued")
	d.at("issued", dr.path+".issued")
	r.Version = d.version(res)
	genomic := false
	for _, c := range res.list("category") {
		if code, _, ok := c.coding(systemV20074); ok && code == "GE" {
			genomic = true
		}
	}
	if code := res.obj("code"); !genomic && code != nil {
		_, _, loincGenetic := code.coding(systemLOINC)
		_, _, snomed := code.coding(systemSNOMED)
		_, _, ngtd := code.coding(systemTestDirectory)
		genomic = ngtd || (loincGenetic && hasCode(code, systemLOINC, "51969-4")) || (snomed && hasCode(code, systemSNOMED, "1054161000000101"))
	}
	if !genomic {
		r.Kind = gateway.KindLaboratory
	}
	d.performer(dr)
	d.lineage() // before the order, whose basedOn completes it
	d.order(dr)
	d.subject(dr)
	d.specimens(dr)
	d.conclusion(dr)
	d.interpreters(dr)
	d.results(dr)
	d.presentedForm(dr)
	d.study(dr)
	d.family()
	d.document()
	d.copyTo(dr)
	if !r.IsGenomic() {
		r.Unstructured = len(r.ResultGroups) == 0 && len(r.Variants) == 0
	} else if r.Result.Outcome == "" && len(r.Variants) == 0 {
		r.Unstructured = true // only text and a PDF: no coded findings
	}
}

func hasCode(cc jnode, system, code string) bool {
	for _, c := range cc.list("coding") {
		if c.str("system") == system && c.str("code") == code {
			return true
		}
	}
	return false
}

func reportStatus(s string) gateway.Status {
	switch s {
	case "final", "amended", "corrected", "cancelled", "entered-in-error", "preliminary":
		return gateway.Status(s)
	case "partial", "registered":
		return gateway.StatusPreliminary
	case "appended":
		return gateway.StatusAmended
	}
	return ""
}

// reportID is the report's business identifier: the gateway's own report
// identifier when the Bundle is one the gateway wrote, else NHS England's
// local identifier, else the lab's first identifier, else the resource id.
func (d *fhirDecoder) reportID(dr bundleEntry) string {
	ids := dr.res.list("identifier")
	for _, suffix := range []string{"/Id/report", systemNHSELocalDR} {
		for _, id := range ids {
			if strings.HasSuffix(id.str("system"), suffix) && id.str("value") != "" {
				return id.str("value")
			}
		}
	}
	for _, id := range ids {
		if id.str("value") != "" {
			return id.str("value")
		}
	}
	if id := dr.res.str("id"); id != "" {
		d.warn("id", dr.path+".id", "the DiagnosticReport has no identifier: its resource id is the report id")
		return id
	}
	return ""
}

// version is the report's version: the gateway's document version when it
// wrote the Bundle, else the resource's versionId; 0 lets intake number it.
func (d *fhirDecoder) version(dr jnode) int {
	for _, e := range d.entries {
		if e.res.str("resourceType") != "DocumentReference" {
			continue
		}
		m := e.res.obj("masterIdentifier")
		if v, ok := strings.CutPrefix(m.str("value"), d.r.ID+"-v"); ok && strings.HasSuffix(m.str("system"), "/Id/document-version") {
			if n, err := strconv.Atoi(v); err == nil {
				return n
			}
		}
	}
	if n, err := strconv.Atoi(dr.obj("meta").str("versionId")); err == nil && n > 0 {
		return n
	}
	return 0
}

// organisation reads an Organization (or the organisation a
// PractitionerRole works for, or a reference's identifier) as an ODS-coded
// organisation.
func (d *fhirDecoder) organisation(ref jnode, within bundleEntry) (gateway.Organisation, string, bool) {
	e, ok := d.resolve(ref, within)
	if !ok {
		if id := ref.obj("identifier"); id.str("system") == systemODS && id.str("value") != "" {
			return gateway.Organisation{ODSCode: id.str("value"), Name: ref.str("display")}, within.path, true
		}
		return gateway.Organisation{}, "", false
	}
	switch e.res.str("resourceType") {
	case "PractitionerRole":
		return d.organisation(e.res.obj("organization"), e)
	case "Organization":
		for _, id := range e.res.list("identifier") {
			if id.str("value") != "" && (id.str("system") == systemODS || strings.HasSuffix(id.str("system"), "/Id/organisation")) {
				return gateway.Organisation{ODSCode: id.str("value"), Name: e.res.str("name")}, e.path, true
			}
		}
	}
	return gateway.Organisation{}, "", false
}

func (d *fhirDecoder) performer(dr bundleEntry) {
	for _, p := range dr.res.list("performer") {
		if org, at, ok := d.organisation(p, dr); ok {
			d.r.PerformingLab = org
			d.at("performingLab", at)
			return
		}
	}
	// The sender is who its credentials say: a report that names no lab is
	// the sender's.
	d.r.PerformingLab = gateway.Organisation{ODSCode: d.lab}
	d.warn("performingLab", dr.path+".performer", "the report names no performing laboratory with an ODS code: read as the sender's, %s", d.lab)
}

// order reads the ServiceRequest the report answers: the ordering trust,
// order number, requester and test.
func (d *fhirDecoder) order(dr bundleEntry) {
	r := d.r
	var sr bundleEntry
	found := false
	for _, b := range dr.res.list("basedOn") {
		if e, ok := d.resolve(b, dr); ok && e.res.str("resourceType") == "ServiceRequest" {
			sr, found = e, true
			break
		}
		if id := b.obj("identifier"); id.str("system") == systemGMSOrder {
			r.OrderNumber = id.str("value")
		}
	}
	test, testAt := jnode(nil), ""
	if r.IsGenomic() { // a laboratory report's code names its result groups, not a test
		test, testAt = dr.res.obj("code"), dr.path+".code"
	}
	if found {
		d.at("orderNumber", sr.path+".identifier")
		for _, id := range sr.res.list("identifier") {
			if id.str("system") == systemGMSOrder {
				r.OrderNumber = id.str("value")
			}
		}
		if c := sr.res.obj("code"); c != nil {
			test, testAt = c, sr.path+".code"
		}
		d.requester(sr)
		d.previousOrder(sr)
		if r.OrderingTrust.ODSCode == "" {
			d.trustFromBundle()
		}
		for _, rc := range sr.res.list("reasonCode") {
			if len(rc.list("coding")) == 0 {
				r.Test.Reason = rc.str("text")
				continue
			}
			for _, c := range rc.list("coding") {
				r.Test.Conditions = append(r.Test.Conditions, d.codingBack(c, rc.str("text")))
			}
		}
		if r.OrderNumber == "" {
			for _, id := range sr.res.list("identifier") {
				if strings.HasSuffix(id.str("system"), "/Id/order") {
					n := strings.TrimPrefix(id.str("value"), r.OrderingTrust.ODSCode+"-")
					if n != r.ID { // the gateway numbers an order without one by its report
						r.OrderNumber = n
					}
				}
			}
		}
	}
	if r.OrderingTrust.ODSCode == "" {
		d.trustFromBundle()
	}
	d.testCode(test, testAt)
	if lc := r.Test.LocalCode; lc != nil && r.Test.Name == lc.Display {
		r.Test.Name = "" // the gateway names a test by the lab's code when the lab gave no name
	}
}

func (d *fhirDecoder) requester(sr bundleEntry) {
	req := sr.res.obj("requester")
	if req == nil {
		return
	}
	e, ok := d.resolve(req, sr)
	if !ok {
		if req.str("display") != "" {
			d.r.RequestingClinician = &gateway.Clinician{Name: req.str("display")}
		}
		return
	}
	switch e.res.str("resourceType") {
	case "Organization":
		if org, at, ok := d.organisation(req, sr); ok {
			d.r.OrderingTrust = org
			d.at("orderingTrust", at)
		}
	case "PractitionerRole":
		if org, at, ok := d.organisation(e.res.obj("organization"), e); ok {
			d.r.OrderingTrust = org
			d.at("orderingTrust", at)
		}
		if p, ok := d.resolve(e.res.obj("practitioner"), e); ok {
			d.r.RequestingClinician = d.clinician(p)
		}
	case "Practitioner":
		d.r.RequestingClinician = d.clinician(e)
		if d.r.RequestingClinician.Name == "" {
			d.r.RequestingClinician.Name = req.str("display")
		}
	}
	d.at("requestingClinician", e.path)
}

func (d *fhirDecoder) clinician(p bundleEntry) *gateway.Clinician {
	c := &gateway.Clinician{Name: personName(p.res)}
	if reg, ok := d.registration(p.res); ok {
		c.Registration = &reg
	}
	return c
}

// registration is a practitioner's professional registration, from the
// identifier systems the gateway writes (and the lab's own staff numbers).
func (d *fhirDecoder) registration(p jnode) (gateway.Registration, bool) {
	for _, id := range p.list("identifier") {
		for body, system := range registrationSystems {
			if id.str("system") == system {
				return gateway.Registration{Body: body, Number: id.str("value")}, true
			}
		}
		if strings.Contains(id.str("system"), "/Id/staff/") {
			return gateway.Registration{Body: "LOCAL", Number: id.str("value")}, true
		}
	}
	return gateway.Registration{}, false
}

func personName(p jnode) string {
	for _, n := range p.list("name") {
		if t := n.str("text"); t != "" {
			return t
		}
		parts := append(append(n.strs("prefix"), n.strs("given")...), n.str("family"))
		return strings.TrimSpace(strings.Join(parts, " "))
	}
	return ""
}

// trustFromBundle: without a requesting organisation, the ordering trust
// is the one other ODS-coded organisation in the Bundle, or the assigner
// of the patient's MRN.
func (d *fhirDecoder) trustFromBundle() {
	var others []gateway.Organisation
	var at string
	for i, e := range d.entries {
		if e.res.str("resourceType") != "Organization" {
			continue
		}
		for _, id := range e.res.list("identifier") {
			ods := id.str("system") == systemODS || strings.HasSuffix(id.str("system"), "/Id/organisation")
			if ods && id.str("value") != d.r.PerformingLab.ODSCode {
				others = append(others, gateway.Organisation{ODSCode: id.str("value"), Name: e.res.str("name")})
				at = e.path
				d.used[i] = true
			}
		}
	}
	if len(others) == 1 {
		d.r.OrderingTrust = others[0]
		d.at("orderingTrust", at)
	}
}

// testCode reads the test ordered: a National Genomic Test Directory (or
// DGTS) code with its version, and the lab's own code beside it.
func (d *fhirDecoder) testCode(cc jnode, at string) {
	t := &d.r.Test
	d.at("test", at)
	if cc == nil {
		return
	}
	t.Name = cc.str("text")
	for _, c := range cc.list("coding") {
		switch c.str("system") {
		case systemTestDirectory, systemDGTS:
			if t.Code == "" {
				t.Code, t.DirectoryVersion = c.str("code"), c.str("version")
				if t.Name == "" {
					t.Name = c.str("display")
				}
			}
		case systemLOINC, systemSNOMED: // the report's own kind (genetic analysis report)
		default:
			if t.LocalCode == nil {
				lc := d.codingBack(c, "")
				t.LocalCode = &lc
			}
		}
	}
}

// codingBack is a report coding from a FHIR coding: a system the gateway
// made for a lab's local codes goes back to the name the lab gave it.
func (d *fhirDecoder) codingBack(c jnode, text string) gateway.Coding {
	system := c.str("system")
	if i := strings.Index(system, "/local-code/"); i >= 0 {
		rest := system[i+len("/local-code/"):]
		system = ""
		if _, name, ok := strings.Cut(rest, "/"); ok {
			system = unescapePath(name)
		}
	}
	display := c.str("display")
	if display == "" {
		display = text
	}
	return gateway.Coding{System: system, Code: c.str("code"), Display: display}
}

func (d *fhirDecoder) subject(dr bundleEntry) {
	subj := dr.res.obj("subject")
	p := &d.r.Patient
	d.at("patient", dr.path+".subject")
	e, ok := d.resolve(subj, dr)
	if !ok {
		// Only an identifier on the reference: enough to file against.
		if id := subj.obj("identifier"); id != nil {
			d.patientIdentifier(id, dr.path+".subject.identifier")
		} else if subj.str("reference") != "" {
			d.missingPatient = true // refused below, with this reason
		}
		return
	}
	d.at("patient", e.path)
	for i, id := range e.res.list("identifier") {
		d.patientIdentifier(id, fmt.Sprintf("%s.identifier[%d]", e.path, i))
	}
	if names := e.res.list("name"); len(names) > 0 {
		n := names[0]
		p.Name = gateway.Name{Family: n.str("family"), Given: n.strs("given")}
		if pre := n.strs("prefix"); len(pre) > 0 {
			p.Name.Prefix = pre[0]
		}
		if p.Name.Family == "" && len(p.Name.Given) == 0 && n.str("text") != "" {
			p.Name.Family = n.str("text")
			d.warn("patient.name", e.path+".name[0]", "the patient's name is only text: kept whole as the family name")
		}
		d.at("patient.name", e.path+".name[0]")
	}
	p.BirthDate = e.res.str("birthDate")
	d.at("patient.birthDate", e.path+".birthDate")
	p.Gender = e.res.str("gender")
	d.at("patient.gender", e.path+".gender")
	if addrs := e.res.list("address"); len(addrs) > 0 {
		a := addrs[0]
		p.Address = &gateway.Address{Lines: a.strs("line"), City: a.str("city"), District: a.str("district"), Postcode: a.str("postalCode")}
	}
	if p.MRN != "" && p.MRNAuthority == "" && d.r.OrderingTrust.ODSCode != "" {
		p.MRNAuthority = d.r.OrderingTrust.ODSCode
	}
}

func (d *fhirDecoder) patientIdentifier(id jnode, at string) {
	p := &d.r.Patient
	system, value := id.str("system"), id.str("value")
	switch {
	case value == "":
	case system == systemNHSNumber:
		p.NHSNumber = value
		d.at("patient.nhsNumber", at)
	case system == systemCHINumber:
		p.CHINumber = value
		d.at("patient.chiNumber", at)
	case system == systemHCNumber:
		p.HCNumber = value
		d.at("patient.hcNumber", at)
	case system == systemPedigreeNumber:
		p.PedigreeNumber = value
	case hasCode(id.obj("type"), systemV20203, "MR") || strings.Contains(system, "/Id/mrn/"):
		if p.MRN != "" {
			d.unmap(at, system, value, "a further medical record number: only the first is kept")
			return
		}
		p.MRN = value
		d.at("patient.mrn", at)
		if a := id.obj("assigner").obj("identifier"); a.str("system") == systemODS {
			p.MRNAuthority = a.str("value")
		} else if a := id.obj("assigner").str("display"); a != "" {
			p.MRNAuthority = a
		} else if i := strings.Index(system, "/Id/mrn/"); i >= 0 {
			p.MRNAuthority = unescapePath(system[i+len("/Id/mrn/"):])
		}
	default:
		d.unmap(at, system, "", "a patient identifier system the gateway does not file under")
	}
}

func (d *fhirDecoder) specimens(dr bundleEntry) {
	for i, s := range dr.res.list("specimen") {
		e, ok := d.resolve(s, dr)
		if !ok {
			d.unmap(fmt.Sprintf("%s.specimen[%d]", dr.path, i), "", s.str("reference"), "the specimen is not in the Bundle")
			continue
		}
		sp := gateway.Specimen{
			Type:      e.res.obj("type").text(),
			Collected: e.res.obj("collection").str("collectedDateTime"),
			Received:  e.res.str("receivedTime"),
		}
		ids := append(e.res.list("identifier"), e.res.obj("accessionIdentifier"))
		for _, id := range ids {
			if v := id.str("value"); v != "" {
				sp.ID = v
				if strings.HasSuffix(id.str("system"), "/Id/specimen") {
					sp.ID = strings.TrimPrefix(v, d.r.PerformingLab.ODSCode+"-")
				}
				break
			}
		}
		if sp.ID == "" {
			sp.ID = e.res.str("id")
		}
		d.at(fmt.Sprintf("specimens[%d]", len(d.r.Specimens)), e.path)
		d.r.Specimens = append(d.r.Specimens, sp)
	}
}

func (d *fhirDecoder) conclusion(dr bundleEntry) {
	res := &d.r.Result
	for _, cc := range dr.res.list("conclusionCode") {
		code, _, _ := cc.coding(systemLOINC)
		for outcome, a := range outcomeAnswers {
			if a.code == code {
				res.Outcome = outcome
			}
		}
	}
	d.at("result", dr.path+".conclusion")
	// The gateway writes what changed since the earlier report (its own
	// statement, made again at intake), then the conclusion and the
	// interpretation, a blank line apart.
	text := dr.res.str("conclusion")
	if strings.HasPrefix(text, "Reclassified: ") {
		_, text, _ = strings.Cut(text, "\n\n")
	}
	res.Conclusion, res.Interpretation, _ = strings.Cut(text, "\n\n")
	for _, ext := range dr.res.list("extension") {
		if ext.str("url") != igBase+"genomic-report-note" && ext.str("url") != extNoteR5 {
			continue
		}
		note := ext.obj("valueAnnotation").str("text")
		if lim, ok := strings.CutPrefix(note, "Limitations: "); ok {
			res.Limitations = lim
		} else {
			d.r.Notes = append(d.r.Notes, note)
		}
	}
}

// interpreters reads who authorised the report, with when each signed it
// off (the Provenance's verification signatures).
func (d *fhirDecoder) interpreters(dr bundleEntry) {
	signed := d.signatures()
	for _, ri := range dr.res.list("resultsInterpreter") {
		e, ok := d.resolve(ri, dr)
		a := gateway.Authoriser{Name: ri.str("display")}
		if ok {
			a.AuthorisedAt = signed[ri.str("reference")]
			person := e
			if e.res.str("resourceType") == "PractitionerRole" {
				for _, c := range e.res.list("code") {
					a.Role = c.text()
				}
				if p, ok := d.resolve(e.res.obj("practitioner"), e); ok {
					person = p
				}
			}
			if n := personName(person.res); n != "" {
				a.Name = n
			}
			a.Registration, _ = d.registration(person.res)
		}
		d.at(fmt.Sprintf("authorisers[%d]", len(d.r.Authorisers)), e.path)
		d.r.Authorisers = append(d.r.Authorisers, a)
	}
}

func (d *fhirDecoder) signatures() map[string]string {
	signed := map[string]string{}
	for i, e := range d.entries {
		if e.res.str("resourceType") != "Provenance" {
			continue
		}
		d.used[i] = true
		for _, s := range e.res.list("signature") {
			signed[s.obj("who").str("reference")] = s.str("when")
		}
	}
	return signed
}

// presentedForm reads the report PDF (inline, or the Bundle's Binary it
// points at) and any further documents.
func (d *fhirDecoder) presentedForm(dr bundleEntry) {
	for i, a := range dr.res.list("presentedForm") {
		at := fmt.Sprintf("%s.presentedForm[%d]", dr.path, i)
		att := gateway.Attachment{Title: a.str("title"), ContentType: a.str("contentType")}
		switch {
		case a.str("data") != "":
			att.Data, _ = base64.StdEncoding.DecodeString(a.str("data"))
		case a.str("url") != "":
			if e, ok := d.resolve(jnode{"reference": a.str("url")}, dr); ok && e.res.str("resourceType") == "Binary" {
				att.Data, _ = base64.StdEncoding.DecodeString(e.res.str("data"))
			} else {
				att.URL = a.str("url")
			}
		}
		if i == 0 && (att.ContentType == "application/pdf" || att.ContentType == "") && att.Data != nil {
			d.r.PDF = &att
			d.at("pdf", at)
			continue
		}
		d.r.Attachments = append(d.r.Attachments, att)
	}
}

func unescapePath(s string) string {
	if u, err := url.PathUnescape(s); err == nil {
		return u
	}
	return s
}

// previousOrder reads the earlier order a re-interpretation's request is
// based on (ServiceRequest.basedOn, by identifier).
func (d *fhirDecoder) previousOrder(sr bundleEntry) {
	p := d.r.Previous
	if p == nil {
		return // a request based on another is not, by itself, a report that follows one
	}
	for _, b := range sr.res.list("basedOn") {
		id := b.obj("identifier")
		if id == nil {
			continue
		}
		switch {
		case id.str("system") == systemGMSOrder:
			p.OrderNumber = id.str("value")
		case strings.HasSuffix(id.str("system"), "/Id/order"):
			if trust, ok := strings.CutSuffix(id.str("value"), "-"+p.ID); ok && p.ID != "" {
				p.OrderingTrust = trust
			}
		}
	}
}

// lineage reads the report this one re-interprets from the Provenance: the
// entity it derives from (that version's document identifier) and why.
func (d *fhirDecoder) lineage() {
	for _, e := range d.entries {
		if e.res.str("resourceType") != "Provenance" {
			continue
		}
		for _, ent := range e.res.list("entity") {
			if ent.str("role") != "derivation" {
				continue
			}
			// Only a report, named by the gateway's report or document
			// identifiers, is a previous report; a derivation from anything
			// else (a VCF, a sample) is not.
			id := ent.obj("what").obj("identifier")
			value := id.str("value")
			var p gateway.PreviousReport
			switch {
			case strings.HasSuffix(id.str("system"), "/Id/document-version"):
				if i := strings.LastIndex(value, "-v"); i > 0 {
					p.ID = value[:i]
					p.Version, _ = strconv.Atoi(value[i+2:])
				}
			case strings.HasSuffix(id.str("system"), "/Id/report"):
				p.ID = value
			}
			if p.ID == "" {
				continue
			}
			d.r.Previous = &p
			for _, reason := range e.res.list("reason") {
				for rel, words := range relationWords {
					if rel != "" && reason.str("text") == words {
						d.r.Previous.Relation = rel
					}
				}
			}
		}
	}
}

// copyTo reads each CommunicationRequest about the report (send a copy to
// this organisation) as a copy-to recipient.
func (d *fhirDecoder) copyTo(dr bundleEntry) {
	for i, e := range d.entries {
		if e.res.str("resourceType") != "CommunicationRequest" {
			continue
		}
		about := false
		for _, a := range e.res.list("about") {
			if target, ok := d.resolve(a, e); ok && target.path == dr.path {
				about = true
			}
		}
		if !about {
			continue
		}
		d.used[i] = true
		for _, rc := range e.res.list("recipient") {
			if id := rc.obj("identifier"); id.str("system") == systemODS && id.str("value") != "" {
				d.r.CopyTo = append(d.r.CopyTo, gateway.Organisation{ODSCode: id.str("value"), Name: rc.str("display")})
				d.at(fmt.Sprintf("copyTo[%d]", len(d.r.CopyTo)-1), e.path)
			} else if org, _, ok := d.organisation(rc, e); ok {
				d.r.CopyTo = append(d.r.CopyTo, org)
			}
		}
	}
}
