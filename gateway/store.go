package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// ReportRecord is one stored version of a report: the normalised report and
// what the gateway made from it, encoded once so it is never re-encoded on a
// read or a delivery.
type ReportRecord struct {
	ID       string `json:"id"`
	Version  int    `json:"version"`
	Status   Status `json:"status"`
	Outcome  string `json:"outcome"`
	LabODS   string `json:"labOds"`
	TrustODS string `json:"trustOds"`
	// CopyTo are the further recipients (ODS codes): they may read it too.
	CopyTo     []string   `json:"copyTo,omitempty"`
	Source     string     `json:"source"` // "json" or "hl7v2"
	Digest     string     `json:"digest"` // SHA-256 of Report: tells a resend from a conflicting version
	ReceivedAt time.Time  `json:"receivedAt"`
	Unmapped   []Unmapped `json:"unmapped,omitempty"`  // what the intake could not map
	Warnings   []Warning  `json:"warnings,omitempty"`  // what was missing or odd, but did not stop it being filed
	MessageID  string     `json:"messageId,omitempty"` // the sender's message id, e.g. HL7 MSH-3|MSH-4|MSH-10
	// Held says the version was stored without deliveries because no
	// destination was configured for its trust: it waits in the held list
	// until one is (see HeldReports).
	Held bool `json:"held,omitempty"`

	// For the pull API's indexes.
	NHSNumber string    `json:"nhsNumber,omitempty"`
	TestCode  string    `json:"testCode,omitempty"`
	Kind      string    `json:"kind,omitempty"` // Report.Kind: "" (genomic, as before it was kept) or another kind of laboratory report
	Issued    time.Time `json:"issued,omitzero"`
	// SampleReceived: the lab received the first specimen (turnaround starts).
	SampleReceived time.Time `json:"sampleReceived,omitzero"`
	Effective      time.Time `json:"effective,omitzero"`  // first specimen collected: DiagnosticReport.effective, the "date" search
	Resources      []string  `json:"resources,omitempty"` // "Type/id" of every resource in the Bundle

	// Audit is the write's audit entry: stored with the new version in the
	// same durable step, so no report is ever stored unaudited.
	Audit *AuditEntry `json:"-"`
	// Message is the message log's entry for the message that brought the
	// new version, stored with it in the same durable step (nil: none).
	Message *InboundMessage `json:"-"`

	Report []byte `json:"-"` // canonical JSON of the normalised Report, the lab's PDF left out (it is PDF): see DecodeReport
	Bundle []byte `json:"-"` // FHIR R4 transaction Bundle JSON
	PDF    []byte `json:"-"` // the presentedForm
	// BundlePDFAt is where PDF's base64 string starts in Bundle (its
	// opening quote) when the writer said so, else 0: the stores, which
	// keep the PDF once, then look for it.
	BundlePDFAt int `json:"-"`
}

// Reports stores report versions durably. Implementations: the embedded
// bbolt store (default) and Redis. All methods are safe for concurrent use.
type Reports interface {
	// SaveReport stores rec as a new version together with its deliveries in
	// one durable step: when it returns nil both survive a crash, and there is
	// no moment when the report is stored but its deliveries are not. If the
	// same id and version is already stored with the same digest it returns
	// the stored record and created=false (a resend) and enqueues nothing.
	// rec's Audit and Message entries, when set, are stored in the same step
	// as a new version (as MessageLog.RecordMessage would store the message)
	// and not at all for a resend.
	// ECONFLICT: the id belongs to another lab, the version is stored with
	// different content, or a newer version is stored.
	SaveReport(ctx context.Context, rec *ReportRecord, deliveries []*Delivery) (stored *ReportRecord, created bool, err error)

	// Report returns the highest stored version of id (ENOTFOUND if none).
	Report(ctx context.Context, id string) (*ReportRecord, error)

	// ReportVersion returns one version (ENOTFOUND if absent).
	ReportVersion(ctx context.Context, id string, version int) (*ReportRecord, error)

	// ReportBundle is ReportVersion with only the Bundle loaded (no PDF,
	// no normalised report): what the FHIR API reads (ENOTFOUND).
	ReportBundle(ctx context.Context, id string, version int) (*ReportRecord, error)

	// ReportVersions lists the stored versions of id, oldest first.
	ReportVersions(ctx context.Context, id string) ([]int, error)

	// Ping reports whether the store can take writes now.
	Ping(ctx context.Context) error

	Close() error
}

// DurabilityReporter is a store whose persistence is set outside the
// gateway (Redis's own configuration), so the gateway cannot promise by
// itself that an accepted report survives the store's restart. Stores that
// make each commit durable themselves (the embedded store) need not
// implement it.
type DurabilityReporter interface {
	// Durability lists what could make the store lose what it has
	// accepted if it restarted; none when nothing could.
	Durability(ctx context.Context) ([]DurabilityRisk, error)
}

// DurabilityRisk is one such thing: Name is short and stable (it keys the
// alert), Why says it in words for an operator.
type DurabilityRisk struct{ Name, Why string }

// HeldReports keeps the reports accepted for a trust that has no
// destination yet: they are never bounced, and go out as soon as a route
// for the trust exists. SaveReport holds a version saved with Held set and
// no deliveries; saving a later version with deliveries ends the hold.
type HeldReports interface {
	// HeldReports lists the held reports' held versions (metadata only,
	// oldest first), at most limit.
	HeldReports(ctx context.Context, limit int) ([]*ReportRecord, error)

	// ReleaseHeld queues deliveries for a held report version and ends the
	// hold, in one durable step. released is false, and nothing is queued,
	// when that version is no longer held (another replica released it, or
	// a later version was saved).
	ReleaseHeld(ctx context.Context, id string, version int, deliveries []*Delivery) (released bool, err error)
}

// Unmapped is content an intake could not map, kept on the report's record
// so nothing is dropped silently (e.g. an OBX whose code is not recognised).
type Unmapped struct {
	Location string `json:"location"` // where in the message, e.g. "OBX[7]-3" or "PID[1]-11"
	Code     string `json:"code,omitempty"`
	Text     string `json:"text,omitempty"`
	Reason   string `json:"reason"`
}

// DecodeReport reads the stored normalised report, with the lab's own PDF
// (stored once, as rec.PDF) back in place.
func (rec *ReportRecord) DecodeReport() (*Report, error) {
	var r Report
	if err := json.Unmarshal(rec.Report, &r); err != nil {
		return nil, fmt.Errorf("decode report %s v%d: %w", rec.ID, rec.Version, err)
	}
	if r.PDF != nil && r.PDF.Data == nil && r.PDF.URL == "" {
		r.PDF.Data = rec.PDF
	}
	return &r, nil
}

// withoutPDFData is r's canonical JSON with the lab's PDF bytes left out:
// the PDF is stored once, as the record's PDF, not again inside the report.
func withoutPDFData(r *Report) ([]byte, error) {
	stored := *r
	pdf := *r.PDF
	pdf.Data = nil
	stored.PDF = &pdf
	return json.Marshal(&stored)
}
