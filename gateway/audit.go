package gateway

import (
	"context"
	"time"
)

// AuditEntry records one access to results: who, as what, from which
// organisation, what they asked for, which reports it touched, and how it
// ended. Denied and failed accesses are recorded too.
type AuditEntry struct {
	At      time.Time `json:"at"`
	Subject string    `json:"subject"` // the caller's name, never a token
	Role    Role      `json:"role"`
	ODSCode string    `json:"odsCode,omitempty"`
	Action  string    `json:"action"` // read, vread, search, create
	What    string    `json:"what"`   // e.g. "DiagnosticReport/<id>" or "DiagnosticReport?<parameter names>"
	Reports []string  `json:"reports,omitempty"`
	Outcome string    `json:"outcome"` // success, not-found, denied, invalid
}

// GatewaySubject is the Subject of the entries the gateway records itself
// (with RoleOperator and no organisation), e.g. that a later report
// follows this one.
const GatewaySubject = "gateway"

// AuditLog keeps access records per report. Implementations: both stores.
type AuditLog interface {
	Audit(ctx context.Context, e AuditEntry) error
	// AuditFor lists the entries that touched a report, oldest first.
	AuditFor(ctx context.Context, reportID string) ([]AuditEntry, error)
}
