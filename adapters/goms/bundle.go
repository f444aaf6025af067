package goms

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// bundle is what the adapter needs from the gateway's transaction Bundle.
// Entries keep their resources as raw bytes: only the Bundle's envelope is
// rewritten for GOMS, never the clinical content.
type bundle struct {
	raw         map[string]json.RawMessage
	entries     []*entry
	reportEntry int        // index of the DiagnosticReport
	order       identifier // the ServiceRequest the report is basedOn
}

type entry struct {
	FullURL  string          `json:"fullUrl,omitempty"`
	Resource json.RawMessage `json:"resource,omitempty"`
	Request  map[string]any  `json:"request,omitempty"`

	typ string
}

type identifier struct{ System, Value string }

// gmsOrderSystem is NHS England's NamingSystem for the Genomic Medicine
// Service order number.
const gmsOrderSystem = "https://fhir.nhs.uk/Id/GMSOrder"

func (id identifier) token() string { return id.System + "|" + id.Value }

type resourceHead struct {
	ResourceType string       `json:"resourceType"`
	Identifier   []identifier `json:"identifier"`
	BasedOn      []struct {
		Reference string `json:"reference"`
	} `json:"basedOn"`
}

// parseBundle finds the DiagnosticReport and the order (ServiceRequest) it is based on.
func parseBundle(payload []byte) (*bundle, error) {
	b := &bundle{reportEntry: -1}
	if err := json.Unmarshal(payload, &b.raw); err != nil {
		return nil, fmt.Errorf("the payload is not a FHIR Bundle: %w", err)
	}
	var typ string
	json.Unmarshal(b.raw["resourceType"], &typ)
	if typ != "Bundle" {
		return nil, errors.New("the payload is not a FHIR Bundle: GOMS destinations need payloadOf bundle (FHIR format)")
	}
	if err := json.Unmarshal(b.raw["entry"], &b.entries); err != nil {
		return nil, fmt.Errorf("the Bundle's entries: %w", err)
	}
	heads := make([]resourceHead, len(b.entries))
	byURL := map[string]int{}
	for i, e := range b.entries {
		json.Unmarshal(e.Resource, &heads[i])
		e.typ = heads[i].ResourceType
		byURL[e.FullURL] = i
		if e.typ == "DiagnosticReport" {
			if b.reportEntry >= 0 {
				return nil, errors.New("the Bundle holds more than one DiagnosticReport")
			}
			b.reportEntry = i
		}
	}
	if b.reportEntry < 0 {
		return nil, errors.New("the Bundle holds no DiagnosticReport")
	}
	// GOMS knows an order by NHS England's GMS order number alone. A report
	// without one is refused before anything is sent: posted under the
	// gateway's own order identifier, it created an order on GOMS that no
	// requester placed, then waited an hour for a Task that never came.
	for _, ref := range heads[b.reportEntry].BasedOn {
		if i, ok := byURL[ref.Reference]; ok && b.entries[i].typ == "ServiceRequest" {
			for _, id := range heads[i].Identifier {
				if id.System == gmsOrderSystem && id.Value != "" {
					b.order = id
				}
			}
		}
	}
	if b.order.Value == "" {
		return nil, errors.New("the report carries no GMS order number (" + gmsOrderSystem + "): GOMS cannot match it to an order. " +
			"Route only GMS reports to this destination, or have the lab send the order number and resend the report")
	}
	return b, nil
}

// describe names entry i for an error message by its place and type only:
// a fullUrl is derived from business identifiers (a Patient's from its NHS
// number) and a request URL may hold one.
func (b *bundle) describe(i int) string {
	if i < 0 || i >= len(b.entries) {
		return "unknown entry"
	}
	return b.entries[i].typ
}

// forGOMS returns the Bundle as GOMS takes it:
//   - with a Bundle.identifier, which the API's request schema requires
//     (urn:uuid derived from the delivery, so a resend carries the same one);
//   - the ServiceRequest entries as conditional creates (POST, ifNoneExist
//     on the GMS order number), not conditional updates: on GOMS the order belongs to the
//     requester, and the lab's copy must not overwrite or duplicate it.
func (b *bundle) forGOMS(correlation string) ([]byte, error) {
	out := make(map[string]json.RawMessage, len(b.raw)+1)
	for k, v := range b.raw {
		out[k] = v
	}
	if _, ok := out["identifier"]; !ok {
		out["identifier"], _ = json.Marshal(map[string]string{"system": "urn:ietf:rfc:3986", "value": "urn:uuid:" + correlation})
	}
	for _, e := range b.entries {
		if e.typ != "ServiceRequest" {
			continue
		}
		if method, _ := e.Request["method"].(string); method == "PUT" {
			url, _ := e.Request["url"].(string)
			if path, _, ok := strings.Cut(url, "?"); ok {
				e.Request = map[string]any{"method": "POST", "url": path, "ifNoneExist": "identifier=" + b.order.token()}
			}
		}
	}
	entries, err := json.Marshal(b.entries)
	if err != nil {
		return nil, err
	}
	out["entry"] = entries
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		return nil, err
	}
	return bytes.TrimSpace(buf.Bytes()), nil
}
