package gateway

import (
	"slices"
	"time"
)

// Role is what an authenticated caller may do.
type Role string

const (
	RoleLab      Role = "lab"      // posts its own reports, reads what it posted
	RoleTrust    Role = "trust"    // reads the reports its organisation ordered
	RoleOperator Role = "operator" // integration staff: reads everything, runs operations
)

// Principal is an authenticated caller.
type Principal struct {
	Subject string // who, for logs and audit: a token's name, never the token
	Role    Role
	ODSCode string   // the lab's or trust's organisation; empty for operators
	Scopes  []string // SMART scopes from a JWT (e.g. system/DiagnosticReport.read); none means the role decides
	// AlsoTrusts are other trusts whose reports this trust may read, by
	// explicit configuration (e.g. a specialist centre and its referrers).
	AlsoTrusts []string
	// Expires is when the credential stops being valid (a JWT's exp); zero
	// for a configured token. A console session ends then too.
	Expires time.Time
}

// CanRead reports whether p may see rec. Callers answer "not found" when it
// may not, exactly as for a report that does not exist.
func (p Principal) CanRead(rec *ReportRecord) bool {
	switch p.Role {
	case RoleOperator:
		return true
	case RoleLab:
		return p.ODSCode != "" && p.ODSCode == rec.LabODS
	case RoleTrust:
		if p.ODSCode != "" && (p.ODSCode == rec.TrustODS || slices.Contains(rec.CopyTo, p.ODSCode)) {
			return true
		}
		for _, t := range p.AlsoTrusts {
			if t == rec.TrustODS {
				return true
			}
		}
	}
	return false
}

// Authenticator turns a bearer token into a Principal (EUNAUTHORIZED if it cannot).
type Authenticator interface {
	Authenticate(token string) (Principal, error)
}
