package httpapi

import (
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/nhs-genomics/results-gateway/gateway"
)

const (
	principalKey = "principal"
	subjectKey   = "subject"
)

// authenticate requires a bearer token on every /v1 request.
func (s *server) authenticate(c *gin.Context) {
	scheme, token, ok := strings.Cut(c.GetHeader("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		s.fail(c, gateway.Errorf(gateway.EUNAUTHORIZED, "a bearer token is required (Authorization: Bearer <token>)"))
		return
	}
	p, err := s.Auth.Authenticate(strings.TrimSpace(token))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Set(principalKey, p)
	c.Set(subjectKey, p.Subject)
	c.Next()
}

func principal(c *gin.Context) gateway.Principal {
	p, _ := c.Get(principalKey)
	return p.(gateway.Principal)
}
