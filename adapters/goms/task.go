package goms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/nhs-genomics/results-gateway/gateway"
)

// The order Task's completion. NHS England's genomics IG:
//   - Task.code from https://fhir.nhs.uk/CodeSystem/task-code-genomics; the
//     order's own Task is process-genomic-test-request;
//   - Task.businessStatus from https://fhir.nhs.uk/CodeSystem/business-status-genomics
//     (0.4.1, draft). It has no "report issued" concept (its codes are the
//     lab's intermediate states), so a completed Task carries "other" with
//     the text "Report issued";
//   - the report's reference is typed with additional-infotype-genomics#DiagnosticReport.
const (
	taskCodeSystem       = "https://fhir.nhs.uk/CodeSystem/task-code-genomics"
	taskCodeOrder        = "process-genomic-test-request"
	BusinessStatusSystem = "https://fhir.nhs.uk/CodeSystem/business-status-genomics"
	BusinessStatusCode   = "other"
	BusinessStatusText   = "Report issued"
	infoTypeSystem       = "https://fhir.nhs.uk/CodeSystem/additional-infotype-genomics"
)

// finished are Task states that must not be reopened by a report.
var finished = []string{"cancelled", "rejected", "failed", "entered-in-error"}

// errNoTask is a retryable "not there yet".
var errNoTask = errors.New("no Task")

// completeTask finds the order's Task and completes it with the report.
// When the Task changed between reading and writing it (a concurrent
// delivery, the lab's LIMS), it is read and written again, a few times.
func (c *call) completeTask(ctx context.Context, order identifier, report string, d *gateway.Delivery) error {
	for try := 1; ; try++ {
		err := c.completeTaskOnce(ctx, order, report, d)
		var conflict *conflictError
		if !errors.As(err, &conflict) || try == 3 {
			return err
		}
	}
}

func (c *call) completeTaskOnce(ctx context.Context, order identifier, report string, d *gateway.Delivery) error {
	task, version, err := c.findTask(ctx, order)
	if errors.Is(err, errNoTask) {
		// GOMS creates the order's Task when the order is placed, long before
		// a report, so a missing Task is most likely replication lag (retry)
		// or an order that never went through GOMS (a person must link the
		// report). Retry for taskWaitMinutes from the delivery's creation or
		// last replay, then park the delivery: the report itself is stored,
		// and a replay after the Task appears completes it.
		since := d.WaitingSince()
		if since.IsZero() || c.now().Sub(since) < c.taskWait {
			return fmt.Errorf("report stored as %s, but %w for order %s yet: retrying", report, err, order.Value)
		}
		return gateway.Permanent(fmt.Errorf("report stored as %s, but still %v for order %s after %s: link the report to its order in GOMS, then replay", report, err, order.Value, c.taskWait))
	}
	if err != nil {
		return err
	}
	id, _ := task["id"].(string)
	status, _ := task["status"].(string)
	if slices.Contains(finished, status) {
		return gateway.Permanent(fmt.Errorf("report stored as %s, but the order's Task/%s is %s: not reopened", report, id, status))
	}
	if status == "completed" && hasOutput(task, report) {
		return nil // a resend: already done
	}
	complete(task, report, c.now())
	entry := map[string]any{"fullUrl": c.base + "/FHIR/R4/Task/" + id, "resource": task,
		"request": map[string]any{"method": "PUT", "url": "Task/" + id}}
	if version != "" {
		// Optimistic locking: if the lab's LIMS changed the Task meanwhile,
		// GOMS answers 412 and the next attempt reads it again.
		entry["request"].(map[string]any)["ifMatch"] = `W/"` + version + `"`
	}
	body, _ := json.Marshal(map[string]any{"resourceType": "Bundle", "type": "transaction",
		"identifier": map[string]string{"system": "urn:ietf:rfc:3986", "value": "urn:uuid:" + newRequestID()},
		"entry":      []any{entry}})
	// 409 and 412: someone changed the Task meanwhile; the next attempt reads it again.
	_, err = c.transaction(ctx, body, func(int) string { return "Task/" + id }, http.StatusConflict, http.StatusPreconditionFailed)
	return err
}

// findTask searches the order with its Tasks (_revinclude=Task:focus) and
// picks the order's Task: the one coded process-genomic-test-request, or
// else the only Task there is. It returns the Task and its version.
func (c *call) findTask(ctx context.Context, order identifier) (map[string]any, string, error) {
	q := url.Values{"identifier": {order.token()}, "_revinclude": {"Task:focus"}}
	_, body, err := c.do(ctx, http.MethodGet, "/FHIR/R4/ServiceRequest?"+q.Encode(), nil)
	if err != nil {
		return nil, "", err
	}
	var found struct {
		Entry []struct {
			Resource map[string]any `json:"resource"`
			Search   struct {
				Mode string `json:"mode"`
			} `json:"search"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(body, &found); err != nil {
		return nil, "", fmt.Errorf("the ServiceRequest search answer: %w", err)
	}
	var orders []string
	var tasks []map[string]any
	for _, e := range found.Entry {
		switch e.Resource["resourceType"] {
		case "ServiceRequest":
			if e.Search.Mode != "include" {
				orders = append(orders, "ServiceRequest/"+fmt.Sprint(e.Resource["id"]))
			}
		case "Task":
			tasks = append(tasks, e.Resource)
		}
	}
	switch len(orders) {
	case 0:
		return nil, "", fmt.Errorf("%w (no ServiceRequest)", errNoTask)
	case 1:
	default:
		return nil, "", gateway.Permanent(fmt.Errorf("%d ServiceRequests on GOMS carry order %s: GOMS must resolve the duplicate", len(orders), order.Value))
	}
	var candidates []map[string]any
	for _, t := range tasks {
		if focus, _ := t["focus"].(map[string]any); focus != nil && refersTo(fmt.Sprint(focus["reference"]), orders[0]) {
			candidates = append(candidates, t)
		}
	}
	var chosen map[string]any
	for _, t := range candidates {
		if hasCode(t, taskCodeSystem, taskCodeOrder) {
			if chosen != nil {
				return nil, "", gateway.Permanent(fmt.Errorf("%s has more than one %s Task", orders[0], taskCodeOrder))
			}
			chosen = t
		}
	}
	if chosen == nil {
		switch len(candidates) {
		case 0:
			return nil, "", fmt.Errorf("%w focused on %s", errNoTask, orders[0])
		case 1:
			chosen = candidates[0]
		default:
			return nil, "", gateway.Permanent(fmt.Errorf("%s has %d Tasks and none is coded %s: a person must choose", orders[0], len(candidates), taskCodeOrder))
		}
	}
	version := ""
	if meta, _ := chosen["meta"].(map[string]any); meta != nil {
		version, _ = meta["versionId"].(string)
	}
	return chosen, version, nil
}

func hasCode(t map[string]any, system, code string) bool {
	cc, _ := t["code"].(map[string]any)
	codings, _ := cc["coding"].([]any)
	for _, c := range codings {
		if m, _ := c.(map[string]any); m != nil && m["system"] == system && m["code"] == code {
			return true
		}
	}
	return false
}

// hasOutput says whether the Task already names the report among its outputs.
func hasOutput(t map[string]any, report string) bool {
	outputs, _ := t["output"].([]any)
	for _, o := range outputs {
		m, _ := o.(map[string]any)
		ref, _ := m["valueReference"].(map[string]any)
		if ref != nil && versionless(fmt.Sprint(ref["reference"])) == report {
			return true
		}
	}
	return false
}

// complete marks the Task done with the report as its output, keeping
// every other element (and earlier outputs) as GOMS sent them.
func complete(t map[string]any, report string, now time.Time) {
	t["status"] = "completed"
	delete(t, "statusReason") // a reason for an earlier state (e.g. awaiting-sample) no longer holds
	t["businessStatus"] = map[string]any{
		"coding": []any{map[string]any{"system": BusinessStatusSystem, "code": BusinessStatusCode, "display": "other"}},
		"text":   BusinessStatusText,
	}
	t["lastModified"] = now.UTC().Format(time.RFC3339)
	if !hasOutput(t, report) {
		outputs, _ := t["output"].([]any)
		t["output"] = append(outputs, map[string]any{
			"type":           map[string]any{"coding": []any{map[string]any{"system": infoTypeSystem, "code": "DiagnosticReport", "display": "DiagnosticReport"}}},
			"valueReference": map[string]any{"reference": report},
		})
	}
}

// refersTo says a reference (relative, absolute or versioned) points at the
// resource typeAndID ("ServiceRequest/sr1").
func refersTo(ref, typeAndID string) bool {
	ref, _, _ = strings.Cut(ref, "/_history/")
	return ref == typeAndID || strings.HasSuffix(ref, "/"+typeAndID)
}

// storedReport is the report's DiagnosticReport on GOMS if GOMS already
// holds this version of it (the same identifier, issued time and status),
// else "".
func (c *call) storedReport(ctx context.Context, b *bundle) (string, error) {
	var dr struct {
		Identifier []identifier `json:"identifier"`
		Issued     string       `json:"issued"`
		Status     string       `json:"status"`
	}
	if err := json.Unmarshal(b.entries[b.reportEntry].Resource, &dr); err != nil || len(dr.Identifier) == 0 {
		return "", nil // nothing to look it up by: post it
	}
	q := url.Values{"identifier": {dr.Identifier[0].token()}}
	_, body, err := c.do(ctx, http.MethodGet, "/FHIR/R4/DiagnosticReport?"+q.Encode(), nil)
	if err != nil {
		return "", err
	}
	var found struct {
		Entry []struct {
			Resource struct {
				ID     string `json:"id"`
				Issued string `json:"issued"`
				Status string `json:"status"`
			} `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(body, &found); err != nil {
		return "", fmt.Errorf("the DiagnosticReport search answer is not a Bundle")
	}
	for _, e := range found.Entry {
		if r := e.Resource; r.ID != "" && sameInstant(r.Issued, dr.Issued) && r.Status == dr.Status {
			return "DiagnosticReport/" + r.ID, nil
		}
	}
	return "", nil
}

// sameInstant says whether two FHIR instants are the same moment: a server
// may give back "2026-11-02T14:30:00Z" as "2026-11-02T14:30:00.000+00:00",
// and a report it holds already must not be posted again for that.
func sameInstant(a, b string) bool {
	if a == b {
		return true
	}
	ta, errA := time.Parse(time.RFC3339Nano, a)
	tb, errB := time.Parse(time.RFC3339Nano, b)
	return errA == nil && errB == nil && ta.Equal(tb)
}
