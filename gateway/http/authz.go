package httpapi

import (
	"fmt"
	"sort"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/nhs-genomics/results-gateway/gateway"
)

// typeInPath stands for the FHIR resource type named in the URL (/fhir/:type).
const typeInPath = ":type"

// rule is who may call an endpoint: its roles and, for a token that
// carries SMART scopes, the resource types it touches and how.
type rule struct {
	roles     []gateway.Role
	resources []string // every one must be allowed
	access    gateway.Access
}

// handle registers an endpoint behind its rule; an endpoint cannot be
// added without one.
func (s *server) handle(g *gin.RouterGroup, method, path string, r rule, h gin.HandlerFunc) {
	if s.rules == nil {
		s.rules = map[string]rule{}
	}
	s.rules[method+" "+strings.TrimSuffix(g.BasePath(), "/")+path] = r
	g.Handle(method, path, s.authorize(r), h)
}

// authorize applies a rule. A refusal is audited and answered 403 with the
// reason; which reports the caller may see is checked later, per report.
func (s *server) authorize(r rule) gin.HandlerFunc {
	return func(c *gin.Context) {
		p := principal(c)
		if !hasRole(r.roles, p.Role) {
			s.deny(c, fmt.Sprintf("the %s role may not call this endpoint", p.Role))
			return
		}
		if p.OnlyUserScopes() {
			s.deny(c, "patient- and user-level scopes grant nothing here: this API serves backend services (system/ scopes)")
			return
		}
		for _, res := range r.resources {
			named := true // the rule's own type (AuditEvent, "*"), or one the gateway serves
			if res == typeInPath {
				res = c.Param("type")
				named = readableTypes[res] || res == "AuditEvent"
			}
			if !p.Allows(res, r.access) {
				// RFC 6750 3.1: a client can tell a scope it lacks from a role it
				// lacks. A type from the URL is named only if it is one the
				// gateway serves: anything else could write into the header.
				challenge := `Bearer realm="results-gateway", error="insufficient_scope"`
				if named {
					challenge += fmt.Sprintf(`, scope="system/%s.%s"`, res, scopeLetter[r.access])
				}
				c.Header("WWW-Authenticate", challenge)
				s.deny(c, fmt.Sprintf("the token's scopes do not allow %s of %s", accessWords[r.access], res))
				return
			}
		}
		c.Next()
	}
}

var accessWords = map[gateway.Access]string{
	gateway.AccessCreate: "create", gateway.AccessRead: "read", gateway.AccessUpdate: "update",
	gateway.AccessDelete: "delete", gateway.AccessSearch: "search",
}

// scopeLetter is the SMART v2 permission an access needs (system/Type.r).
var scopeLetter = map[gateway.Access]string{
	gateway.AccessCreate: "c", gateway.AccessRead: "r", gateway.AccessUpdate: "u",
	gateway.AccessDelete: "d", gateway.AccessSearch: "s",
}

func hasRole(roles []gateway.Role, r gateway.Role) bool {
	for _, x := range roles {
		if x == r {
			return true
		}
	}
	return false
}

func (s *server) deny(c *gin.Context, why string) {
	s.audit(c, "authorize", c.Request.Method+" "+c.FullPath(), nil, "denied")
	s.fail(c, gateway.Errorf(gateway.EFORBIDDEN, "%s", why))
}

// scopesCover reports whether p may read every resource type in rec's
// Bundle ("Type/id" entries), and names the first it may not.
func scopesCover(p gateway.Principal, resources []string) (missing string, ok bool) {
	for _, ref := range resources {
		typ, _, _ := strings.Cut(ref, "/")
		if !p.Allows(typ, gateway.AccessRead) {
			return typ, false
		}
	}
	return "", true
}

// Endpoints lists every endpoint ("GET /v1/reports/:id"), sorted, and
// whether each is public: what a test walks to check each has a rule.
func Endpoints() (endpoints []string, hasRule map[string]bool) {
	s := &server{}
	e := gin.New()
	s.routes(e)
	hasRule = map[string]bool{}
	for _, r := range e.Routes() {
		key := r.Method + " " + r.Path
		endpoints = append(endpoints, key)
		_, ruled := s.rules[key]
		hasRule[key] = ruled || Public[key] || strings.HasPrefix(r.Path, "/console") // the console: an operator's session (session.go)
	}
	sort.Strings(endpoints)
	return endpoints, hasRule
}
