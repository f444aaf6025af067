// Package auth authenticates API callers. StaticTokens maps configured
// opaque bearer tokens to principals.
package auth

import (
	"crypto/sha256"

	"github.com/nhs-genomics/results-gateway/gateway"
)

// StaticTokens authenticates configured opaque tokens. Tokens are held as
// SHA-256 digests and looked up by digest, so lookups do not leak by timing.
type StaticTokens struct {
	byDigest map[[32]byte]gateway.Principal
}

var _ gateway.Authenticator = (*StaticTokens)(nil)

// NewStaticTokens builds the authenticator from token -> principal.
func NewStaticTokens(tokens map[string]gateway.Principal) *StaticTokens {
	s := &StaticTokens{byDigest: make(map[[32]byte]gateway.Principal, len(tokens))}
	for tok, p := range tokens {
		s.byDigest[sha256.Sum256([]byte(tok))] = p
	}
	return s
}

// Authenticate implements gateway.Authenticator.
func (s *StaticTokens) Authenticate(token string) (gateway.Principal, error) {
	p, ok := s.byDigest[sha256.Sum256([]byte(token))]
	if !ok {
		return gateway.Principal{}, gateway.Errorf(gateway.EUNAUTHORIZED, "the bearer token is not recognised")
	}
	return p, nil
}

// Sharing adds configured cross-trust sharing to whatever an inner
// authenticator returns: trust ODS code -> the other trusts it may read.
type Sharing struct {
	Inner  gateway.Authenticator
	Shares map[string][]string
}

// Authenticate implements gateway.Authenticator.
func (s Sharing) Authenticate(token string) (gateway.Principal, error) {
	p, err := s.Inner.Authenticate(token)
	if err == nil && p.Role == gateway.RoleTrust {
		p.AlsoTrusts = s.Shares[p.ODSCode]
	}
	return p, err
}
