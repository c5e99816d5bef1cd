package console

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"net"
	"net/http"
	"sync"
	"time"
)

// Cookie names. The session cookie holds a random session id, never the admin
// token; the login cookie holds the login form's one-time CSRF value.
const (
	sessionCookie = "cloakroom_console"
	loginCookie   = "cloakroom_console_login"
)

// maxSessions bounds the sessions kept in memory; the oldest goes first.
const maxSessions = 256

// session is one signed-in browser.
type session struct {
	csrf    string
	created time.Time
	expires time.Time
}

// csrfOK compares a presented CSRF token with the session's in constant time.
func (s *session) csrfOK(token string) bool {
	return token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(s.csrf)) == 1
}

// sessions maps session ids (by their SHA-256) to sessions. Safe for concurrent use.
type sessions struct {
	mu  sync.Mutex
	m   map[[sha256.Size]byte]*session
	ttl time.Duration
	now func() time.Time
}

func newSessions(ttl time.Duration, now func() time.Time) *sessions {
	return &sessions{m: make(map[[sha256.Size]byte]*session), ttl: ttl, now: now}
}

// randomText returns 128 random bits as text (crypto/rand.Text).
func randomText() string { return rand.Text() }

// create starts a session and returns its id.
func (ss *sessions) create() (string, *session) {
	id := randomText()
	now := ss.now()
	s := &session{csrf: randomText(), created: now, expires: now.Add(ss.ttl)}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for k, old := range ss.m {
		if !now.Before(old.expires) {
			delete(ss.m, k)
		}
	}
	for len(ss.m) >= maxSessions {
		var oldest [sha256.Size]byte
		var at time.Time
		for k, old := range ss.m {
			if at.IsZero() || old.created.Before(at) {
				oldest, at = k, old.created
			}
		}
		delete(ss.m, oldest)
	}
	ss.m[sha256.Sum256([]byte(id))] = s
	return id, s
}

// from returns the live session the request's cookie names, or nil.
func (ss *sessions) from(r *http.Request) *session {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil
	}
	key := sha256.Sum256([]byte(c.Value))
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s := ss.m[key]
	if s == nil {
		return nil
	}
	if !ss.now().Before(s.expires) {
		delete(ss.m, key)
		return nil
	}
	return s
}

// end forgets the request's session.
func (ss *sessions) end(r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		ss.mu.Lock()
		delete(ss.m, sha256.Sum256([]byte(c.Value)))
		ss.mu.Unlock()
	}
}

// cookie returns a console cookie: HttpOnly, SameSite=Strict, Secure over TLS,
// scoped to the console's paths.
func cookie(r *http.Request, name, value, path string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name: name, Value: value, Path: path, MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
	}
}

// loginLimit bounds failed logins per client address: past maxFailures in a
// minute, that address's logins are refused (429) until the minute ends. A brute
// force of a random admin token is hopeless anyway; this keeps the log and the CPU
// quiet without letting one client lock the others out.
type loginLimit struct {
	mu       sync.Mutex
	window   time.Time
	failures map[string]int
}

const (
	maxFailures = 30
	// maxTracked bounds the addresses counted in one minute; past it the counts
	// start over (the limit is a nuisance filter, not a defence on its own).
	maxTracked = 4096
)

// allowed reports whether client may try a login at now.
func (l *loginLimit) allowed(client string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.window) >= time.Minute || l.failures == nil || len(l.failures) > maxTracked {
		l.window, l.failures = now, make(map[string]int)
	}
	return l.failures[client] < maxFailures
}

// fail counts a failed login of client.
func (l *loginLimit) fail(client string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failures != nil {
		l.failures[client]++
	}
}

// clientAddr is the address a request came from, without its port.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
