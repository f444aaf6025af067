package gateway

import (
	"context"
	"time"
)

// ReportRecord is one stored version of a report: the normalised report and
// what the gateway made from it, encoded once so it is never re-encoded on a
// read or a delivery.
type ReportRecord struct {
	ID         string     `json:"id"`
	Version    int        `json:"version"`
	Status     Status     `json:"status"`
	Outcome    string     `json:"outcome"`
	LabODS     string     `json:"labOds"`
	TrustODS   string     `json:"trustOds"`
	Source     string     `json:"source"` // "json" or "hl7v2"
	Digest     string     `json:"digest"` // SHA-256 of Report: tells a resend from a conflicting version
	ReceivedAt time.Time  `json:"receivedAt"`
	Unmapped   []Unmapped `json:"unmapped,omitempty"`  // what the intake could not map
	MessageID  string     `json:"messageId,omitempty"` // the sender's message id, e.g. HL7 MSH-3|MSH-4|MSH-10

	// For the pull API's indexes.
	NHSNumber string    `json:"nhsNumber,omitempty"`
	TestCode  string    `json:"testCode,omitempty"`
	Issued    time.Time `json:"issued,omitzero"`
	Effective time.Time `json:"effective,omitzero"`  // first specimen collected: DiagnosticReport.effective, the "date" search
	Resources []string  `json:"resources,omitempty"` // "Type/id" of every resource in the Bundle

	Report []byte `json:"-"` // canonical JSON of the normalised Report
	Bundle []byte `json:"-"` // FHIR R4 transaction Bundle JSON
	PDF    []byte `json:"-"` // the presentedForm
}

// Reports stores report versions durably. Implementations: the embedded
// bbolt store (default) and Redis. All methods are safe for concurrent use.
type Reports interface {
	// SaveReport stores rec as a new version together with its deliveries in
	// one durable step: when it returns nil both survive a crash, and there is
	// no moment when the report is stored but its deliveries are not. If the
	// same id and version is already stored with the same digest it returns
	// the stored record and created=false (a resend) and enqueues nothing.
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

// Unmapped is content an intake could not map, kept on the report's record
// so nothing is dropped silently (e.g. an OBX whose code is not recognised).
type Unmapped struct {
	Location string `json:"location"` // e.g. "OBX[7] OBX-3"
	Code     string `json:"code,omitempty"`
	Text     string `json:"text,omitempty"`
	Reason   string `json:"reason"`
}
