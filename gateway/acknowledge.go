package gateway

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// ActionAcknowledge is the audit action a recipient records when a
// clinician has seen a report (POST /v1/reports/{id}/acknowledgements).
const ActionAcknowledge = "acknowledge"

// Recipient roles: why a report goes to an organisation.
const (
	RecipientOrdering = "ordering" // the ordering trust
	RecipientCopy     = "copy"     // a copy-to recipient
	RecipientEarlier  = "earlier"  // it had an earlier version (or the report this re-interprets)
)

// RecipientState is where one version of a report stands with one
// recipient: (a) its system accepted a delivery (an ACK, an HTTP 2xx),
// (b) its system filed it (read its FHIR through the pull API, or answered
// an HL7 v2 message with an application acknowledgement, AA), (c) a
// clinician acknowledged it.
type RecipientState struct {
	ODSCode        string    `json:"odsCode"`
	Role           string    `json:"role"`
	Destinations   []string  `json:"destinations,omitempty"`
	Delivered      time.Time `json:"delivered,omitzero"`
	Filed          time.Time `json:"filed,omitzero"`
	Acknowledged   time.Time `json:"acknowledged,omitzero"`
	AcknowledgedBy string    `json:"acknowledgedBy,omitempty"`
	// NotDelivered are its destinations that have not accepted this version
	// ("r0a-hl7 dead"): one destination's delivery says the organisation
	// has the report, and these say where it still does not.
	NotDelivered []string `json:"notDelivered,omitempty"`
}

// State is the furthest step reached: acknowledged, filed, delivered or waiting.
func (s RecipientState) State() string {
	switch {
	case !s.Acknowledged.IsZero():
		return "acknowledged"
	case !s.Filed.IsZero():
		return "filed"
	case !s.Delivered.IsZero():
		return "delivered"
	}
	return "waiting"
}

// AcknowledgementWhat is the audit entry's What for an acknowledgement of
// one version, by a named person.
func AcknowledgementWhat(id string, version int, by string) string {
	return fmt.Sprintf("report %s version %d by %s", id, version, by)
}

// RecipientStates derives each recipient's state for rec's version from
// its deliveries and the audit trail: nothing is kept for it but what the
// gateway stores anyway.
func RecipientStates(rec *ReportRecord, deliveries []*Delivery, audit []AuditEntry) []RecipientState {
	var out []RecipientState
	index := map[string]int{}
	add := func(ods, role string) int {
		if i, ok := index[ods]; ok {
			return i
		}
		index[ods] = len(out)
		out = append(out, RecipientState{ODSCode: ods, Role: role})
		return len(out) - 1
	}
	if rec.TrustODS != "" {
		add(rec.TrustODS, RecipientOrdering)
	}
	for _, ods := range rec.CopyTo {
		add(ods, RecipientCopy)
	}
	for _, d := range deliveries {
		if d.Version != rec.Version {
			continue
		}
		who := d.Recipient
		if who == "" {
			who = rec.TrustODS // a delivery made before recipients were recorded
		}
		s := &out[add(who, RecipientEarlier)]
		if !slices.Contains(s.Destinations, d.Destination) {
			s.Destinations = append(s.Destinations, d.Destination)
		}
		if d.State != DeliveryDelivered && d.State != DeliverySuperseded {
			s.NotDelivered = append(s.NotDelivered, d.Destination+" "+string(d.State))
		}
		for _, a := range d.Attempts {
			if a.Outcome != "delivered" {
				continue
			}
			if s.Delivered.IsZero() || a.At.Before(s.Delivered) {
				s.Delivered = a.At
			}
			// An HL7 v2 application acknowledgement (AA, original mode: the
			// receiving application processed it) is its system filing it; a
			// commit accept (CA, enhanced mode) only says it was received.
			if d.ContentType == Formats[FormatHL7v2] && strings.HasPrefix(a.ReceiverRef, "AA ") && (s.Filed.IsZero() || a.At.Before(s.Filed)) {
				s.Filed = a.At
			}
		}
	}
	prefix := fmt.Sprintf("report %s version %d by ", rec.ID, rec.Version)
	for _, e := range audit {
		i, ok := index[e.ODSCode]
		if !ok || e.Role != RoleTrust || e.Outcome != "success" {
			continue
		}
		s := &out[i]
		switch {
		case e.Action == ActionAcknowledge:
			if by, ok := strings.CutPrefix(e.What, prefix); ok && s.Acknowledged.IsZero() {
				s.Acknowledged, s.AcknowledgedBy = e.At, by
			}
		case files(e) && e.At.After(rec.ReceivedAt) && (s.Filed.IsZero() || e.At.Before(s.Filed)):
			s.Filed = e.At // its system read this version's FHIR (before any HL7 v2 AA)
		}
	}
	return out
}

// files says an access is a recipient's system taking the report's FHIR
// (the pull API or the report's Bundle), not a person looking at its
// journey or status.
func files(e AuditEntry) bool {
	switch e.Action {
	case "read", "vread", "search":
		return strings.HasPrefix(e.What, "DiagnosticReport") || strings.HasSuffix(e.What, "/fhir")
	}
	return false
}

// AcknowledgeLookback is how far back the monitor looks for reports still
// unacknowledged: older ones have long been raised, and a scan must stay short.
const AcknowledgeLookback = 90 * 24 * time.Hour

// UnacknowledgedReports walks the reports received in the lookback window,
// newest first, and calls found for each recipient that a version was
// delivered to more than within ago and that has not acknowledged it, and
// settled for each that has. At most limit reports are read.
func UnacknowledgedReports(ctx context.Context, s TurnaroundStore, now time.Time, within time.Duration, limit int,
	found, settled func(rec *ReportRecord, st RecipientState)) error {
	oldest := now.Add(-within - AcknowledgeLookback)
	read := 0
	return WalkUpdated(ctx, s, "", UpdatedCursor{}, 200, func(rec *ReportRecord) (bool, error) {
		if rec.ReceivedAt.Before(oldest) || read == limit {
			return true, nil
		}
		read++
		deliveries, err := s.Deliveries(ctx, DeliveryFilter{ReportID: rec.ID, Limit: 1000})
		if err != nil {
			return true, err
		}
		audit, err := s.AuditFor(ctx, rec.ID)
		if err != nil {
			return true, err
		}
		for _, st := range RecipientStates(rec, deliveries, audit) {
			switch {
			case !st.Acknowledged.IsZero():
				settled(rec, st)
			case !st.Delivered.IsZero() && now.Sub(st.Delivered) > within:
				found(rec, st)
			}
		}
		return false, nil
	})
}
