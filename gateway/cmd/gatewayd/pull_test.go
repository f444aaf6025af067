package main

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nhs-genomics/results-gateway/fixtures"
	"github.com/nhs-genomics/results-gateway/internal/peers"
	"github.com/nhs-genomics/results-gateway/internal/testjwt"
)

const nhsSystem = "https://fhir.nhs.uk/Id/nhs-number"

// pullGateway runs a gateway for pull tests: two trusts, a JWT issuer, the given store.
func pullGateway(t *testing.T, store string) (base string, iss *testjwt.Issuer) {
	dir := t.TempDir()
	iss = testjwt.NewIssuer(t)
	cfg := strings.ReplaceAll(testConfig, "OUTBOX", filepath.Join(dir, "outbox"))
	cfg = strings.Replace(cfg, `"retry":`, fmt.Sprintf(`"jwt": {"jwksFile": %q, "issuer": "https://auth.example.nhs.uk", "audience": "results-gateway", "tokenEndpoint": "https://auth.example.nhs.uk/token"},
  "sharing": {"RXS": ["R0A"]},
  "retry":`, iss.JWKS), 1)
	cfg = strings.Replace(cfg, `"tokens": [`, `"tokens": [
    {"name": "sharing-trust", "token": "test-sharing-token", "role": "trust", "odsCode": "RXS"},`, 1)
	path := filepath.Join(dir, "config.json")
	os.WriteFile(path, []byte(cfg), 0o600)
	env := map[string]string{"GATEWAY_DATA": filepath.Join(dir, "data"), "GATEWAY_MLLP_ADDR": "-"}
	for _, kv := range storeEnv(t, store) {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-config", path}, func(k string) string { return env[k] }, pw, io.Discard)
		pw.Close()
	}()
	t.Cleanup(func() { cancel(); <-done })
	return "http://" + waitListening(t, pr), iss
}

// seed posts reports: 6 patients across trusts R0A and RBS, 3 reports each,
// every third with an amendment. It returns report ids by trust and patient.
func seed(t *testing.T, base string, prefix string) map[string]map[string][]string {
	byTrust := map[string]map[string][]string{"R0A": {}, "RBS": {}}
	nhs := []string{"9990000018", "9990000026", "9990000034", "9990000042", "9990000050", "9990000069"}
	n := 0
	for p, number := range nhs {
		trust := "R0A"
		if p%2 == 1 {
			trust = "RBS"
		}
		for k := 0; k < 3; k++ {
			n++
			id := fmt.Sprintf("%s-%02d", prefix, n)
			for v := 1; v <= 1+boolInt(n%3 == 0); v++ {
				name := "amendment-v" + strconv.Itoa(v)
				var m map[string]any
				json.Unmarshal(fixtures.Report(name), &m)
				m["id"] = id
				m["orderingTrust"] = map[string]any{"odsCode": trust}
				m["patient"].(map[string]any)["nhsNumber"] = number
				body, _ := json.Marshal(m)
				if r := post(t, base, labToken, body); r.status != http.StatusAccepted {
					t.Fatalf("seed %s v%d: %d %s", id, v, r.status, r.body)
				}
			}
			byTrust[trust][number] = append(byTrust[trust][number], id)
		}
	}
	return byTrust
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

type searchset struct {
	Link []struct {
		Relation, URL string
	} `json:"link"`
	Entry []struct {
		FullURL  string                `json:"fullUrl"`
		Resource map[string]any        `json:"resource"`
		Search   struct{ Mode string } `json:"search"`
	} `json:"entry"`
}

func fhirGet(t *testing.T, url, token string) (int, searchset, []byte) {
	t.Helper()
	r := get(t, url, token)
	var s searchset
	json.Unmarshal(r.body, &s)
	return r.status, s, r.body
}

// reportIDs are the gateway report ids of the matched DiagnosticReports.
func reportIDs(s searchset) []string {
	var out []string
	for _, e := range s.Entry {
		if e.Search.Mode == "match" {
			for _, id := range e.Resource["identifier"].([]any) {
				if strings.HasSuffix(id.(map[string]any)["system"].(string), "/Id/report") {
					out = append(out, id.(map[string]any)["value"].(string))
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// amendedReport is the id of PULL-03's DiagnosticReport: seeded for R0A
// (the trust's token) and amended, so at version 2, and shared with no one.
func amendedReport(t *testing.T, fhir string) string {
	t.Helper()
	_, s, _ := fhirGet(t, fhir+"/DiagnosticReport?identifier=PULL-03", trustToken)
	if len(s.Entry) != 1 || s.Entry[0].Resource["meta"].(map[string]any)["versionId"] != "2" {
		t.Fatalf("PULL-03 is not seeded as an amended report of R0A's: %d entries", len(s.Entry))
	}
	return s.Entry[0].Resource["id"].(string)
}

func TestPullAPI(t *testing.T) {
	for _, store := range []string{"embedded", "redis"} {
		t.Run(store, func(t *testing.T) { testPull(t, store) })
	}
}

func testPull(t *testing.T, store string) {
	base, iss := pullGateway(t, store)
	byTrust := seed(t, base, "PULL")
	fhir := base + "/fhir"

	t.Run("search by NHS number sees only the trust's reports, newest versions", func(t *testing.T) {
		for trust, patients := range byTrust {
			token := map[string]string{"R0A": trustToken, "RBS": otherTrustToken}[trust]
			other := map[string]string{"R0A": otherTrustToken, "RBS": trustToken}[trust]
			for number, want := range patients {
				q := fhir + "/DiagnosticReport?patient.identifier=" + url.QueryEscape(nhsSystem+"|"+number)
				status, s, body := fhirGet(t, q, token)
				sort.Strings(want)
				if status != 200 || fmt.Sprint(reportIDs(s)) != fmt.Sprint(want) {
					t.Fatalf("%s %s: %d %v, want %v\n%.300s", trust, number, status, reportIDs(s), want, body)
				}
				for _, e := range s.Entry {
					amended := e.Resource["meta"].(map[string]any)["versionId"] == "2"
					if (e.Resource["status"] == "amended") != amended {
						t.Errorf("version and status disagree: %v", e.Resource["meta"])
					}
				}
				if _, s, _ := fhirGet(t, q, other); len(s.Entry) != 0 {
					t.Fatalf("trust %s saw another trust's patient", other)
				}
			}
		}
	})

	t.Run("filters", func(t *testing.T) {
		_, s, _ := fhirGet(t, fhir+"/DiagnosticReport?status=amended&_count=100", trustToken)
		for _, id := range reportIDs(s) {
			n, _ := strconv.Atoi(id[len(id)-2:])
			if n%3 != 0 {
				t.Fatalf("status=amended returned %s", id)
			}
		}
		if len(reportIDs(s)) == 0 {
			t.Fatal("status=amended found nothing")
		}
		_, s, _ = fhirGet(t, fhir+"/DiagnosticReport?code="+url.QueryEscape("https://fhir.nhs.uk/CodeSystem/England-GenomicTestDirectory|R135.1")+"&identifier=PULL-01", trustToken)
		if fmt.Sprint(reportIDs(s)) != "[PULL-01]" {
			t.Fatalf("identifier+code = %v", reportIDs(s))
		}
		_, s, _ = fhirGet(t, fhir+"/DiagnosticReport?identifier=PULL-01&code=R14.1", trustToken)
		if len(s.Entry) != 0 {
			t.Fatal("a code that does not match was ignored")
		}
		_, s, body := fhirGet(t, fhir+"/DiagnosticReport?_lastUpdated=ge2999-01-01", trustToken)
		if len(s.Entry) != 0 {
			t.Fatal("_lastUpdated=ge2999 matched")
		}
		// FHIR JSON has no empty arrays; a search whose matches fit one page says how many.
		var raw map[string]any
		if json.Unmarshal(body, &raw); raw["entry"] != nil || raw["total"] != float64(0) {
			t.Errorf("an empty searchset: %s", body)
		}
		if _, _, body := fhirGet(t, fhir+"/DiagnosticReport?identifier=PULL-01", trustToken); !strings.Contains(string(body), `"total":1`) {
			t.Errorf("a one-match searchset has no total of 1: %.300s", body)
		}
		_, s, _ = fhirGet(t, fhir+"/DiagnosticReport?identifier=PULL-01&_include=DiagnosticReport:result&_include=DiagnosticReport:subject", trustToken)
		modes := map[string]int{}
		for _, e := range s.Entry {
			modes[e.Resource["resourceType"].(string)+"/"+e.Search.Mode]++
		}
		if modes["DiagnosticReport/match"] != 1 || modes["Observation/include"] != 2 || modes["Patient/include"] != 1 {
			t.Fatalf("_include gave %v", modes)
		}
		// A patient in three reports is included once.
		patient := fhir + "/DiagnosticReport?patient.identifier=" + url.QueryEscape("https://fhir.nhs.uk/Id/nhs-number|9990000018")
		_, s, _ = fhirGet(t, patient+"&_include=DiagnosticReport:subject", trustToken)
		patients := 0
		for _, e := range s.Entry {
			if e.Resource["resourceType"] == "Patient" {
				patients++
			}
		}
		if len(reportIDs(s)) != 3 || patients != 1 {
			t.Fatalf("three reports of one patient with _include=DiagnosticReport:subject: %d reports, the patient %d times", len(reportIDs(s)), patients)
		}
		// Each date prefix compares with the whole day it names (London's).
		effective, err := time.Parse(time.RFC3339, s.Entry[0].Resource["effectiveDateTime"].(string))
		if err != nil {
			t.Fatal(err)
		}
		london, _ := time.LoadLocation("Europe/London")
		day := effective.In(london).Format(time.DateOnly)
		for prefix, want := range map[string]int{"": 3, "le": 3, "ge": 3, "gt": 0, "lt": 0, "ne": 0} {
			if _, s, _ := fhirGet(t, patient+"&date="+prefix+day, trustToken); len(reportIDs(s)) != want {
				t.Errorf("date=%s%s: %d reports, want %d", prefix, day, len(reportIDs(s)), want)
			}
		}
		if _, s, _ := fhirGet(t, patient+"&date="+day[:7], trustToken); len(reportIDs(s)) != 3 {
			t.Errorf("date=%s (the month): %d reports, want 3", day[:7], len(reportIDs(s)))
		}
		// What the gateway cannot answer exactly it refuses: a repeated
		// identifier (AND), a list of them (OR), a prefix it does not know.
		for _, q := range []string{"?identifier=PULL-01&identifier=PULL-02", "?identifier=PULL-01,PULL-02", "?date=el" + day,
			"?patient.identifier=" + url.QueryEscape("https://fhir.nhs.uk/Id/nhs-number|9990000018") + "&patient.identifier=" + url.QueryEscape("https://fhir.nhs.uk/Id/nhs-number|9990000034")} {
			if status, _, _ := fhirGet(t, fhir+"/DiagnosticReport"+q, trustToken); status != http.StatusBadRequest {
				t.Errorf("%s = %d, want a refusal", q, status)
			}
		}
	})

	t.Run("paging stays stable while reports arrive", func(t *testing.T) {
		var seen []string
		next := fhir + "/DiagnosticReport?_count=4"
		for pages := 0; next != "" && pages < 50; pages++ {
			_, s, _ := fhirGet(t, next, operatorToken)
			seen = append(seen, reportIDs(s)...)
			next = ""
			for _, l := range s.Link {
				if l.Relation == "next" {
					next = l.URL
				}
			}
			if pages == 1 { // new reports arrive between pages
				seed(t, base, fmt.Sprintf("LATE%d", pages))
			}
		}
		counts := map[string]int{}
		for _, id := range seen {
			counts[id]++
		}
		for id, c := range counts {
			if c != 1 {
				t.Fatalf("%s appeared %d times across pages", id, c)
			}
		}
		for i := 1; i <= 18; i++ {
			if counts[fmt.Sprintf("PULL-%02d", i)] != 1 {
				t.Fatalf("PULL-%02d was skipped while paging", i)
			}
		}
	})

	t.Run("each version's presentedForm leads to that version's PDF", func(t *testing.T) {
		id := amendedReport(t, fhir)
		hashes := map[string]bool{}
		for _, path := range []string{"/" + id, "/" + id + "/_history/1", "/" + id + "/_history/2"} {
			var dr map[string]any
			json.Unmarshal(get(t, fhir+"/DiagnosticReport"+path, trustToken).body, &dr)
			form := dr["presentedForm"].([]any)[0].(map[string]any)
			var bin map[string]any
			json.Unmarshal(get(t, fhir+"/"+form["url"].(string), trustToken).body, &bin)
			pdf, _ := base64.StdEncoding.DecodeString(fmt.Sprint(bin["data"]))
			sum := sha1.Sum(pdf)
			if got := base64.StdEncoding.EncodeToString(sum[:]); got != form["hash"] {
				t.Errorf("DiagnosticReport%s: %s holds a PDF whose SHA-1 is %s, not the presentedForm's %v", path, form["url"], got, form["hash"])
			}
			hashes[fmt.Sprint(form["hash"])] = true
		}
		if len(hashes) != 2 {
			t.Errorf("the two versions' PDFs: %d distinct hashes, want 2", len(hashes))
		}
	})

	t.Run("another trust's results are 404 everywhere", func(t *testing.T) {
		_, s, _ := fhirGet(t, fhir+"/DiagnosticReport?identifier=PULL-01&_include=DiagnosticReport:subject", trustToken)
		dr := s.Entry[0].Resource
		id := dr["id"].(string)
		subject := dr["subject"].(map[string]any)["reference"].(string)
		_, docs, _ := fhirGet(t, fhir+"/DocumentReference?subject="+subject, trustToken)
		doc := docs.Entry[0].Resource["id"].(string)
		obs := dr["result"].([]any)[0].(map[string]any)["reference"].(string)
		// The report's presentedForm points at the PDF's Binary, which serves the PDF.
		form := dr["presentedForm"].([]any)[0].(map[string]any)
		binary, _ := form["url"].(string)
		if !strings.HasPrefix(binary, "Binary/") || form["data"] != nil {
			t.Errorf("presentedForm %v, want a url to a Binary", form)
		}
		var bin map[string]any
		json.Unmarshal(get(t, base+"/fhir/"+binary, trustToken).body, &bin)
		if pdf, _ := base64.StdEncoding.DecodeString(fmt.Sprint(bin["data"])); !bytes.HasPrefix(pdf, []byte("%PDF")) {
			t.Errorf("%s does not hold the PDF: %.80v", binary, bin)
		}
		for _, path := range []string{"/fhir/DiagnosticReport/" + id, "/fhir/DiagnosticReport/" + id + "/_history/1",
			"/fhir/" + subject, "/fhir/" + obs, "/fhir/Binary/" + doc, "/fhir/DocumentReference/" + doc,
			"/v1/reports/PULL-01", "/v1/reports/PULL-01/journey", "/v1/reports/PULL-01/pdf"} {
			if status, _, _ := fhirGet(t, base+path, otherTrustToken); status != http.StatusNotFound {
				t.Errorf("other trust GET %s = %d, want 404", path, status)
			}
			if status, _, _ := fhirGet(t, base+path, trustToken); status != http.StatusOK {
				t.Errorf("own trust GET %s = %d, want 200", path, status)
			}
		}
		for _, q := range []string{"/fhir/DiagnosticReport?identifier=PULL-01&_include=DiagnosticReport:subject", "/fhir/DocumentReference?subject=" + subject} {
			if _, s, _ := fhirGet(t, base+q, otherTrustToken); len(s.Entry) != 0 {
				t.Errorf("other trust search %s returned %d entries", q, len(s.Entry))
			}
		}
		if status, _, _ := fhirGet(t, fhir+"/AuditEvent?entity=DiagnosticReport/"+id, trustToken); status != http.StatusForbidden {
			t.Errorf("a trust reading the audit trail = %d", status)
		}
		// The denied attempts are in the audit trail.
		_, audit, _ := fhirGet(t, fhir+"/AuditEvent?entity=DiagnosticReport/"+id, operatorToken)
		denied := 0
		for _, e := range audit.Entry {
			if strings.Contains(fmt.Sprint(e.Resource["agent"]), "other-trust") && e.Resource["outcome"] == "8" {
				denied++
			}
		}
		if denied < 5 {
			t.Errorf("only %d denied accesses by the other trust were audited", denied)
		}
	})

	t.Run("bad requests and tokens", func(t *testing.T) {
		for _, q := range []string{"?nhs=9990000018", "?patient.identifier=9990000018", "?_sort=-date", "?_count=1000", "?date=yesterday", "?_include=DiagnosticReport:performer"} {
			if status, _, _ := fhirGet(t, fhir+"/DiagnosticReport"+q, trustToken); status != http.StatusBadRequest {
				t.Errorf("%s = %d, want 400", q, status)
			}
		}
		if status, _, _ := fhirGet(t, fhir+"/DiagnosticReport", ""); status != http.StatusUnauthorized {
			t.Errorf("no token = %d", status)
		}
		claims := map[string]any{"iss": "https://auth.example.nhs.uk", "aud": "results-gateway", "sub": "epr",
			"exp": time.Now().Add(time.Minute).Unix(), "role": "trust", "ods": "R0A", "scope": "system/DiagnosticReport.read"}
		if status, s, _ := fhirGet(t, fhir+"/DiagnosticReport?identifier=PULL-01", iss.Sign("ES384", claims)); status != 200 || len(s.Entry) != 1 {
			t.Errorf("a valid JWT = %d, %d entries", status, len(s.Entry))
		}
		if r := get(t, fhir+"/DocumentReference?identifier=x", iss.Sign("ES384", claims)); r.status != http.StatusForbidden ||
			!strings.Contains(r.header.Get("WWW-Authenticate"), `error="insufficient_scope", scope="system/DocumentReference.s"`) {
			t.Errorf("a JWT without DocumentReference scope = %d, WWW-Authenticate %q; want 403 naming the scope (RFC 6750)", r.status, r.header.Get("WWW-Authenticate"))
		}
		// A type from the URL the gateway does not serve is not written into the header.
		if r := get(t, fhir+`/Foo",error="x?identifier=x`, iss.Sign("ES384", claims)); strings.Contains(r.header.Get("WWW-Authenticate"), "Foo") {
			t.Errorf("the challenge repeats the URL's type: %q", r.header.Get("WWW-Authenticate"))
		}
		claims["exp"] = time.Now().Add(-time.Hour).Unix()
		if status, _, body := fhirGet(t, fhir+"/DiagnosticReport", iss.Sign("RS256", claims)); status != http.StatusUnauthorized || !strings.Contains(string(body), "expired") {
			t.Errorf("an expired JWT = %d %s", status, body)
		}
		tok := iss.Sign("RS256", claims)
		if status, _, _ := fhirGet(t, fhir+"/DiagnosticReport", tok[:len(tok)-4]+"AAAA"); status != http.StatusUnauthorized {
			t.Errorf("a bad signature = %d", status)
		}
	})

	t.Run("configured sharing lets a trust read another's reports, and only those", func(t *testing.T) {
		_, s, _ := fhirGet(t, fhir+"/DiagnosticReport?_count=100", "test-sharing-token")
		got := map[string]bool{}
		for _, id := range reportIDs(s) {
			got[id] = true
		}
		for trust, patients := range byTrust {
			for _, ids := range patients {
				for _, id := range ids {
					if got[id] != (trust == "R0A") {
						t.Errorf("sharing trust sees %s (ordered by %s): %v", id, trust, got[id])
					}
				}
			}
		}
	})

	t.Run("a version is read by whom that version was for", func(t *testing.T) {
		// COPY: v1 for R0A only, v2 copied to RBS. MOVED: v1 for R0A, v2 a
		// correction for RBS's patient.
		post2 := func(id string, second func(m map[string]any)) string {
			for v := 1; v <= 2; v++ {
				var m map[string]any
				json.Unmarshal(fixtures.Report("amendment-v"+strconv.Itoa(v)), &m)
				m["id"] = id
				m["orderingTrust"] = map[string]any{"odsCode": "R0A"}
				if v == 2 {
					second(m)
				}
				body, _ := json.Marshal(m)
				if r := post(t, base, labToken, body); r.status != http.StatusAccepted {
					t.Fatalf("%s v%d: %d %s", id, v, r.status, r.body)
				}
			}
			_, s, _ := fhirGet(t, fhir+"/DiagnosticReport?identifier="+id, operatorToken)
			if len(s.Entry) != 1 {
				t.Fatalf("%s: %d reports", id, len(s.Entry))
			}
			return s.Entry[0].Resource["id"].(string)
		}
		copied := post2("PULL-COPY", func(m map[string]any) { m["copyTo"] = []any{map[string]any{"odsCode": "RBS"}} })
		moved := post2("PULL-MOVED", func(m map[string]any) {
			m["status"] = "corrected"
			m["orderingTrust"] = map[string]any{"odsCode": "RBS"}
		})
		for _, c := range []struct {
			path, token string
			want        int
		}{
			{"/DiagnosticReport/" + copied + "/_history/1", otherTrustToken, http.StatusNotFound},
			{"/DiagnosticReport/" + copied + "/_history/2", otherTrustToken, http.StatusOK},
			{"/DiagnosticReport/" + copied + "/_history/1", trustToken, http.StatusOK},
			{"/DiagnosticReport/" + moved, trustToken, http.StatusNotFound},
			{"/DiagnosticReport/" + moved + "/_history/1", trustToken, http.StatusOK},
			{"/DiagnosticReport/" + moved + "/_history/2", trustToken, http.StatusNotFound},
			{"/DiagnosticReport/" + moved + "/_history/1", otherTrustToken, http.StatusNotFound},
			{"/DiagnosticReport/" + moved + "/_history/2", otherTrustToken, http.StatusOK},
		} {
			if status, _, body := fhirGet(t, fhir+c.path, c.token); status != c.want {
				t.Errorf("GET %s as %s = %d, want %d: %.200s", c.path, c.token, status, c.want, body)
			}
		}
		// The PDF of a version the caller may not read stays out of reach too.
		var dr map[string]any
		json.Unmarshal(get(t, fhir+"/DiagnosticReport/"+copied+"/_history/1", trustToken).body, &dr)
		binary := dr["presentedForm"].([]any)[0].(map[string]any)["url"].(string)
		if status, _, _ := fhirGet(t, fhir+"/"+binary, otherTrustToken); status != http.StatusNotFound {
			t.Errorf("RBS read v1's PDF at %s: %d, want 404", binary, status)
		}
	})

	t.Run("an amended report's Provenance is found by its target", func(t *testing.T) {
		id := amendedReport(t, fhir)
		status, found, body := fhirGet(t, fhir+"/Provenance?target=DiagnosticReport/"+id, trustToken)
		if status != http.StatusOK || len(found.Entry) != 2 {
			t.Fatalf("Provenance?target: %d, %d entries, want one per version: %.300s", status, len(found.Entry), body)
		}
		updates := 0
		for _, e := range found.Entry {
			if e.Resource["resourceType"] != "Provenance" || !strings.Contains(fmt.Sprint(e.Resource["target"]), "DiagnosticReport/"+id) {
				t.Errorf("not a Provenance of the report: %.200v", e.Resource)
			}
			if strings.Contains(fmt.Sprint(e.Resource["activity"]), "UPDATE") {
				updates++
			}
		}
		if updates != 1 {
			t.Errorf("%d of the two versions' Provenance record an update, want 1 (the amendment)", updates)
		}
		if _, other, _ := fhirGet(t, fhir+"/Provenance?target=DiagnosticReport/"+id, otherTrustToken); len(other.Entry) != 0 {
			t.Errorf("another trust found %d Provenance of the report", len(other.Entry))
		}
		// Each is read at its address, an earlier version's too.
		for _, e := range found.Entry {
			if r := get(t, e.FullURL, trustToken); r.status != http.StatusOK || !strings.Contains(string(r.body), `"Provenance"`) {
				t.Errorf("GET %s = %d", e.FullURL, r.status)
			}
		}
		// A report moved to another trust's patient: each trust finds the
		// Provenance of the versions that were its own.
		for v := 1; v <= 2; v++ {
			var m map[string]any
			json.Unmarshal(fixtures.Report("amendment-v"+strconv.Itoa(v)), &m)
			m["id"], m["orderingTrust"] = "PULL-PROV", map[string]any{"odsCode": "R0A"}
			if v == 2 {
				m["status"], m["orderingTrust"] = "corrected", map[string]any{"odsCode": "RBS"}
			}
			body, _ := json.Marshal(m)
			if r := post(t, base, labToken, body); r.status != http.StatusAccepted {
				t.Fatalf("PULL-PROV v%d: %d %s", v, r.status, r.body)
			}
		}
		_, moved, _ := fhirGet(t, fhir+"/DiagnosticReport?identifier=PULL-PROV", operatorToken)
		if len(moved.Entry) != 1 {
			t.Fatal("PULL-PROV not found")
		}
		movedID := moved.Entry[0].Resource["id"].(string)
		for token, want := range map[string]string{trustToken: "1", otherTrustToken: "2"} {
			_, s, _ := fhirGet(t, fhir+"/Provenance?target=DiagnosticReport/"+movedID, token)
			var versions []string
			for _, e := range s.Entry {
				versions = append(versions, fmt.Sprint(e.Resource["meta"].(map[string]any)["versionId"]))
			}
			if strings.Join(versions, ",") != want {
				t.Errorf("%s found the Provenance of versions %v of the moved report, want %s", token, versions, want)
			}
			for _, e := range s.Entry { // and reads each at the address given
				if r := get(t, e.FullURL, token); r.status != http.StatusOK {
					t.Errorf("%s: GET %s = %d", token, e.FullURL, r.status)
				}
			}
		}
		// With the reports: the Provenance of each of their versions.
		if _, one, _ := fhirGet(t, fhir+"/DiagnosticReport?identifier=PULL-03&_revinclude=Provenance:target", trustToken); len(one.Entry) != 3 {
			t.Errorf("PULL-03 with _revinclude: %d entries, want the report and both versions' Provenance", len(one.Entry))
		}
		status, withRev, body := fhirGet(t, fhir+"/DiagnosticReport?_count=50&_revinclude=Provenance:target", trustToken)
		matched, provenance := map[string]bool{}, map[string]bool{}
		for _, e := range withRev.Entry {
			switch e.Resource["resourceType"] {
			case "DiagnosticReport":
				matched[e.Resource["id"].(string)] = true
			case "Provenance":
				for _, tgt := range e.Resource["target"].([]any) {
					ref, _ := tgt.(map[string]any)["reference"].(string)
					provenance[strings.Split(strings.TrimPrefix(ref, "DiagnosticReport/"), "/")[0]] = true
				}
			}
		}
		if status != http.StatusOK || len(matched) == 0 || len(provenance) != len(matched) {
			t.Errorf("_revinclude=Provenance:target: %d, %d reports, Provenance for %d: %.300s", status, len(matched), len(provenance), body)
		}
		for id := range matched {
			if !provenance[id] {
				t.Errorf("no Provenance included for DiagnosticReport/%s", id)
			}
		}
		for _, q := range []string{"/Provenance?target=Patient/x", "/Provenance", "/Provenance?target=DiagnosticReport/" + id + "&agent=x"} {
			if status, _, _ := fhirGet(t, fhir+q, trustToken); status != http.StatusBadRequest {
				t.Errorf("%s = %d, want 400", q, status)
			}
		}
	})

	t.Run("a standard FHIR client pulls a result", func(t *testing.T) {
		cmd := peers.Command(t, "fhir-read", "--base", fhir, "--token", trustToken, "https://fhir.results-gateway.nhs.uk/Id/report|PULL-02")
		if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "Testpatient") {
			t.Fatalf("fhir-read: %v\n%s", err, out)
		}
	})
}

// TestSharedPatientVersions: a Patient is shared by every report of that
// patient, so its version follows its content, not one report's version:
// a second report that renames the patient made the Patient say the new
// name under the same versionId and ETag, and its first version could no
// longer be read. A client holding an ETag is told 304 while it is current.
func TestSharedPatientVersions(t *testing.T) {
	base, _ := pullGateway(t, "embedded")
	fhir := base + "/fhir"
	postAs := func(id, family string) {
		var m map[string]any
		json.Unmarshal(fixtures.Report("panel-brca2"), &m)
		m["id"] = id
		m["orderingTrust"] = map[string]any{"odsCode": "R0A"}
		m["patient"].(map[string]any)["nhsNumber"] = "9990000077"
		m["patient"].(map[string]any)["name"].(map[string]any)["family"] = family
		body, _ := json.Marshal(m)
		if r := post(t, base, labToken, body); r.status != http.StatusAccepted {
			t.Fatalf("%s: %d %s", id, r.status, r.body)
		}
	}
	patient := func(path string, header ...string) (response, map[string]any) {
		req, _ := http.NewRequest(http.MethodGet, fhir+"/"+path, nil)
		req.Header.Set("Authorization", "Bearer "+trustToken)
		if len(header) == 2 {
			req.Header.Set(header[0], header[1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		var p map[string]any
		json.Unmarshal(body, &p)
		return response{status: resp.StatusCode, header: resp.Header, body: body}, p
	}
	family := func(p map[string]any) any { return p["name"].([]any)[0].(map[string]any)["family"] }

	postAs("SHARED-1", "Firstname")
	_, s, _ := fhirGet(t, fhir+"/DiagnosticReport?identifier=SHARED-1", trustToken)
	if len(s.Entry) != 1 {
		t.Fatalf("SHARED-1: %d entries", len(s.Entry))
	}
	ref := s.Entry[0].Resource["subject"].(map[string]any)["reference"].(string)
	r1, p1 := patient(ref)
	v1 := p1["meta"].(map[string]any)["versionId"].(string)
	if r1.status != http.StatusOK || family(p1) != "Firstname" || r1.header.Get("ETag") != `W/"`+v1+`"` {
		t.Fatalf("%s: %d %s ETag %s", ref, r1.status, r1.body, r1.header.Get("ETag"))
	}
	if r, _ := patient(ref, "If-None-Match", r1.header.Get("ETag")); r.status != http.StatusNotModified {
		t.Fatalf("If-None-Match the current ETag: %d", r.status)
	}

	postAs("SHARED-2", "Renamed")
	r2, p2 := patient(ref)
	v2 := p2["meta"].(map[string]any)["versionId"].(string)
	if family(p2) != "Renamed" || v2 == v1 || r2.header.Get("ETag") == r1.header.Get("ETag") {
		t.Fatalf("after the rename: %v version %s (was %s), ETag %s", family(p2), v2, v1, r2.header.Get("ETag"))
	}
	if r, _ := patient(ref, "If-None-Match", r1.header.Get("ETag")); r.status != http.StatusOK {
		t.Fatalf("If-None-Match the old ETag: %d", r.status)
	}
	for v, want := range map[string]string{v1: "Firstname", v2: "Renamed"} {
		if r, p := patient(ref + "/_history/" + v); r.status != http.StatusOK || family(p) != want || p["meta"].(map[string]any)["versionId"] != v {
			t.Errorf("vread %s: %d %s", v, r.status, r.body)
		}
	}
	for _, vid := range []string{"1", "not-a-version", strings.ToUpper(v1)} {
		if r, _ := patient(ref + "/_history/" + vid); r.status != http.StatusNotFound {
			t.Errorf("vread %s of a shared Patient: %d", vid, r.status)
		}
	}
}

// TestSMARTDiscovery: a SMART Backend Services client finds the token
// endpoint without a token, from .well-known/smart-configuration and the
// CapabilityStatement, which declared SMART-on-FHIR but named no endpoint.
func TestSMARTDiscovery(t *testing.T) {
	base, _ := pullGateway(t, "embedded")
	r := get(t, base+"/fhir/.well-known/smart-configuration", "")
	conf := r.json(t)
	if r.status != http.StatusOK || conf["token_endpoint"] != "https://auth.example.nhs.uk/token" || conf["issuer"] != "https://auth.example.nhs.uk" ||
		!slices.Contains(conf["grant_types_supported"].([]any), any("client_credentials")) || !slices.Contains(conf["capabilities"].([]any), any("client-confidential-asymmetric")) {
		t.Fatalf("smart-configuration: %d %s", r.status, r.body)
	}
	meta := get(t, base+"/fhir/metadata", "")
	if !strings.Contains(string(meta.body), `oauth-uris`) || !strings.Contains(string(meta.body), `"valueUri":"https://auth.example.nhs.uk/token"`) {
		t.Fatalf("the CapabilityStatement names no token endpoint: %s", meta.body)
	}
}
