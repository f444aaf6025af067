package gomsstub

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// token is NHS England's token endpoint for application-restricted access
// with a signed JWT: grant_type client_credentials and a client assertion,
// RS512-signed with the key registered under its kid, iss = sub = the
// client id, aud = the token URL, exp at most five minutes away, jti not
// seen before. (It is not in the GOMS OpenAPI, so it is checked here.)
func (s *Stub) token(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	s.mu.Lock()
	s.tokenRequests++
	s.mu.Unlock()
	refuse := func(why string) {
		s.mu.Lock()
		s.refusals = append(s.refusals, why)
		expected := s.expectRefusal
		s.mu.Unlock()
		if !expected {
			s.t.Errorf("GOMS stand-in: token request refused: %s", why)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		json.NewEncoder(w).Encode(map[string]string{"error": "invalid_client", "error_description": why})
	}
	if why := s.checkForm(r); why != "" {
		refuse(why)
		return
	}
	if why := s.checkAssertion(r.PostForm.Get("client_assertion")); why != "" {
		refuse(why)
		return
	}
	buf := make([]byte, 16)
	rand.Read(buf)
	tok := hex.EncodeToString(buf)
	s.mu.Lock()
	life := s.tokenLife
	s.tokens[tok] = time.Now().Add(life)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	// NHS England's endpoint sends expires_in (and issued_at) as strings.
	json.NewEncoder(w).Encode(map[string]string{"access_token": tok, "token_type": "Bearer",
		"expires_in": strconv.Itoa(int(life / time.Second)), "issued_at": strconv.FormatInt(time.Now().UnixMilli(), 10)})
}

func (s *Stub) checkForm(r *http.Request) string {
	if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		return "Content-Type " + ct + " is not application/x-www-form-urlencoded"
	}
	if r.PostForm.Get("grant_type") != "client_credentials" {
		return "grant_type must be client_credentials"
	}
	if r.PostForm.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
		return "client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	}
	return ""
}

// checkAssertion verifies the JWT as NHS England's token endpoint does.
func (s *Stub) checkAssertion(assertion string) string {
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(assertion, claims, func(t *jwt.Token) (any, error) {
		if kid, _ := t.Header["kid"].(string); kid != s.client.kid {
			return nil, fmt.Errorf("kid %q is not a registered key", kid)
		}
		return s.client.key, nil
	}, jwt.WithValidMethods([]string{"RS512"}), jwt.WithAudience(s.TokenURL), jwt.WithExpirationRequired(),
		jwt.WithIssuer(s.client.id), jwt.WithSubject(s.client.id))
	if err != nil {
		return "client assertion: " + err.Error()
	}
	exp, _ := claims.GetExpirationTime()
	if time.Until(exp.Time) > 5*time.Minute+5*time.Second {
		return "client assertion: exp is more than five minutes away"
	}
	jti, _ := claims["jti"].(string)
	s.mu.Lock()
	defer s.mu.Unlock()
	if jti == "" || s.jtis[jti] {
		return "client assertion: jti missing or reused"
	}
	s.jtis[jti] = true
	return ""
}

func newUUID() string {
	var u [16]byte
	rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}
