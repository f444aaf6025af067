package gateway_test

import (
	"testing"
	"time"

	"github.com/nhs-genomics/results-gateway/gateway"
)

// Each recipient's state comes from its deliveries and the audit trail:
// accepted by a delivery; filed by its system reading the FHIR, or an HL7
// v2 application acknowledgement (AA, not a commit accept CA); acknowledged
// by a clinician, for this version only.
func TestRecipientStates(t *testing.T) {
	t0 := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	rec := &gateway.ReportRecord{ID: "R-1", Version: 2, TrustODS: "R0A", CopyTo: []string{"A81001", "B82002"}, ReceivedAt: t0}
	delivered := func(dest, who, contentType, ref string, m, version int) *gateway.Delivery {
		return &gateway.Delivery{ReportID: "R-1", Version: version, Destination: dest, Recipient: who, ContentType: contentType,
			Attempts: []gateway.Attempt{{At: at(m), Outcome: "delivered", ReceiverRef: ref}}}
	}
	hl7 := gateway.Formats[gateway.FormatHL7v2]
	deliveries := []*gateway.Delivery{
		delivered("r0a-fhir", "R0A", "application/fhir+json", "DiagnosticReport/9", 1, 2),
		delivered("gp-hl7", "A81001", hl7, "AA MSG-1 (ACK 7)", 2, 2),
		delivered("b-hl7", "B82002", hl7, "CA MSG-2 (ACK 8)", 3, 2),
		delivered("old", "", "application/fhir+json", "x", 0, 1), // version 1: not this version's state
	}
	audit := []gateway.AuditEntry{
		{At: at(4), Role: gateway.RoleTrust, ODSCode: "R0A", Action: "read", What: "DiagnosticReport/9", Outcome: "success"},
		{At: at(5), Role: gateway.RoleTrust, ODSCode: "R0A", Action: gateway.ActionAcknowledge, What: gateway.AcknowledgementWhat("R-1", 1, "Dr Old"), Outcome: "success"},
		{At: at(6), Role: gateway.RoleTrust, ODSCode: "R0A", Action: gateway.ActionAcknowledge, What: gateway.AcknowledgementWhat("R-1", 2, "Dr New"), Outcome: "success"},
		{At: at(7), Role: gateway.RoleTrust, ODSCode: "B82002", Action: "read", What: "report R-1/journey", Outcome: "success"}, // a person looking, not filing
	}
	got := map[string]gateway.RecipientState{}
	for _, s := range gateway.RecipientStates(rec, deliveries, audit) {
		got[s.ODSCode] = s
	}
	if s := got["R0A"]; s.Role != gateway.RecipientOrdering || !s.Delivered.Equal(at(1)) || !s.Filed.Equal(at(4)) || !s.Acknowledged.Equal(at(6)) || s.AcknowledgedBy != "Dr New" || s.State() != "acknowledged" {
		t.Errorf("R0A: %+v", s)
	}
	if s := got["A81001"]; s.Role != gateway.RecipientCopy || !s.Filed.Equal(at(2)) || s.State() != "filed" {
		t.Errorf("A81001 (AA): %+v", s)
	}
	if s := got["B82002"]; !s.Filed.IsZero() || s.State() != "delivered" {
		t.Errorf("B82002 (CA, then only a journey read): %+v", s)
	}
	if len(got) != 3 {
		t.Errorf("recipients %v", got)
	}
}

// TestFiledIsTheEarliest: a recipient that read the report's FHIR before
// its HL7 EPR acknowledged the ORU filed it when it read it, not when the
// later AA came (the AA, found first, used to hide the earlier read).
func TestFiledIsTheEarliest(t *testing.T) {
	t0 := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	rec := &gateway.ReportRecord{ID: "R-1", Version: 1, TrustODS: "R0A", ReceivedAt: t0}
	deliveries := []*gateway.Delivery{{ReportID: "R-1", Version: 1, Destination: "r0a-hl7", Recipient: "R0A",
		ContentType: gateway.Formats[gateway.FormatHL7v2],
		Attempts:    []gateway.Attempt{{At: at(10), Outcome: "delivered", ReceiverRef: "AA MSG-1 (ACK 7)"}}}}
	audit := []gateway.AuditEntry{
		{At: at(2), Role: gateway.RoleTrust, ODSCode: "R0A", Action: "read", What: "report R-1/fhir", Outcome: "success"},
	}
	states := gateway.RecipientStates(rec, deliveries, audit)
	if len(states) != 1 || !states[0].Filed.Equal(at(2)) {
		t.Fatalf("filed %v, want the FHIR read at %v: %+v", states[0].Filed, at(2), states)
	}
}
