package fhirr4

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
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
// more than one, is refused with the reason. A refusal of a report that
// was found also returns a Decoded holding only its id.
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
	if d.missingPatient { // refused, but with the report it names, for the message log
		return &Decoded{Report: &gateway.Report{ID: d.r.ID}}, refuse(report.path, "subject", "the patient is not in the Bundle and the reference carries no identifier: put the Patient in the Bundle, or give the reference an NHS number identifier")
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
		if msg := notJSON(body); msg != "" { // the parser says only "invalid JSON", with no place
			return &gateway.Error{Code: gateway.EMALFORMED, Message: "the body is not valid JSON",
				Problems: []gateway.Problem{{Path: "Bundle", Message: msg}}}
		}
		return &gateway.Error{Code: gateway.EMALFORMED, Message: "the body is not a FHIR R4 resource",
			Problems: []gateway.Problem{{Path: parserPath(err.Error()), Message: err.Error()}}}
	}
	return nil
}

// notJSON says why body is not JSON at all, with the line and column, or
// "" when it is JSON (and the parser's complaint is about FHIR).
func notJSON(body []byte) string {
	if len(bytes.TrimSpace(body)) == 0 {
		return "the body is empty: post a FHIR R4 Bundle"
	}
	var raw json.RawMessage
	err := json.Unmarshal(body, &raw)
	se, ok := err.(*json.SyntaxError)
	if !ok {
		return ""
	}
	before := body[:min(se.Offset, int64(len(body)))]
	line := bytes.Count(before, []byte("\n")) + 1
	col := len(before) - (bytes.LastIndexByte(before, '\n') + 1)
	return fmt.Sprintf("%s at line %d, column %d", se.Error(), line, col)
}

var (
	// parserAt finds the element google/fhir's parser names: error at
	// "Bundle.entry[0].resource.DiagnosticReport.presentedForm[0].data".
	parserAt = regexp.MustCompile(`"([A-Z][A-Za-z]+(?:\.[A-Za-z_][A-Za-z0-9_]*(?:\[\d+\])?)*)"`)
	// resourceType is the type the parser writes after "resource", which
	// a FHIRPath leaves out.
	resourceType = regexp.MustCompile(`\.resource\.[A-Z][A-Za-z]+`)
)

// parserPath is the FHIRPath of the element the parser's error names
// (Bundle.entry[0].resource.presentedForm[0].data), or the resource type
// when it names none.
func parserPath(msg string) string {
	m := parserAt.FindStringSubmatch(msg)
	if m == nil {
		return "Bundle"
	}
	return resourceType.ReplaceAllString(m[1], ".resource")
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
	n, ok := d.entryOf(r)
	if !ok {
		return bundleEntry{}, false
	}
	d.used[n] = true
	return d.entries[n], true
}

// entryOf is the index of the Bundle entry a (not contained) reference
// names, without marking it read.
func (d *fhirDecoder) entryOf(r string) (int, bool) {
	r, _, _ = strings.Cut(r, "/_history/") // a versioned reference names the same resource
	n, ok := d.byRef[r]
	if !ok {
		parts := strings.Split(strings.TrimSuffix(r, "/"), "/")
		if len(parts) >= 2 {
			n, ok = d.byRef[parts[len(parts)-2]+"/"+parts[len(parts)-1]]
		}
	}
	return n, ok
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
			d.listExtensions(e)
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

// extensionsRead are the extensions the decoder reads on the resources
// listExtensions looks at: any other there is listed.
var extensionsRead = map[string]bool{igBase + "genomic-report-note": true, extNoteR5: true, igBase + "genomic-study-reference": true,
	extPatientRecord: true, extTestCodeVersion: true}

// listExtensions lists the extensions of a resource the report was read
// from (the report, the patient, the order, a specimen, a result) that the
// gateway does not read: a UK Core ethnic category, a lab's own QC flag.
func (d *fhirDecoder) listExtensions(e bundleEntry) {
	switch e.res.str("resourceType") {
	case "DiagnosticReport", "Patient", "ServiceRequest", "Specimen", "Observation":
	default:
		return
	}
	for _, field := range []string{"extension", "modifierExtension"} {
		for i, ext := range e.res.list(field) {
			if url := ext.str("url"); !extensionsRead[url] {
				value := extensionValue(ext)
				if e.res.str("resourceType") == "Patient" {
					value = "" // a patient's extension may be personal (a mother's maiden name): its place and url say enough
				}
				d.unmap(fmt.Sprintf("%s.%s[%d]", e.path, field, i), url, value, "an extension the gateway does not read")
			}
		}
	}
}

// extensionValue is an extension's value as text: its value[x] as JSON,
// or its nested extensions'.
func extensionValue(ext jnode) string {
	for k, v := range ext {
		if strings.HasPrefix(k, "value") {
			b, _ := json.Marshal(v)
			return strings.Trim(string(b), `"`)
		}
	}
	if subs, ok := ext["extension"]; ok {
		b, _ := json.Marshal(subs)
		return string(b)
	}
	return ""
}
