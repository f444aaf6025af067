package fhirrest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/nhs-genomics/results-gateway/gateway"
	"github.com/nhs-genomics/results-gateway/internal/fhirjson"
)

// Batch and individual modes, for EPRs without transactions. Outside a
// transaction urn:uuid references cannot be resolved by the server, so the
// adapter resolves them first: each conditional entry is searched for by
// its identifier, and reuses the logical id found, or else gets a stable id
// derived from the identifier; references are rewritten to Type/id and every
// resource is written with PUT Type/id, which is idempotent. An existing
// resource that the Bundle would only have created if absent (a patient or
// an organisation: master data the EPR owns) is left untouched.

type entry struct {
	FullURL  string         `json:"fullUrl"`
	Resource map[string]any `json:"resource"`
	Request  struct {
		Method      string `json:"method"`
		URL         string `json:"url"`
		IfNoneExist string `json:"ifNoneExist"`
	} `json:"request"`

	typ, id string
	write   bool
}

// resolve works out every entry's logical id and rewrites the references.
func (a *Adapter) resolve(ctx context.Context, payload []byte) ([]*entry, error) {
	var b struct {
		Entry []*entry `json:"entry"`
	}
	if err := json.Unmarshal(payload, &b); err != nil {
		return nil, gateway.Permanent(fmt.Errorf("the payload is not a Bundle: %w", err))
	}
	refs := map[string]string{}
	for _, e := range b.Entry {
		e.typ, _ = e.Resource["resourceType"].(string)
		query := e.Request.IfNoneExist
		path, q, conditional := strings.Cut(e.Request.URL, "?")
		if conditional {
			query = q
		}
		e.write = true
		switch {
		case query != "":
			existing, err := a.search(ctx, e.typ, query)
			if err != nil {
				return nil, err
			}
			e.id = existing
			if existing == "" {
				sum := sha256.Sum256([]byte(e.typ + "?" + query))
				e.id = "rg-" + hex.EncodeToString(sum[:16])
			} else if e.Request.Method == http.MethodPost {
				e.write = false // conditional create of something that exists: leave it be
			}
		case strings.Contains(path, "/"):
			e.id = path[strings.Index(path, "/")+1:]
		default:
			return nil, gateway.Permanent(fmt.Errorf("entry %s has no identifier to make it idempotent", e.FullURL))
		}
		refs[e.FullURL] = e.typ + "/" + e.id
	}
	for _, e := range b.Entry {
		fhirjson.RewriteReferences(e.Resource, refs)
		e.Resource["id"] = e.id
	}
	return b.Entry, nil
}

// search finds the logical id of the one resource matching query ("" if none).
func (a *Adapter) search(ctx context.Context, typ, query string) (string, error) {
	values, err := url.ParseQuery(query)
	if err != nil {
		return "", gateway.Permanent(fmt.Errorf("a conditional query on %s that does not parse", typ)) // the query holds an identifier: not in the message
	}
	resp, body, err := a.do(ctx, http.MethodGet, a.base+"/"+typ+"?"+values.Encode(), "", nil)
	if err != nil {
		return "", err
	}
	if err := classify(resp, body, "a search"); err != nil {
		return "", err
	}
	var found struct {
		Entry []struct {
			Resource struct {
				ID string `json:"id"`
			} `json:"resource"`
			Search struct {
				Mode string `json:"mode"`
			} `json:"search"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(body, &found); err != nil {
		return "", fmt.Errorf("search %s: %w", typ, err)
	}
	var ids []string
	for _, e := range found.Entry {
		if e.Search.Mode == "" || e.Search.Mode == "match" {
			ids = append(ids, e.Resource.ID)
		}
	}
	switch len(ids) {
	case 0:
		return "", nil
	case 1:
		return ids[0], nil
	}
	return "", gateway.Permanent(fmt.Errorf("%d %s resources match the entry's identifier: the EPR must resolve the duplicate", len(ids), typ))
}

func (a *Adapter) deliverBatch(ctx context.Context, payload []byte) (string, error) {
	entries, err := a.resolve(ctx, payload)
	if err != nil {
		return "", err
	}
	type batchEntry struct {
		FullURL  string         `json:"fullUrl"`
		Resource map[string]any `json:"resource"`
		Request  map[string]any `json:"request"`
	}
	batch := struct {
		ResourceType string       `json:"resourceType"`
		Type         string       `json:"type"`
		Entry        []batchEntry `json:"entry"`
	}{ResourceType: "Bundle", Type: "batch"}
	for _, e := range entries {
		if e.write {
			ref := e.typ + "/" + e.id
			batch.Entry = append(batch.Entry, batchEntry{a.base + "/" + ref, e.Resource, map[string]any{"method": "PUT", "url": ref}})
		}
	}
	body, _ := json.Marshal(batch)
	resp, respBody, err := a.do(ctx, http.MethodPost, a.base, "application/fhir+json", body)
	if err != nil {
		return "", err
	}
	if err := classify(resp, respBody, "the batch"); err != nil {
		return "", err
	}
	var br struct {
		Entry []struct {
			Response struct {
				Status  string          `json:"status"`
				Outcome json.RawMessage `json:"outcome"`
			} `json:"response"`
		} `json:"entry"`
	}
	json.Unmarshal(respBody, &br)
	for i, e := range br.Entry {
		var code int
		fmt.Sscanf(e.Response.Status, "%d", &code)
		if code >= 300 {
			// One entry failing in a batch is classified like a request of its own.
			fake := &http.Response{StatusCode: code, Status: e.Response.Status, Header: http.Header{}}
			return "", classify(fake, e.Response.Outcome, fmt.Sprintf("batch entry %d (%s)", i, batch.Entry[i].Request["url"]))
		}
	}
	return written(entries, len(batch.Entry)), nil
}

func (a *Adapter) deliverIndividually(ctx context.Context, payload []byte) (string, error) {
	entries, err := a.resolve(ctx, payload)
	if err != nil {
		return "", err
	}
	n := 0
	for _, e := range entries { // the Bundle lists what is referenced before what refers to it
		if !e.write {
			continue
		}
		body, _ := json.Marshal(e.Resource)
		resp, respBody, err := a.do(ctx, http.MethodPut, a.base+"/"+e.typ+"/"+e.id, "application/fhir+json", body)
		if err != nil {
			return "", err
		}
		if err := classify(resp, respBody, e.typ+"/"+e.id); err != nil {
			return "", err
		}
		n++
	}
	return written(entries, n), nil
}

func written(entries []*entry, n int) string {
	report := ""
	for _, e := range entries {
		if e.typ == "DiagnosticReport" {
			report = "DiagnosticReport/" + e.id
		}
	}
	return fmt.Sprintf("%s (%d resources written, %d already present)", report, n, len(entries)-n)
}
