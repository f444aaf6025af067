package fhirr4

import (
	"cmp"
	"encoding/base64"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/nhs-genomics/results-gateway/gateway"
)

// report reads the DiagnosticReport and everything it leads to.
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
	// Genomic: category GE, or coded as a genetic report or a directory test.
	genomic := false
	for _, c := range res.list("category") {
		genomic = genomic || hasCode(c, systemV20074, "GE")
	}
	code := res.obj("code")
	_, _, directoryTest := code.coding(systemTestDirectory)
	genomic = genomic || directoryTest || hasCode(code, systemLOINC, gateway.CodeGeneticAnalysis) || hasCode(code, systemSNOMED, gateway.CodeGeneticReport)
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
	d.labDocument(dr)
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
			r.OrderNumber, r.OrderNumberLocal = id.str("value"), false
		} else if v := id.str("value"); v != "" && r.OrderNumber == "" {
			// An order the Bundle does not hold, named by its orderer's own
			// number (an EPR's): kept as that, not as NHS England's.
			r.OrderNumber, r.OrderNumberLocal = v, true
			d.at("orderNumber", dr.path+".basedOn")
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
				r.OrderNumber, r.OrderNumberLocal = id.str("value"), false
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
						r.OrderNumber, r.OrderNumberLocal = n, true // not NHS England's GMSOrder: the orderer's own
					}
				}
			}
		}
	}
	if r.OrderingTrust.ODSCode == "" {
		d.trustFromBundle()
	}
	if r.OrderingTrust.ODSCode == "" {
		d.warn("orderingTrust.odsCode", dr.path+".basedOn", "no ordering organisation with an ODS code (ServiceRequest.requester, or an Organization in the Bundle): the report is held until an operator routes it")
	}
	d.testCode(test, testAt)
	if lc := r.Test.LocalCode; lc != nil && r.Test.Name == lc.Display {
		r.Test.Name = "" // the gateway names a test by the lab's code when the lab gave no name
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
		case systemLOINC, systemSNOMED:
			if reportKindCodes[c.str("code")] {
				continue // the report's own kind (genetic analysis report), not the test
			}
			fallthrough // a LOINC or SNOMED test code: the lab's code for the test
		default:
			if t.LocalCode == nil {
				lc := d.codingBack(c, "")
				t.LocalCode = &lc
			}
		}
	}
}

// reportKindCodes are the LOINC and SNOMED codes the gateway writes for what
// kind of report it is, beside the test's own codes.
var reportKindCodes = map[string]bool{gateway.CodeGeneticAnalysis: true, gateway.CodeGeneticReport: true, gateway.CodeLabReport: true}

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
	for i, ri := range dr.res.list("resultsInterpreter") {
		path := fmt.Sprintf("%s.resultsInterpreter[%d]", dr.path, i)
		e, ok := d.resolve(ri, dr)
		a := gateway.Authoriser{Name: ri.str("display")}
		id := ri.obj("identifier")
		if ok && e.res.str("resourceType") == "Organization" || strings.Contains(ri.str("reference"), "Organization/") ||
			ri.str("type") == "Organization" || id.str("system") == systemODS {
			// An organisation vouching for the report is not a person who
			// signed it off: kept, as what it is, in the unmapped list.
			d.warn("authorisers", path, "the results interpreter is an organisation, not a person: not filed as an authoriser")
			d.unmap(path, id.str("value"), cmp.Or(ri.str("display"), e.res.str("name"), ri.str("reference"), id.str("system")+"|"+id.str("value")), "a results interpreter that is an organisation")
			continue
		}
		if !ok {
			// Not in the Bundle: what the reference itself says (a display,
			// a logical identifier such as an HCPC number).
			if reg, found := d.registration(jnode{"identifier": []any{map[string]any(ri.obj("identifier"))}}); found {
				a.Registration = reg
			}
		}
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
		if a.Name == "" {
			d.warn("authorisers", path, "the results interpreter could not be read: no name in the Bundle or on the reference")
			d.unmap(path, a.Registration.Number, ri.str("reference"), "a results interpreter the gateway cannot name")
			continue
		}
		if !ok {
			d.warn("authorisers", path, "the results interpreter %s is not in the Bundle: filed by the reference's display name", ri.str("reference"))
		}
		d.at(fmt.Sprintf("authorisers[%d]", len(d.r.Authorisers)), cmp.Or(e.path, path))
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

// labDocument reads the lab's PDF from a DocumentReference that names the
// report as its context (as NHS England's examples send a report's PDF)
// when the report carries none of its own: the lab's signed document is
// the report's, not one the gateway renders in its place.
func (d *fhirDecoder) labDocument(dr bundleEntry) {
	if d.r.PDF != nil {
		return
	}
	for i, e := range d.entries {
		if e.res.str("resourceType") != "DocumentReference" || d.used[i] || e.res.str("status") != "current" || e.res.str("docStatus") == "entered-in-error" {
			continue // a superseded or withdrawn document is not the report's
		}
		related := false
		for _, rel := range e.res.obj("context").list("related") {
			n, ok := d.entryOf(rel.str("reference"))
			related = related || ok && d.entries[n].path == dr.path
		}
		if !related {
			continue
		}
		for j, c := range e.res.list("content") {
			a := c.obj("attachment")
			if a.str("contentType") != "application/pdf" {
				continue
			}
			att := gateway.Attachment{Title: cmp.Or(a.str("title"), e.res.str("description")), ContentType: "application/pdf"}
			if a.str("data") != "" {
				att.Data, _ = base64.StdEncoding.DecodeString(a.str("data"))
			} else if b, ok := d.resolve(jnode{"reference": a.str("url")}, e); ok && b.res.str("resourceType") == "Binary" {
				att.Data, _ = base64.StdEncoding.DecodeString(b.res.str("data"))
			}
			if att.Data == nil {
				continue
			}
			d.used[i] = true
			d.r.PDF = &att
			at := fmt.Sprintf("%s.content[%d].attachment", e.path, j)
			d.at("pdf", at)
			d.warn("pdf", at, "the report's PDF is read from a DocumentReference whose context is the report, not from DiagnosticReport.presentedForm")
			return
		}
	}
}

func unescapePath(s string) string {
	if u, err := url.PathUnescape(s); err == nil {
		return u
	}
	return s
}
