package gomsstub

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/nhs-genomics/results-gateway/internal/fhirjson"
)

// SeedOrder stores an order as GOMS holds it once placed: a ServiceRequest
// with the order identifier and, unless taskStatus is empty, its Tasks (see
// AddTask). It returns the order Task's id ("" without one).
func (s *Stub) SeedOrder(system, value, taskStatus string) string {
	s.mu.Lock()
	s.put("ServiceRequest", "", map[string]any{"resourceType": "ServiceRequest", "status": "active", "intent": "order",
		"identifier": []any{map[string]any{"system": system, "value": value}},
		"subject":    map[string]any{"identifier": map[string]any{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9990000018"}}})
	s.mu.Unlock()
	if taskStatus == "" {
		return ""
	}
	return s.AddTask(system, value, taskStatus)
}

// AddTask adds to a seeded order its process-genomic-test-request Task in
// taskStatus (version 1) and an unrelated, completed sample-alignment Task,
// and returns the order Task's id.
func (s *Stub) AddTask(system, value, taskStatus string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	sr := s.byIdentifier("ServiceRequest", system+"|"+value)
	task := func(code, display, status string) string {
		return s.put("Task", "", map[string]any{"resourceType": "Task", "status": status, "intent": "order",
			"code":       map[string]any{"coding": []any{map[string]any{"system": "https://fhir.nhs.uk/CodeSystem/task-code-genomics", "code": code, "display": display}}},
			"focus":      map[string]any{"reference": "ServiceRequest/" + sr},
			"authoredOn": "2026-01-05T09:00:00Z",
			"statusReason": map[string]any{"coding": []any{map[string]any{"system": "https://fhir.nhs.uk/CodeSystem/task-statusReason-genomics",
				"code": "awaiting-sample", "display": "Awaiting Sample"}}},
			"owner": map[string]any{"identifier": map[string]any{"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "699X0"}}})
	}
	task("request-sample-alignment", "Request & Sample Alignment", "completed")
	return task("process-genomic-test-request", "Process Genomic Test Request", taskStatus)
}

// Resource returns a copy of a stored resource (nil if absent).
func (s *Stub) Resource(typ, id string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.store[typ][id]
	if r == nil {
		return nil
	}
	var out map[string]any
	b, _ := json.Marshal(r)
	json.Unmarshal(b, &out)
	return out
}

// Count is how many resources of a type are stored.
func (s *Stub) Count(typ string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.store[typ])
}

// put stores a resource (a new id when id is empty), bumping its version. s.mu is held.
func (s *Stub) put(typ, id string, r map[string]any) string {
	if id == "" {
		s.nextID++
		id = fmt.Sprintf("%s-%04d", strings.ToLower(typ), s.nextID)
	}
	if s.store[typ] == nil {
		s.store[typ] = map[string]map[string]any{}
	}
	version := 1
	if old := s.store[typ][id]; old != nil {
		fmt.Sscan(versionOf(old), &version)
		version++
	}
	r["id"] = id
	r["meta"] = map[string]any{"versionId": fmt.Sprint(version), "lastUpdated": "2026-01-05T10:00:00Z"}
	s.store[typ][id] = r
	return id
}

func versionOf(r map[string]any) string {
	meta, _ := r["meta"].(map[string]any)
	v, _ := meta["versionId"].(string)
	return v
}

// byIdentifier finds a stored resource by "system|value". s.mu is held.
func (s *Stub) byIdentifier(typ, token string) string {
	system, value, _ := strings.Cut(token, "|")
	for id, r := range s.store[typ] {
		ids, _ := r["identifier"].([]any)
		for _, i := range ids {
			m, _ := i.(map[string]any)
			if m["system"] == system && m["value"] == value {
				return id
			}
		}
	}
	return ""
}

type txEntry struct {
	FullURL  string         `json:"fullUrl"`
	Resource map[string]any `json:"resource"`
	Request  struct {
		Method, URL, IfNoneExist, IfMatch string
	} `json:"request"`
}

// transaction applies a transaction Bundle atomically, as a FHIR server does.
func (s *Stub) transaction(w http.ResponseWriter, body []byte) {
	var b struct {
		Type  string    `json:"type"`
		Entry []txEntry `json:"entry"`
	}
	if err := json.Unmarshal(body, &b); err != nil || b.Type != "transaction" {
		writeOutcome(w, http.StatusBadRequest, "invalid", "INVALID", "not a transaction Bundle")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	type result struct{ id, status string }
	results := make([]result, len(b.Entry))
	refs := map[string]string{}
	fail := func(i int, status string, oo map[string]any) {
		resp := map[string]any{"resourceType": "Bundle", "type": "transaction-response", "identifier": bundleID()}
		var entries []any
		for j := range b.Entry {
			if j == i {
				entries = append(entries, map[string]any{"response": map[string]any{"status": status, "outcome": oo}})
			} else {
				entries = append(entries, map[string]any{"response": map[string]any{"status": "200 OK",
					"outcome": outcome("information", "informational", "INFORMATIONAL", "Resource not created as request transaction contains an error")}})
			}
		}
		resp["entry"] = entries
		json.NewEncoder(w).Encode(resp)
	}
	// Resolve every entry's id first (nothing is stored until all succeed).
	for i, e := range b.Entry {
		typ, _ := e.Resource["resourceType"].(string)
		if f := s.failEntry; f != nil && f.resourceType == typ {
			s.failEntry = nil
			fail(i, f.status, outcome("error", f.issueCode, "UNPROCESSABLE_ENTITY", fmt.Sprintf("Bundle.entry[%d].resource.ofType(%s): rejected by server business rules", i, typ)))
			return
		}
		path, query, conditional := strings.Cut(e.Request.URL, "?")
		if e.Request.IfNoneExist != "" {
			query, conditional = e.Request.IfNoneExist, true
		}
		var id string
		switch {
		case conditional:
			q, _ := url.ParseQuery(query)
			id = s.byIdentifier(typ, q.Get("identifier"))
		case strings.Contains(path, "/"):
			id = path[strings.Index(path, "/")+1:]
			if s.touchBeforeWrite == typ+"/"+id && s.store[typ][id] != nil {
				s.touchBeforeWrite = ""
				s.put(typ, id, s.store[typ][id]) // another user's change: a new version
				if s.conflictAsStatus {
					writeOutcome(w, http.StatusPreconditionFailed, "conflict", "PRECONDITION_FAILED", typ+"/"+id+" has changed since "+e.Request.IfMatch)
					return
				}
			}
			if cur := s.store[typ][id]; e.Request.IfMatch != "" && (cur == nil || e.Request.IfMatch != `W/"`+versionOf(cur)+`"`) {
				fail(i, "412 Precondition Failed", outcome("error", "conflict", "PRECONDITION_FAILED", fmt.Sprintf("%s/%s has changed since version %s", typ, id, e.Request.IfMatch)))
				return
			}
		}
		status := "201 Created"
		switch {
		case id != "" && e.Request.Method == http.MethodPost:
			status = "200 OK" // conditional create of something that exists: left alone
		case id != "" && s.store[typ][id] != nil:
			status = "200 OK"
		}
		if id == "" {
			s.nextID++
			id = fmt.Sprintf("%s-%04d", strings.ToLower(typ), s.nextID)
		}
		results[i] = result{id, status}
		refs[e.FullURL] = typ + "/" + id
	}
	out := []any{}
	report := false
	for i, e := range b.Entry {
		typ, _ := e.Resource["resourceType"].(string)
		if !(e.Request.Method == http.MethodPost && results[i].status == "200 OK") {
			fhirjson.RewriteReferences(e.Resource, refs)
			s.put(typ, results[i].id, e.Resource)
		}
		report = report || typ == "DiagnosticReport"
		out = append(out, map[string]any{"fullUrl": e.FullURL, "response": map[string]any{"status": results[i].status,
			"location": typ + "/" + results[i].id + "/_history/" + versionOf(s.store[typ][results[i].id])}})
	}
	if report {
		s.reports++
	}
	json.NewEncoder(w).Encode(map[string]any{"resourceType": "Bundle", "type": "transaction-response", "identifier": bundleID(), "entry": out})
}

// bundleID is the Bundle.identifier the GOMS OpenAPI requires on every Bundle it returns.
func bundleID() map[string]any {
	return map[string]any{"system": "urn:ietf:rfc:3986", "value": "urn:uuid:" + newUUID()}
}

// searchServiceRequest serves identifier= and _revinclude=Task:focus.
func (s *Stub) searchServiceRequest(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	entries := []any{}
	id := s.byIdentifier("ServiceRequest", r.URL.Query().Get("identifier"))
	if id != "" {
		entries = append(entries, s.searchEntry("ServiceRequest", id, "match"))
		if r.URL.Query().Get("_revinclude") == "Task:focus" {
			for tid, t := range s.store["Task"] {
				if focus, _ := t["focus"].(map[string]any); focus["reference"] == "ServiceRequest/"+id {
					entries = append(entries, s.searchEntry("Task", tid, "include"))
				}
			}
		}
	}
	searchset(w, entries)
}

// searchTask serves _id= and status=.
func (s *Stub) searchTask(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	entries := []any{}
	q := r.URL.Query()
	for id, t := range s.store["Task"] {
		if (q.Get("_id") == "" || q.Get("_id") == id) && (q.Get("status") == "" || q.Get("status") == t["status"]) {
			entries = append(entries, s.searchEntry("Task", id, "match"))
		}
	}
	searchset(w, entries)
}

// searchDiagnosticReport serves identifier=.
func (s *Stub) searchDiagnosticReport(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	entries := []any{}
	if id := s.byIdentifier("DiagnosticReport", r.URL.Query().Get("identifier")); id != "" {
		entries = append(entries, s.searchEntry("DiagnosticReport", id, "match"))
	}
	searchset(w, entries)
}

func (s *Stub) searchEntry(typ, id, mode string) map[string]any {
	return map[string]any{"fullUrl": s.URL + "/FHIR/R4/" + typ + "/" + id, "resource": s.store[typ][id], "search": map[string]any{"mode": mode}}
}

func searchset(w http.ResponseWriter, entries []any) {
	json.NewEncoder(w).Encode(map[string]any{"resourceType": "Bundle", "type": "searchset", "identifier": bundleID(),
		"total": len(entries), "entry": entries})
}
