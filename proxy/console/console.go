package console

import (
	"context"
	"embed"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/cloakroom/cloakroom/internal/adminauth"
	"github.com/cloakroom/cloakroom/internal/audit"
	"github.com/cloakroom/cloakroom/resolver"
)

// Prefix is the path the console is served under; the admin listener mounts the
// Handler there.
const Prefix = "/console/"

// DefaultSessionTTL is how long a console session lasts after login.
const DefaultSessionTTL = 12 * time.Hour

// Approvals is what the console needs of the approval store and the resolver.
type Approvals interface {
	// List returns the approvals with status (empty: all), newest first.
	List(ctx context.Context, status resolver.Status) ([]resolver.Approval, error)
	// Decide grants (once when dur is 0, else for dur) or denies a pending approval.
	Decide(ctx context.Context, id string, grant bool, dur time.Duration, by, note string) (resolver.Approval, error)
}

// Feed is the proxy's in-memory record of recent traffic.
type Feed interface {
	// Requests returns the recent request records, newest first.
	Requests() []audit.Record
	// Request returns one recent request record and the decisions made for it.
	Request(id string) (audit.Record, []audit.Decision, bool)
	// Stats returns the counts per time bucket up to now.
	Stats(now time.Time) Stats
	// Subscribe returns a channel that receives an Event for every new request
	// record and decision, and the function that stops them. A nil channel means
	// no more subscribers are taken.
	Subscribe() (<-chan Event, func())
}

// Captures holds the redacted request bodies of prompt capture, by request id.
type Captures interface {
	Get(id string) ([]byte, bool)
}

// Event kinds sent to live pages.
const (
	EventRequest  = "request"
	EventDecision = "decision"
)

// Event announces a new request record or decision. It names them only by id.
type Event struct {
	// Kind is EventRequest or EventDecision.
	Kind string
	// ID is the request id (EventRequest) or the approval id, if any (EventDecision).
	ID string
}

// Stats are counts per time bucket, oldest bucket first; every series has one
// count per bucket.
type Stats struct {
	// End is the end of the last bucket; Step the width of each.
	End  time.Time
	Step time.Duration
	// Requests per outcome (forwarded, refused, error), Rules detections per rule,
	// Principals detections per principal, Decisions decisions per event.
	Requests, Rules, Principals, Decisions []Series
}

// Series is one named line of counts.
type Series struct {
	Name   string
	Counts []int
}

// Setup describes what agents need to use the proxy, for the setup page.
type Setup struct {
	// ListenAddr is the proxy listener's address (host:port); DataDir the data
	// directory holding ca.pem and ca-bundle.pem. Empty: the defaults are shown.
	ListenAddr, DataDir string
	// Gateway maps gateway route names to their upstream origins.
	Gateway map[string]string
	// Agents names the configured agents; RequireAuth says anonymous use is off.
	Agents      []string
	RequireAuth bool
}

// Config configures the console.
type Config struct {
	// AdminToken is the approvers' credential. Empty turns the console off (404).
	AdminToken string
	// Approvals decides approvals. Nil: the queue says there is no approval store.
	Approvals Approvals
	// Feed provides the live feed and the statistics. Nil: both are empty.
	Feed Feed
	// Captures provides redacted prompts. Nil: pages say capture is off.
	Captures Captures
	// Setup fills the setup page.
	Setup Setup
	// Logger receives failed logins and store errors. Nil discards.
	Logger *slog.Logger
	// SessionTTL is how long a session lasts. Zero means DefaultSessionTTL.
	SessionTTL time.Duration
	// Now returns the time. Nil means time.Now.
	Now func() time.Time
}

// Handler serves the console. It is safe for concurrent use.
type Handler struct {
	cfg      Config
	mux      *http.ServeMux
	sessions *sessions
	origin   *http.CrossOriginProtection
	streams  *streams
	log      *slog.Logger
	static   http.Handler
	token    adminauth.Token
	limit    loginLimit
}

//go:embed static
var staticFS embed.FS

// New returns the console handler.
func New(cfg Config) *Handler {
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = DefaultSessionTTL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Feed == nil {
		cfg.Feed = emptyFeed{}
	}
	h := &Handler{
		cfg:      cfg,
		sessions: newSessions(cfg.SessionTTL, cfg.Now),
		origin:   http.NewCrossOriginProtection(),
		streams:  newStreams(),
		log:      cfg.Logger,
		token:    adminauth.NewToken(cfg.AdminToken),
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	sub, _ := fs.Sub(staticFS, "static") // cannot fail: the directory is embedded
	files := http.StripPrefix(Prefix+"static/", http.FileServerFS(sub))
	h.static = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") { // no directory listings
			h.errorPage(w, r, http.StatusNotFound, "There is no such console page.")
			return
		}
		files.ServeHTTP(w, r)
	})
	h.mux = h.routes()
	return h
}

func (h *Handler) routes() *http.ServeMux {
	m := http.NewServeMux()
	p := strings.TrimSuffix(Prefix, "/")
	m.HandleFunc("GET "+p+"/login", h.loginPage)
	m.HandleFunc("POST "+p+"/login", h.login)
	m.Handle("GET "+p+"/static/", h.static)
	m.Handle("POST "+p+"/logout", h.post(h.logout))
	m.Handle("GET "+p+"/{$}", h.page(func(w http.ResponseWriter, r *http.Request, s *session) {
		http.Redirect(w, r, p+"/approvals", http.StatusSeeOther)
	}))
	m.Handle("GET "+p+"/approvals", h.page(h.approvalsPage))
	m.Handle("GET "+p+"/approvals/rows", h.page(h.approvalsRows))
	m.Handle("POST "+p+"/approvals/{id}/approve", h.post(h.decide(true)))
	m.Handle("POST "+p+"/approvals/{id}/deny", h.post(h.decide(false)))
	m.Handle("GET "+p+"/feed", h.page(h.feedPage))
	m.Handle("GET "+p+"/feed/rows", h.page(h.feedRows))
	m.Handle("GET "+p+"/requests/{id}", h.page(h.requestPage))
	m.Handle("GET "+p+"/stats", h.page(h.statsPage))
	m.Handle("GET "+p+"/stats/charts", h.page(h.statsCharts))
	m.Handle("GET "+p+"/setup", h.page(h.setupPage))
	m.Handle("GET "+p+"/events", h.page(h.events))
	m.HandleFunc(Prefix, func(w http.ResponseWriter, r *http.Request) {
		h.errorPage(w, r, http.StatusNotFound, "There is no such console page.")
	})
	return m
}

// contentSecurityPolicy allows the console's own script, style and images only:
// no inline script or style, no third-party origin, no framing.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"

// ServeHTTP serves the console: security headers on every answer, agent
// credentials refused, then the page.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", contentSecurityPolicy)
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	hd.Set("Cross-Origin-Resource-Policy", "same-origin")
	if h.cfg.AdminToken == "" {
		h.errorPage(w, r, http.StatusNotFound, "The console is off: it needs an admin token.")
		return
	}
	if adminauth.CarriesAgentCredentials(r.Header) {
		h.log.Warn("console refused a request carrying agent or proxy credentials", "client", r.RemoteAddr)
		h.errorPage(w, r, http.StatusForbidden, "Agent credentials cannot use the console; approvers sign in with the admin token.")
		return
	}
	h.mux.ServeHTTP(w, r)
}

// tokenOK compares a presented admin token with the configured one in constant time.
func (h *Handler) tokenOK(token string) bool { return h.token.Matches(token) }

// pageHandler is a page that needs a session.
type pageHandler func(w http.ResponseWriter, r *http.Request, s *session)

// page guards a GET page: without a valid session, pages redirect to the login
// and fragments (fetched by the script) answer 401.
func (h *Handler) page(f pageHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := h.sessions.from(r)
		if s == nil {
			h.unauthenticated(w, r)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		f(w, r, s)
	})
}

// post guards a state-changing request: a session, a same-origin browser request
// and the session's CSRF token (form field csrf or header X-CSRF-Token).
func (h *Handler) post(f pageHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := h.sessions.from(r)
		if s == nil {
			h.unauthenticated(w, r)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		if err := h.origin.Check(r); err != nil {
			h.errorPage(w, r, http.StatusForbidden, "Cross-origin requests are refused.")
			return
		}
		token := r.Header.Get("X-CSRF-Token")
		if token == "" {
			token = r.PostFormValue("csrf")
		}
		if !s.csrfOK(token) {
			h.errorPage(w, r, http.StatusForbidden, "The form has expired or did not come from the console: reload the page and try again.")
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		f(w, r, s)
	})
}

// maxForm bounds a form body.
const maxForm = 16 << 10

func (h *Handler) unauthenticated(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && !isFragment(r.URL.Path) {
		http.Redirect(w, r, Prefix+"login", http.StatusSeeOther)
		return
	}
	h.errorPage(w, r, http.StatusUnauthorized, "Sign in to the console first.")
}

// isFragment reports whether path is a part of a page the script fetches.
func isFragment(path string) bool {
	return strings.HasSuffix(path, "/rows") || strings.HasSuffix(path, "/charts") || strings.HasSuffix(path, "/events")
}

// emptyFeed is the Feed of a console without one.
type emptyFeed struct{}

func (emptyFeed) Requests() []audit.Record { return nil }
func (emptyFeed) Request(string) (audit.Record, []audit.Decision, bool) {
	return audit.Record{}, nil, false
}
func (emptyFeed) Stats(now time.Time) Stats         { return Stats{End: now, Step: time.Minute} }
func (emptyFeed) Subscribe() (<-chan Event, func()) { return nil, func() {} }
