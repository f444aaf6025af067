package httpapi

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/nhs-genomics/results-gateway/gateway"
)

// journeyEvent is one step of a report's journey.
type journeyEvent struct {
	At          time.Time `json:"at"`
	Event       string    `json:"event"` // received, queued, attempt, retrying, dead, superseded, cancelled, replayed, accessed
	Version     int       `json:"version,omitempty"`
	Destination string    `json:"destination,omitempty"`
	Outcome     string    `json:"outcome,omitempty"`
	Detail      string    `json:"detail,omitempty"`
	Actor       string    `json:"actor,omitempty"`
	// On "received": what was missing or odd, and what could not be mapped.
	Warnings []gateway.Warning  `json:"warnings,omitempty"`
	Unmapped []gateway.Unmapped `json:"unmapped,omitempty"`
}

type journey struct {
	ReportID string `json:"reportId"`
	// Recipients: where the latest version stands with each organisation
	// it goes to (accepted by its system, filed, acknowledged by a clinician).
	Recipients []gateway.RecipientState `json:"recipients"`
	Events     []journeyEvent           `json:"events"`
	Turnaround map[string]float64       `json:"turnaroundSeconds"` // per destination: first receipt of the newest version -> delivered
}

// buildJourney derives the journey from what is stored: each version's
// receipt, every delivery and attempt, and every access from the audit log.
// A caller other than an operator sees only what its visibility allows:
// the versions it may read, its own deliveries of them, and its own, the
// lab's and the gateway's accesses (see visibility).
func (s *server) buildJourney(c *gin.Context, rec *gateway.ReportRecord) (*journey, error) {
	ctx := c.Request.Context()
	j := &journey{ReportID: rec.ID, Turnaround: map[string]float64{}}
	vis := newVisibility(principal(c), rec)
	versions, err := s.Reports.ReportVersions(ctx, rec.ID)
	if err != nil {
		return nil, err
	}
	received := map[int]time.Time{}
	for _, v := range versions {
		meta, err := s.Reports.ReportVersion(ctx, rec.ID, v)
		if err != nil {
			return nil, err
		}
		vis.add(meta)
		if !vis.version(v) {
			continue // another patient's, or another trust's: not the caller's to see
		}
		received[v] = meta.ReceivedAt
		detail := fmt.Sprintf("%s report %s, validated and mapped", meta.Source, meta.Status)
		if len(meta.Warnings) > 0 {
			detail += fmt.Sprintf("; %d warnings", len(meta.Warnings))
		}
		if len(meta.Unmapped) > 0 {
			detail += fmt.Sprintf("; %d items not mapped (listed)", len(meta.Unmapped))
		}
		j.Events = append(j.Events, journeyEvent{At: meta.ReceivedAt, Event: "received", Version: v, Detail: detail, Actor: meta.LabODS,
			Warnings: meta.Warnings, Unmapped: meta.Unmapped})
		if meta.Held {
			j.Events = append(j.Events, journeyEvent{At: meta.ReceivedAt, Event: "held", Version: v,
				Detail: "no destination is configured for trust " + meta.TrustODS + ": held until one is"})
		}
	}
	all, err := s.Queue.Deliveries(ctx, gateway.DeliveryFilter{ReportID: rec.ID, Limit: 1000})
	if err != nil {
		return nil, err
	}
	for _, d := range vis.deliveries(all) {
		j.Events = append(j.Events, journeyEvent{At: d.CreatedAt, Event: "queued", Version: d.Version, Destination: d.Destination})
		// The history, not the state, gives the dead letters and the
		// operators' cancels and replays: a replay moves the state on, and
		// what happened before must stay in the journey.
		cancelled, dead := false, false
		for _, a := range d.Attempts {
			ev := journeyEvent{At: a.At, Version: d.Version, Destination: d.Destination}
			switch {
			case !a.IsSend():
				ev.Event, ev.Actor = a.Outcome, a.By // replayed, cancelled
				cancelled = cancelled || a.Outcome == gateway.OutcomeCancelled
			default:
				ev.Event, ev.Outcome, ev.Detail = "attempt", a.Outcome, a.Error
				if a.ReceiverRef != "" {
					ev.Detail = "receiver: " + a.ReceiverRef
				}
			}
			j.Events = append(j.Events, ev)
			if a.Outcome == "permanent" || a.Outcome == "gave-up" {
				dead = true
				j.Events = append(j.Events, journeyEvent{At: a.At, Event: "dead", Version: d.Version, Destination: d.Destination, Detail: "dead letter: " + a.Error})
			}
			if a.Outcome == "delivered" && d.Version == rec.Version {
				j.Turnaround[d.Destination] = a.At.Sub(received[d.Version]).Seconds()
			}
		}
		switch {
		case d.State == gateway.DeliverySuperseded,
			d.State == gateway.DeliveryDead && !dead,           // no failed attempt says so (stored before attempts named it)
			d.State == gateway.DeliveryCancelled && !cancelled: // cancelled before cancels were kept in the history
			j.Events = append(j.Events, journeyEvent{At: d.UpdatedAt, Event: string(d.State), Version: d.Version, Destination: d.Destination, Detail: d.Reason})
		case d.State == gateway.DeliveryRetrying:
			j.Events = append(j.Events, journeyEvent{At: d.UpdatedAt, Event: "retrying", Version: d.Version, Destination: d.Destination,
				Detail: "next attempt " + d.NextAttemptAt.Format(time.RFC3339)})
		}
	}
	accesses, err := s.Audit.AuditFor(ctx, rec.ID)
	if err != nil {
		return nil, err
	}
	for _, a := range accesses {
		if !vis.access(a) {
			continue
		}
		actor := a.Subject + " (" + string(a.Role)
		if a.ODSCode != "" {
			actor += " " + a.ODSCode
		}
		event := "accessed"
		if a.Action == "followed-by" { // a later report re-interprets this one
			event = "followed-by"
		}
		j.Events = append(j.Events, journeyEvent{At: a.At, Event: event, Outcome: a.Outcome, Detail: a.Action + " " + a.What, Actor: actor + ")"})
	}
	sort.SliceStable(j.Events, func(a, b int) bool { return j.Events[a].At.Before(j.Events[b].At) })
	// The states are derived from every delivery and access, then shown
	// for the recipients the caller may see.
	j.Recipients = vis.recipients(gateway.RecipientStates(rec, all, accesses), rec)
	return j, nil
}

// getJourney is GET /v1/reports/{id}/journey.
func (s *server) getJourney(c *gin.Context) {
	rec, ok := s.readable(c)
	if !ok {
		return
	}
	j, err := s.buildJourney(c, rec)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, j)
}

// auditSearch is GET /fhir/AuditEvent?entity=DiagnosticReport/{id}: the
// journey as AuditEvent resources, for operators.
func (s *server) auditSearch(c *gin.Context) {
	p := principal(c)
	values := c.Request.URL.Query()
	var problems []gateway.Problem
	for k := range values {
		if k != "entity" && k != "_format" {
			problems = append(problems, gateway.Problem{Path: k, Message: "is not a supported search parameter for AuditEvent"})
		}
	}
	ref := values.Get("entity")
	if !strings.HasPrefix(ref, "DiagnosticReport/") {
		problems = append(problems, gateway.Problem{Path: "entity", Message: "is required: DiagnosticReport/<id>"})
	}
	if len(problems) > 0 {
		s.fail(c, &gateway.Error{Code: gateway.EINVALID, Message: "bad search", Problems: problems})
		return
	}
	if p.Role != gateway.RoleOperator {
		s.audit(c, "search", "AuditEvent", nil, "denied")
		s.fail(c, gateway.Errorf(gateway.EFORBIDDEN, "only operators may search the audit trail"))
		return
	}
	readable, _, err := s.locate(c.Request.Context(), p, ref)
	if err != nil {
		s.fail(c, err)
		return
	}
	var entries []any
	if len(readable) > 0 {
		j, err := s.buildJourney(c, readable[0])
		if err != nil {
			s.fail(c, err)
			return
		}
		for i, e := range j.Events {
			entries = append(entries, map[string]any{"fullUrl": fmt.Sprintf("urn:uuid:%s-%d", readable[0].ID, i),
				"resource": auditEvent(e, ref), "search": map[string]any{"mode": "match"}})
		}
	}
	if !s.auditedRead(c, "search", "AuditEvent?entity", ids(readable)) {
		return
	}
	if entries == nil {
		entries = []any{}
	}
	writeFHIR(c, http.StatusOK, map[string]any{"resourceType": "Bundle", "type": "searchset", "total": len(entries), "entry": entries})
}

// auditEvent renders a journey event as a FHIR R4 AuditEvent.
func auditEvent(e journeyEvent, ref string) map[string]any {
	outcome := "0"
	switch e.Outcome {
	case "retry", "not-found", "invalid":
		outcome = "4"
	case "denied", "permanent", "gave-up":
		outcome = "8"
	}
	if e.Event == "dead" {
		outcome = "8"
	}
	who := e.Actor
	if who == "" {
		who = "results-gateway"
		if e.Destination != "" {
			who = "results-gateway to " + e.Destination
		}
	}
	desc := strings.TrimSpace(e.Event + " " + e.Detail)
	return map[string]any{
		"resourceType": "AuditEvent",
		"type":         map[string]any{"system": "http://terminology.hl7.org/CodeSystem/audit-event-type", "code": "rest", "display": "RESTful Operation"},
		"subtype":      []any{map[string]any{"system": "https://fhir.results-gateway.nhs.uk/CodeSystem/journey-event", "code": e.Event}},
		"recorded":     e.At.UTC().Format(time.RFC3339Nano),
		"outcome":      outcome,
		"outcomeDesc":  desc,
		"agent":        []any{map[string]any{"who": map[string]any{"display": who}, "requestor": e.Event == "accessed" || e.Event == gateway.OutcomeReplayed || e.Event == gateway.OutcomeCancelled}},
		"source":       map[string]any{"observer": map[string]any{"display": "Results Gateway"}},
		"entity":       []any{map[string]any{"what": map[string]any{"reference": ref}, "description": fmt.Sprintf("version %d", e.Version)}},
	}
}
