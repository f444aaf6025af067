package gateway

import "strings"

// Access is what a request does with a FHIR resource type, in SMART v2's
// letters: create, read, update, delete, search.
type Access byte

const (
	AccessCreate Access = 'c'
	AccessRead   Access = 'r'
	AccessUpdate Access = 'u'
	AccessDelete Access = 'd'
	AccessSearch Access = 's'
)

// Scope is one SMART App Launch scope: "system/DiagnosticReport.read" (v1)
// or "system/Observation.rs" (v2).
type Scope struct {
	Context  string // system, patient or user
	Resource string // a FHIR resource type, or *
	Perms    string // the SMART v2 letters it grants, in "cruds" order
}

// ParseScope reads a SMART v1 or v2 resource scope. v1's read is v2's rs,
// write is cud and * is cruds. A v2 scope with a query (".rs?category=…")
// is not understood: the gateway cannot enforce the restriction, so it
// grants nothing (ok is false), as does anything that is not a resource
// scope (openid, launch, offline_access).
func ParseScope(s string) (sc Scope, ok bool) {
	ctx, rest, found := strings.Cut(s, "/")
	if !found || (ctx != "system" && ctx != "patient" && ctx != "user") {
		return Scope{}, false
	}
	res, perms, found := strings.Cut(rest, ".")
	if !found || res == "" || strings.ContainsAny(perms, "?&=") {
		return Scope{}, false
	}
	switch perms {
	case "read":
		perms = "rs"
	case "write":
		perms = "cud"
	case "*":
		perms = "cruds"
	default:
		if !inCRUDSOrder(perms) {
			return Scope{}, false
		}
	}
	return Scope{Context: ctx, Resource: res, Perms: perms}, true
}

// inCRUDSOrder: v2 letters, each at most once, in the order c r u d s.
func inCRUDSOrder(p string) bool {
	last := -1
	for _, r := range p {
		i := strings.IndexRune("cruds", r)
		if i <= last {
			return false
		}
		last = i
	}
	return p != ""
}

// Grants reports whether the scope allows access to a resource type. Only
// system scopes count: the gateway serves backend services (labs, EPRs,
// integration engines), never a patient's or a user's app, so patient/
// and user/ scopes grant nothing here.
func (sc Scope) Grants(resource string, a Access) bool {
	return sc.Context == "system" && (sc.Resource == "*" || sc.Resource == resource) && strings.IndexByte(sc.Perms, byte(a)) >= 0
}

// Allows reports whether p's scopes allow access to a resource type. A
// principal without scopes (a configured token) is limited by its role alone.
func (p Principal) Allows(resource string, a Access) bool {
	if len(p.Scopes) == 0 {
		return true
	}
	for _, s := range p.Scopes {
		if sc, ok := ParseScope(s); ok && sc.Grants(resource, a) {
			return true
		}
	}
	return false
}

// OnlyUserScopes reports whether every scope p carries is a patient- or
// user-level one, which this backend API does not accept: the reason to
// give when such a token is refused.
func (p Principal) OnlyUserScopes() bool {
	for _, s := range p.Scopes {
		if sc, ok := ParseScope(s); !ok || sc.Context == "system" {
			return false
		}
	}
	return len(p.Scopes) > 0
}
