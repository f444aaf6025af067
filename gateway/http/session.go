package httpapi

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/nhs-genomics/results-gateway/gateway"
)

// sessions are the console's logins: an operator gives a token once and
// the browser then holds an HttpOnly, SameSite=Strict cookie naming a
// random session id (never the token). Each session has a CSRF token that
// every form carries. Sessions live in this process: behind a load
// balancer with several replicas, use sticky sessions for the console.
type sessions struct {
	mu   sync.Mutex
	byID map[string]*session
}

type session struct {
	who     gateway.Principal
	csrf    string
	expires time.Time
}

const (
	sessionCookie = "rg_session"
	sessionTTL    = 8 * time.Hour
)

func randomID() string {
	b := make([]byte, 24)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func (s *sessions) start(who gateway.Principal) (id string, sess *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byID == nil {
		s.byID = map[string]*session{}
	}
	now := time.Now()
	for k, v := range s.byID { // forget expired sessions
		if now.After(v.expires) {
			delete(s.byID, k)
		}
	}
	expires := now.Add(sessionTTL)
	if !who.Expires.IsZero() && who.Expires.Before(expires) {
		expires = who.Expires // a session is worth no more than the token that opened it
	}
	id, sess = randomID(), &session{who: who, csrf: randomID(), expires: expires}
	s.byID[id] = sess
	return id, sess
}

func (s *sessions) get(id string) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.byID[id]
	if sess == nil || time.Now().After(sess.expires) {
		return nil
	}
	return sess
}

func (s *sessions) end(id string) {
	s.mu.Lock()
	delete(s.byID, id)
	s.mu.Unlock()
}

// consoleAuth lets a request through with a live operator session, and
// checks the CSRF token on every form post; otherwise it sends the
// browser to the login page.
func (s *server) consoleAuth(c *gin.Context) {
	id, _ := c.Cookie(sessionCookie)
	sess := s.sessions.get(id)
	if sess == nil {
		// Back to the page asked for once logged in; a form posted after the
		// session ended cannot be replayed, so its page, and the login says
		// why the action did not happen.
		next := c.Request.URL.RequestURI()
		if c.Request.Method != http.MethodGet {
			next = "/console"
			if ref, err := url.Parse(c.Request.Referer()); err == nil && ref.Host == c.Request.Host && localConsolePath(ref.RequestURI()) {
				next = ref.RequestURI()
			}
		}
		q := url.Values{"next": {next}}
		switch {
		case id != "" && c.Request.Method != http.MethodGet:
			q.Set("ended", "action")
		case id != "":
			q.Set("ended", "1")
		}
		c.Redirect(http.StatusSeeOther, "/console/login?"+q.Encode())
		c.Abort()
		return
	}
	if c.Request.Method == http.MethodPost && subtle.ConstantTimeCompare([]byte(c.PostForm("csrf")), []byte(sess.csrf)) != 1 {
		s.fail(c, gateway.Errorf(gateway.EFORBIDDEN, "the form's CSRF token is missing or wrong: reload the page"))
		return
	}
	c.Set(principalKey, sess.who)
	c.Set(subjectKey, sess.who.Subject)
	c.Set("csrf", sess.csrf)
	c.Next()
}

// localConsolePath says whether next, from a query or form, is a console
// page on this gateway: never another site ("//evil.example", "https://...")
// to send a freshly logged-in operator to, nor, by a dot segment, a page
// outside the console (http.Redirect cleans "/console/../v1" to "/v1", and
// a browser reads "%2e%2e" as ".."): its path must be clean, escaped or not.
func localConsolePath(next string) bool {
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return false
	}
	for _, p := range []string{u.Path, strings.ToLower(u.EscapedPath())} {
		if p != path.Clean(p) || strings.Contains(p, "%2e") {
			return false
		}
	}
	return (u.Path == "/console" || strings.HasPrefix(u.Path, "/console/")) && u.Path != "/console/login"
}
