package httpapi

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/nhs-genomics/results-gateway/gateway"
)

// searchParams are the parameters each search supports; anything else is a
// 400, never ignored (an ignored filter would return other patients' results).
var searchParams = map[string]map[string]bool{
	"DiagnosticReport": set("patient.identifier", "patient", "subject", "identifier", "code", "status", "date",
		"_lastUpdated", "_include", "_revinclude", "_count", "_sort", "_format", "_cursor"),
	"DocumentReference": set("patient.identifier", "patient", "subject", "type", "_lastUpdated", "_count", "_format", "_cursor"),
}

func set(names ...string) map[string]bool {
	m := map[string]bool{}
	for _, n := range names {
		m[n] = true
	}
	return m
}

// Identifier systems a report can be searched by.
var reportSystems = map[string]bool{"": true, "https://fhir.nhs.uk/local-identifier/diagnosticreport": true}

// bound is one date search value: a prefix and the range [lo, hi) its
// value covers at the precision it was written in (a year, a month, a
// day, a second), as FHIR's date search defines it.
type bound struct {
	op     string // eq, ne, gt, lt, ge, le, sa, eb
	lo, hi time.Time
}

// ok says whether the instant t matches b.
func (b bound) ok(t time.Time) bool {
	switch b.op {
	case "ne":
		return t.Before(b.lo) || !t.Before(b.hi)
	case "gt", "sa":
		return !t.Before(b.hi)
	case "lt", "eb":
		return t.Before(b.lo)
	case "ge":
		return !t.Before(b.lo)
	case "le":
		return t.Before(b.hi)
	}
	return !t.Before(b.lo) && t.Before(b.hi) // eq
}

type query struct {
	typ                      string
	nhs, patient, reportID   string
	codes, statuses, docType []string
	date, updated            []bound
	includeResults, subject  bool
	provenance               bool // _revinclude=Provenance:target
	count                    int
	sortByDate, ascending    bool
	after                    *cursor
}

// cursor is the last entry of a page: the next page starts strictly after it.
type cursor struct {
	Key int64  `json:"k"`
	ID  string `json:"i"`
}

// repeatable are the parameters that may be given more than once: each
// date bound narrows the range, and _include may name both inclusions.
var repeatable = map[string]bool{"date": true, "_lastUpdated": true, "_include": true}

// oneValue are the parameters that take no comma-separated list: the
// gateway answers one patient or report at a time, and would rather
// refuse a list than answer it wrongly.
var oneValue = map[string]bool{"patient.identifier": true, "patient": true, "subject": true, "identifier": true}

func (s *server) parseQuery(c *gin.Context, typ string) (*query, error) {
	q := &query{typ: typ, count: 20}
	var problems []gateway.Problem
	bad := func(name, msg string) { problems = append(problems, gateway.Problem{Path: name, Message: msg}) }
	values := c.Request.URL.Query()
	names := make([]string, 0, len(values))
	for name := range values {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if !searchParams[typ][name] {
			bad(name, "is not a supported search parameter for "+typ)
			continue
		}
		if len(values[name]) > 1 && !repeatable[name] {
			bad(name, "may be given once (a report matches one patient and one identifier)")
			continue
		}
		for _, v := range values[name] {
			if oneValue[name] && strings.Contains(v, ",") {
				bad(name, "takes one value, not a list: search once for each")
				continue
			}
			switch name {
			case "patient.identifier":
				system, value, found := strings.Cut(v, "|")
				if !found || system != "https://fhir.nhs.uk/Id/nhs-number" || !gateway.ValidNHSNumber(value) {
					bad(name, "must be https://fhir.nhs.uk/Id/nhs-number|<valid NHS number>")
				}
				q.nhs = value
			case "patient", "subject":
				q.patient = strings.TrimPrefix(v, "Patient/")
				if strings.ContainsAny(q.patient, "/?|") || q.patient == "" {
					bad(name, "must be Patient/<id>")
				}
			case "identifier":
				system, value, found := strings.Cut(v, "|")
				if !found {
					system, value = "", v
				}
				if !reportSystems[system] && !strings.HasSuffix(system, "/Id/report") {
					bad(name, "unknown identifier system "+system)
				}
				q.reportID = value
			case "code", "type":
				list := &q.codes
				if name == "type" {
					list = &q.docType
				}
				*list = append(*list, strings.Split(v, ",")...) // each [system|]code, matched by tokenMatches
			case "status":
				q.statuses = append(q.statuses, strings.Split(v, ",")...)
			case "date", "_lastUpdated":
				b, err := parseBound(v)
				if err != nil {
					bad(name, err.Error())
				} else if name == "date" {
					q.date = append(q.date, b)
				} else {
					q.updated = append(q.updated, b)
				}
			case "_include":
				switch v {
				case "DiagnosticReport:result":
					q.includeResults = true
				case "DiagnosticReport:subject", "DiagnosticReport:patient":
					q.subject = true
				default:
					bad(name, "supported: DiagnosticReport:result, DiagnosticReport:subject")
				}
			case "_revinclude":
				if v != "Provenance:target" {
					bad(name, "supported: Provenance:target")
				}
				q.provenance = true
			case "_count":
				n, err := strconv.Atoi(v)
				if err != nil || n < 1 || n > 100 {
					bad(name, "must be 1 to 100")
				}
				q.count = n
			case "_sort":
				switch v {
				case "-date", "date":
					q.sortByDate, q.ascending = true, v == "date"
				case "-_lastUpdated":
				case "_lastUpdated":
					q.ascending = true
				default:
					bad(name, "supported: -date, date, -_lastUpdated, _lastUpdated")
				}
			case "_cursor":
				raw, err := base64.RawURLEncoding.DecodeString(v)
				var cur cursor
				if err != nil || json.Unmarshal(raw, &cur) != nil {
					bad(name, "is not a cursor this server made")
				}
				q.after = &cur
			}
		}
	}
	scoped := q.nhs != "" || q.patient != "" || q.reportID != ""
	if !scoped && (q.sortByDate || q.ascending) {
		bad("_sort", "sorting other than -_lastUpdated needs a patient or identifier")
	}
	if len(problems) > 0 {
		return nil, &gateway.Error{Code: gateway.EMALFORMED, Message: "bad search", Problems: problems} // 400, as FHIR servers answer a search they cannot run
	}
	return q, nil
}

// datePrefixes are FHIR's date search prefixes the gateway answers ("ap",
// approximately, is refused rather than guessed at).
var datePrefixes = map[string]bool{"eq": true, "ne": true, "gt": true, "lt": true, "ge": true, "le": true, "sa": true, "eb": true}

func parseBound(v string) (bound, error) {
	b := bound{op: "eq"}
	if len(v) > 2 && v[0] >= 'a' && v[0] <= 'z' && v[1] >= 'a' && v[1] <= 'z' {
		if !datePrefixes[v[:2]] {
			return b, fmt.Errorf("%q is not a date prefix the gateway answers (eq, ne, gt, lt, ge, le, sa, eb)", v[:2])
		}
		b.op, v = v[:2], v[2:]
	}
	for _, f := range []struct {
		layout string
		step   func(time.Time) time.Time
	}{
		{time.RFC3339Nano, nil},
		{"2006-01-02T15:04:05", nil},
		{time.DateOnly, func(t time.Time) time.Time { return t.AddDate(0, 0, 1) }},
		{"2006-01", func(t time.Time) time.Time { return t.AddDate(0, 1, 0) }},
		{"2006", func(t time.Time) time.Time { return t.AddDate(1, 0, 0) }},
	} {
		t, err := time.ParseInLocation(f.layout, v, gateway.London) // a value without a zone is London's
		if err != nil {
			continue
		}
		b.lo, b.hi = t, t.Add(time.Second)
		switch {
		case f.step != nil:
			b.hi = f.step(t)
		case strings.Contains(v, "."): // fractional seconds: to as many digits as were written
			b.hi = t.Add(fractionStep(v))
		}
		return b, nil
	}
	return b, fmt.Errorf("%q is not a FHIR date or dateTime", v)
}

// fractionStep is the precision of a time's fractional seconds as written
// ("15.9" a tenth, "15.916177794" a nanosecond): an EPR polling with
// _lastUpdated=gt<the meta.lastUpdated it last saw> must not skip what was
// stored within the millisecond after it.
func fractionStep(v string) time.Duration {
	_, frac, _ := strings.Cut(v, ".")
	digits := 0
	for digits < len(frac) && frac[digits] >= '0' && frac[digits] <= '9' {
		digits++
	}
	step := time.Second
	for i := 0; i < digits && step > time.Nanosecond; i++ {
		step /= 10
	}
	return step
}

func (q *query) matches(m *gateway.ReportRecord) bool {
	if q.reportID != "" && m.ID != q.reportID {
		return false
	}
	if len(q.statuses) > 0 && !contains(q.statuses, string(m.Status)) {
		return false
	}
	// The codes the mapper gives the report (mappers/fhirr4): a genomic
	// report's, with the test ordered, or a laboratory report's.
	genomic := m.Kind == "" || m.Kind == gateway.KindGenomic
	if len(q.codes) > 0 {
		found := !genomic && tokenMatches(q.codes, systemSNOMED, gateway.CodeLabReport) ||
			genomic && (tokenMatches(q.codes, systemLOINC, gateway.CodeGeneticAnalysis) || tokenMatches(q.codes, systemSNOMED, gateway.CodeGeneticReport) ||
				m.TestCode != "" && tokenMatches(q.codes, testCodeSystem(m.TestCode), m.TestCode))
		if !found {
			return false
		}
	}
	docType := gateway.CodeGeneticReport
	if !genomic {
		docType = gateway.CodeLabReport
	}
	if len(q.docType) > 0 && !tokenMatches(q.docType, systemSNOMED, docType) {
		return false
	}
	for _, b := range q.date {
		if !b.ok(m.Effective) {
			return false
		}
	}
	for _, b := range q.updated {
		if !b.ok(m.ReceivedAt) {
			return false
		}
	}
	return true
}

// The code systems of the codes a report can be searched by.
const (
	systemLOINC         = "http://loinc.org"
	systemSNOMED        = "http://snomed.info/sct"
	systemTestDirectory = "https://fhir.nhs.uk/CodeSystem/England-GenomicTestDirectory"
	systemDGTS          = "https://fhir.nhs.uk/CodeSystem/England-DigitalGenomicTestService"
)

// testCodeSystem is the system the mapper codes a test code in.
func testCodeSystem(code string) string {
	if gateway.InDigitalService(code) {
		return systemDGTS
	}
	return systemTestDirectory
}

// tokenMatches says whether any of a token search's values matches the
// coding system|code as FHIR's token search defines it: "code" matches the
// code in any system, "system|code" only in that system, "|code" only a
// coding without a system (none here), "system|" any code of the system.
func tokenMatches(values []string, system, code string) bool {
	for _, v := range values {
		s, c, qualified := strings.Cut(v, "|")
		if !qualified {
			s, c = system, v
		}
		if s == system && (c == code || qualified && c == "") {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (q *query) key(m *gateway.ReportRecord) int64 {
	if q.sortByDate {
		return m.Effective.UnixNano()
	}
	return m.ReceivedAt.UnixNano()
}

// afterCursor says whether m sorts after the cursor.
func (q *query) afterCursor(m *gateway.ReportRecord) bool {
	if q.after == nil {
		return true
	}
	k := q.key(m)
	if q.ascending {
		return k > q.after.Key || k == q.after.Key && m.ID > q.after.ID
	}
	return k < q.after.Key || k == q.after.Key && m.ID < q.after.ID
}

// candidates returns one page of matching reports the caller may read, in
// order, and whether more follow. Scoped searches read a patient's (or one
// report's) index entries; unscoped ones walk the last-updated index.
func (s *server) candidates(c *gin.Context, q *query) ([]*gateway.ReportRecord, bool, error) {
	ctx, who := c.Request.Context(), principal(c)
	var ids []string
	var err error
	switch {
	case q.reportID != "":
		ids = []string{q.reportID}
	case q.nhs != "":
		ids, err = s.Index.ReportsForPatient(ctx, q.nhs)
	case q.patient != "":
		var holders []string
		if holders, err = s.Index.ResourceReports(ctx, "Patient/"+q.patient); err == nil && len(holders) > 0 {
			var metas []*gateway.ReportRecord
			if metas, err = s.Index.ReportMetas(ctx, holders[:1]); err == nil && len(metas) > 0 {
				ids, err = s.Index.ReportsForPatient(ctx, metas[0].NHSNumber)
			}
		}
	default:
		return s.walk(c, q)
	}
	if err != nil {
		return nil, false, err
	}
	metas, err := s.Index.ReportMetas(ctx, ids)
	if err != nil {
		return nil, false, err
	}
	var page []*gateway.ReportRecord
	for _, m := range metas {
		if (q.nhs == "" || m.NHSNumber == q.nhs) && who.CanRead(m) && q.matches(m) && q.afterCursor(m) {
			page = append(page, m)
		}
	}
	sort.Slice(page, func(i, j int) bool {
		ki, kj := q.key(page[i]), q.key(page[j])
		if ki == kj {
			return (page[i].ID < page[j].ID) == q.ascending
		}
		return (ki < kj) == q.ascending
	})
	if len(page) > q.count {
		return page[:q.count], true, nil
	}
	return page, false, nil
}

// walk pages through the caller's trust (or every trust) newest first.
func (s *server) walk(c *gin.Context, q *query) ([]*gateway.ReportRecord, bool, error) {
	ctx, who := c.Request.Context(), principal(c)
	trust := ""
	if who.Role == gateway.RoleTrust && len(who.AlsoTrusts) == 0 {
		trust = who.ODSCode // otherwise walk every trust's reports, filtered by CanRead
	}
	var cur gateway.UpdatedCursor
	if q.after != nil {
		cur = gateway.UpdatedCursor{At: time.Unix(0, q.after.Key), ID: q.after.ID}
	}
	var page []*gateway.ReportRecord
	more := false
	err := gateway.WalkUpdated(ctx, s.Index, trust, cur, 2*q.count, func(m *gateway.ReportRecord) (bool, error) {
		if who.CanRead(m) && q.matches(m) {
			if len(page) == q.count {
				more = true
				return true, nil
			}
			page = append(page, m)
		}
		return false, nil
	})
	if err != nil {
		return nil, false, err
	}
	return page, more, nil
}

// search answers a DiagnosticReport or DocumentReference search with a searchset Bundle.
func (s *server) search(c *gin.Context, typ string) {
	q, err := s.parseQuery(c, typ)
	if err != nil {
		s.audit(c, "search", typ, nil, "invalid")
		s.fail(c, err)
		return
	}
	p := principal(c)
	if q.includeResults && !p.Allows("Observation", gateway.AccessRead) || q.subject && !p.Allows("Patient", gateway.AccessRead) {
		s.deny(c, "_include asks for Observation or Patient resources, which the token's scopes do not allow reading")
		return
	}
	if q.provenance && !p.Allows("Provenance", gateway.AccessRead) {
		s.deny(c, "_revinclude asks for Provenance resources, which the token's scopes do not allow reading")
		return
	}
	page, more, err := s.candidates(c, q)
	if err != nil {
		s.fail(c, err)
		return
	}
	base := fhirBase(c)
	var entries []any
	included := map[string]bool{} // a patient in several reports is included once
	include := func(res map[string]any) {
		e := entry(base, res, "include")
		if url := e["fullUrl"].(string); !included[url] {
			included[url] = true
			entries = append(entries, e)
		}
	}
	for _, m := range page {
		rec, err := s.Reports.ReportBundle(c.Request.Context(), m.ID, m.Version)
		if err != nil {
			s.fail(c, err)
			return
		}
		b, err := openBundle(rec)
		if err != nil {
			s.fail(c, err)
			return
		}
		for _, res := range b.ofType(typ) {
			entries = append(entries, entry(base, res, "match"))
		}
		if q.includeResults {
			for _, res := range b.ofType("Observation") {
				include(res)
			}
		}
		if q.provenance { // who issued each version, and for an update what it revised
			found, err := s.versionsProvenance(c.Request.Context(), p, m, m.Version-1) // the earlier ones; this one is open
			if err != nil {
				s.fail(c, err)
				return
			}
			for _, res := range append(found, b.ofType("Provenance")...) {
				include(res)
			}
		}
		if q.subject {
			for _, ref := range b.order {
				if strings.HasPrefix(ref, "Patient/") {
					include(b.resources[ref])
					break // the proband: relatives follow it
				}
			}
		}
	}
	self := base + "/" + typ + "?" + c.Request.URL.RawQuery
	links := []any{map[string]any{"relation": "self", "url": self}}
	if more {
		last := page[len(page)-1]
		token, _ := json.Marshal(cursor{Key: q.key(last), ID: last.ID})
		v := c.Request.URL.Query()
		v.Set("_cursor", base64.RawURLEncoding.EncodeToString(token))
		links = append(links, map[string]any{"relation": "next", "url": base + "/" + typ + "?" + v.Encode()})
	}
	if !s.auditedRead(c, "search", typ+"?"+paramNames(c.Request.URL.Query()), ids(page)) {
		return
	}
	bundle := map[string]any{"resourceType": "Bundle", "type": "searchset", "link": links}
	if len(entries) > 0 { // FHIR JSON has no empty arrays: no match, no entry
		bundle["entry"] = entries
	}
	if !more && c.Query("_cursor") == "" { // every match is on this one page: their number is known
		bundle["total"] = len(page)
	}
	writeFHIR(c, http.StatusOK, bundle)
}

func entry(base string, res map[string]any, mode string) map[string]any {
	return map[string]any{"fullUrl": base + "/" + res["resourceType"].(string) + "/" + res["id"].(string),
		"resource": res, "search": map[string]any{"mode": mode}}
}

// paramNames are what the audit keeps of a query: names, never values (an
// NHS number is patient data).
func paramNames(v url.Values) string {
	names := make([]string, 0, len(v))
	for k := range v {
		names = append(names, k)
	}
	sort.Strings(names)
	return strings.Join(names, "&")
}

func fhirBase(c *gin.Context) string {
	scheme := "http"
	if c.Request.TLS != nil || c.GetHeader("X-Forwarded-Proto") == "https" {
		scheme = "https"
	}
	return scheme + "://" + c.Request.Host + "/fhir"
}
