package console_test

import (
	"bufio"
	"context"
	"errors"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloakroom/cloakroom/internal/audit"
	"github.com/cloakroom/cloakroom/proxy/console"
	"github.com/cloakroom/cloakroom/resolver"
)

const adminToken = "console-admin-token-0123456789"

// fakeApprovals is an in-memory approval store that records decisions.
type fakeApprovals struct {
	mu      sync.Mutex
	list    []resolver.Approval
	decided []decided
	fail    error
}

type decided struct {
	id, by string
	grant  bool
	dur    time.Duration
}

func (f *fakeApprovals) List(_ context.Context, status resolver.Status) ([]resolver.Approval, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return nil, f.fail
	}
	var out []resolver.Approval
	for _, a := range f.list {
		if status == "" || a.Status == status {
			out = append(out, a)
		}
	}
	return out, nil
}

func (f *fakeApprovals) Decide(_ context.Context, id string, grant bool, dur time.Duration, by, note string) (resolver.Approval, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, a := range f.list {
		if a.ID != id {
			continue
		}
		if a.Status != resolver.Pending {
			return resolver.Approval{}, resolver.ErrNotPending
		}
		f.list[i].Status, f.list[i].DecidedBy = resolver.Denied, by
		if grant {
			f.list[i].Status = resolver.Granted
		}
		f.decided = append(f.decided, decided{id: id, by: by, grant: grant, dur: dur})
		return f.list[i], nil
	}
	return resolver.Approval{}, resolver.ErrApprovalNotFound
}

func (f *fakeApprovals) decisions() []decided {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]decided(nil), f.decided...)
}

// fakeFeed is a fixed feed with a subscription that tests publish to.
type fakeFeed struct {
	recs  []audit.Record
	decs  []audit.Decision
	stats console.Stats
	mu    sync.Mutex
	subs  []chan console.Event
}

func (f *fakeFeed) Requests() []audit.Record { return f.recs }
func (f *fakeFeed) Request(id string) (audit.Record, []audit.Decision, bool) {
	for _, r := range f.recs {
		if r.ID == id {
			return r, f.decs, true
		}
	}
	return audit.Record{}, nil, false
}
func (f *fakeFeed) Stats(time.Time) console.Stats { return f.stats }
func (f *fakeFeed) Subscribe() (<-chan console.Event, func()) {
	ch := make(chan console.Event, 8)
	f.mu.Lock()
	f.subs = append(f.subs, ch)
	f.mu.Unlock()
	return ch, func() {}
}

func (f *fakeFeed) publish(ev console.Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, ch := range f.subs {
		ch <- ev
	}
}

type captures map[string][]byte

func (c captures) Get(id string) ([]byte, bool) { b, ok := c[id]; return b, ok }

// rig is a console on a real server, with a browser-like client (cookie jar, no
// automatic redirects).
type rig struct {
	t   *testing.T
	srv *httptest.Server
	c   *http.Client
	apr *fakeApprovals
	fd  *fakeFeed
	now time.Time
	mu  sync.Mutex
}

func newRig(t *testing.T, mod ...func(*console.Config)) *rig {
	t.Helper()
	r := &rig{t: t, now: time.Date(2026, 5, 4, 12, 30, 0, 0, time.UTC)}
	r.apr = &fakeApprovals{list: []resolver.Approval{{
		ID: "apr_00000000000000a1", Token: "cloak_github_aaaaaaaaaaaaaaaaaaaa", Class: "github", Rule: "github-pat",
		Principal: "alice", Direction: resolver.Egress, Host: "api.github.com", Method: "GET", Path: "/user",
		Description: "GET api.github.com/user: header Authorization", Status: resolver.Pending,
		Created: r.now.Add(-2 * time.Minute), Expires: r.now.Add(time.Hour),
	}}}
	r.fd = &fakeFeed{recs: []audit.Record{{
		ID: "req_1", Time: r.now, Principal: "alice", Host: "api.anthropic.com", Method: "POST", Path: "/v1/messages",
		API: "anthropic", Model: "claude-sonnet-4-5", Decision: "forwarded", Status: 200, TotalMS: 12,
		Detections: []audit.Detection{{Rule: "github-pat", Class: "github", Token: "cloak_github_aaaaaaaaaaaaaaaaaaaa"}},
	}, {
		ID: "req_2", Time: r.now, Principal: "bob", Host: "api.openai.com", Method: "POST", Path: "/v1/responses",
		Decision: "refused", Error: "bad_json", Status: 400,
	}}}
	cfg := console.Config{
		AdminToken: adminToken, Approvals: r.apr, Feed: r.fd,
		Setup: console.Setup{ListenAddr: "127.0.0.1:18080", DataDir: "/srv/cloakroom", Gateway: map[string]string{"anthropic": "https://api.anthropic.com"}},
		Now:   r.clock,
	}
	for _, m := range mod {
		m(&cfg)
	}
	mux := http.NewServeMux()
	mux.Handle(console.Prefix, console.New(cfg))
	r.srv = httptest.NewUnstartedServer(mux)
	r.srv.Start()
	t.Cleanup(r.srv.Close)
	r.c = r.client()
	return r
}

func (r *rig) clock() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.now
}

func (r *rig) advance(d time.Duration) {
	r.mu.Lock()
	r.now = r.now.Add(d)
	r.mu.Unlock()
}

func (r *rig) client() *http.Client {
	jar, _ := cookiejar.New(nil)
	c := r.srv.Client()
	return &http.Client{
		Transport: c.Transport, Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// do sends a request; header pairs are added as given.
func (r *rig) do(c *http.Client, method, path string, form url.Values, header ...string) (*http.Response, string) {
	r.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, r.srv.URL+path, body)
	if err != nil {
		r.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

var (
	nonceField = regexp.MustCompile(`name="nonce" value="([^"]+)"`)
	csrfField  = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
)

func field(t *testing.T, re *regexp.Regexp, page string) string {
	t.Helper()
	m := re.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no %s in the page", re)
	}
	return m[1]
}

// login signs c in with token and returns the answer to the login POST.
func (r *rig) login(c *http.Client, token string) *http.Response {
	r.t.Helper()
	_, page := r.do(c, "GET", "/console/login", nil)
	resp, _ := r.do(c, "POST", "/console/login", url.Values{"nonce": {field(r.t, nonceField, page)}, "token": {token}})
	return resp
}

// session signs in and returns the CSRF token of the session.
func (r *rig) session(c *http.Client) string {
	r.t.Helper()
	if resp := r.login(c, adminToken); resp.StatusCode != http.StatusSeeOther {
		r.t.Fatalf("login: got %d, want 303", resp.StatusCode)
	}
	_, page := r.do(c, "GET", "/console/approvals", nil)
	return field(r.t, csrfField, page)
}

func TestConsoleLoginRequired(t *testing.T) {
	r := newRig(t)
	tests := []struct {
		name, method, path string
		want               int
	}{
		{"root", "GET", "/console/", http.StatusSeeOther},
		{"approvals", "GET", "/console/approvals", http.StatusSeeOther},
		{"feed", "GET", "/console/feed", http.StatusSeeOther},
		{"request", "GET", "/console/requests/req_1", http.StatusSeeOther},
		{"stats", "GET", "/console/stats", http.StatusSeeOther},
		{"setup", "GET", "/console/setup", http.StatusSeeOther},
		{"approval rows", "GET", "/console/approvals/rows", http.StatusUnauthorized},
		{"feed rows", "GET", "/console/feed/rows", http.StatusUnauthorized},
		{"charts", "GET", "/console/stats/charts", http.StatusUnauthorized},
		{"events", "GET", "/console/events", http.StatusUnauthorized},
		{"approve", "POST", "/console/approvals/apr_00000000000000a1/approve", http.StatusUnauthorized},
		{"deny", "POST", "/console/approvals/apr_00000000000000a1/deny", http.StatusUnauthorized},
		{"logout", "POST", "/console/logout", http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var form url.Values
			if tt.method == "POST" {
				form = url.Values{"csrf": {"guess"}}
			}
			resp, body := r.do(r.c, tt.method, tt.path, form)
			if resp.StatusCode != tt.want {
				t.Fatalf("got %d, want %d", resp.StatusCode, tt.want)
			}
			if tt.want == http.StatusSeeOther && resp.Header.Get("Location") != "/console/login" {
				t.Errorf("redirect to %q, want /console/login", resp.Header.Get("Location"))
			}
			if strings.Contains(body, "cloak_github_") || strings.Contains(body, "alice") {
				t.Errorf("an unauthenticated answer shows data: %q", body)
			}
		})
	}
	if n := len(r.apr.decisions()); n != 0 {
		t.Fatalf("got %d decisions without a session, want 0", n)
	}
	// The static bundle needs no session (the login page uses it).
	if resp, _ := r.do(r.c, "GET", "/console/static/app.js", nil); resp.StatusCode != 200 {
		t.Errorf("static script: got %d, want 200", resp.StatusCode)
	}
}

func TestConsoleLogin(t *testing.T) {
	tests := []struct {
		name      string
		token     string
		nonce     func(page string) string
		wantCode  int
		wantLogin bool
	}{
		{"right token", adminToken, func(p string) string { return field(t, nonceField, p) }, http.StatusSeeOther, true},
		{"wrong token", "not-the-admin-token-at-all", func(p string) string { return field(t, nonceField, p) }, http.StatusUnauthorized, false},
		{"token prefix", adminToken[:10], func(p string) string { return field(t, nonceField, p) }, http.StatusUnauthorized, false},
		{"empty token", "", func(p string) string { return field(t, nonceField, p) }, http.StatusUnauthorized, false},
		{"no nonce", adminToken, func(string) string { return "" }, http.StatusForbidden, false},
		{"wrong nonce", adminToken, func(string) string { return "forged" }, http.StatusForbidden, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t)
			_, page := r.do(r.c, "GET", "/console/login", nil)
			resp, body := r.do(r.c, "POST", "/console/login", url.Values{"nonce": {tt.nonce(page)}, "token": {tt.token}})
			if resp.StatusCode != tt.wantCode {
				t.Fatalf("got %d, want %d", resp.StatusCode, tt.wantCode)
			}
			if strings.Contains(body, adminToken) {
				t.Errorf("the login answer echoes the admin token")
			}
			resp, _ = r.do(r.c, "GET", "/console/approvals", nil)
			if got := resp.StatusCode == http.StatusOK; got != tt.wantLogin {
				t.Errorf("approvals page after login: got %d, signed in %v, want %v", resp.StatusCode, got, tt.wantLogin)
			}
		})
	}
}

func TestConsoleLoginLimit(t *testing.T) {
	r := newRig(t)
	for range 30 {
		if resp := r.login(r.c, "wrong-token-wrong-token"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong token: got %d, want 401", resp.StatusCode)
		}
	}
	if resp := r.login(r.c, adminToken); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("after 30 failures: got %d, want 429", resp.StatusCode)
	}
	// Another address is not locked out.
	h := r.srv.Config.Handler
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/console/login", nil))
	req := httptest.NewRequest("POST", "/console/login", strings.NewReader(url.Values{
		"nonce": {field(t, nonceField, rec.Body.String())}, "token": {adminToken}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.RemoteAddr = "192.0.2.7:40000"
	for _, c := range rec.Result().Cookies() {
		req.AddCookie(c)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("from another address: got %d, want 303", rec.Code)
	}
	r.advance(time.Minute)
	if resp := r.login(r.c, adminToken); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("a minute later: got %d, want 303", resp.StatusCode)
	}
}

func TestConsoleSessionCookie(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		t.Run(map[bool]string{false: "http", true: "https"}[useTLS], func(t *testing.T) {
			r := newRig(t)
			if useTLS {
				r.srv.Close()
				r.srv = httptest.NewTLSServer(r.srv.Config.Handler)
				t.Cleanup(r.srv.Close)
				r.c = r.client()
			}
			resp := r.login(r.c, adminToken)
			var sc *http.Cookie
			for _, c := range resp.Cookies() {
				if c.Name == "cloakroom_console" {
					sc = c
				}
			}
			if sc == nil {
				t.Fatalf("no session cookie in %v", resp.Header["Set-Cookie"])
			}
			if !sc.HttpOnly || sc.SameSite != http.SameSiteStrictMode || sc.Path != "/console/" {
				t.Errorf("got HttpOnly=%v SameSite=%v Path=%q, want HttpOnly, Strict, /console/", sc.HttpOnly, sc.SameSite, sc.Path)
			}
			if sc.Secure != useTLS {
				t.Errorf("got Secure=%v, want %v", sc.Secure, useTLS)
			}
			if sc.MaxAge != int((12 * time.Hour).Seconds()) {
				t.Errorf("got MaxAge %d, want 12h", sc.MaxAge)
			}
			if strings.Contains(sc.Value, adminToken) || len(sc.Value) < 20 {
				t.Errorf("the cookie must be a random id, not the token (%d chars)", len(sc.Value))
			}
			for _, h := range resp.Header["Set-Cookie"] {
				if strings.Contains(h, adminToken) {
					t.Errorf("a cookie holds the admin token")
				}
			}
			// Two logins get two sessions.
			other := r.client()
			r.login(other, adminToken)
			u, _ := url.Parse(r.srv.URL + "/console/")
			if a, b := r.c.Jar.Cookies(u), other.Jar.Cookies(u); len(a) == 0 || len(b) == 0 || a[0].Value == b[0].Value {
				t.Errorf("two logins share a session id")
			}
		})
	}
}

func TestConsoleSessionExpires(t *testing.T) {
	r := newRig(t)
	r.session(r.c)
	r.advance(12*time.Hour - time.Second)
	if resp, _ := r.do(r.c, "GET", "/console/feed", nil); resp.StatusCode != 200 {
		t.Fatalf("before the end: got %d, want 200", resp.StatusCode)
	}
	r.advance(time.Second)
	if resp, _ := r.do(r.c, "GET", "/console/feed", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("after 12h: got %d, want 303 to the login", resp.StatusCode)
	}
}

func TestConsoleLogout(t *testing.T) {
	r := newRig(t)
	csrf := r.session(r.c)
	if resp, _ := r.do(r.c, "POST", "/console/logout", url.Values{}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("logout without CSRF: got %d, want 403", resp.StatusCode)
	}
	u, _ := url.Parse(r.srv.URL + "/console/")
	stolen := r.c.Jar.Cookies(u)
	resp, _ := r.do(r.c, "POST", "/console/logout", url.Values{"csrf": {csrf}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/login" {
		t.Fatalf("logout: got %d to %q, want 303 to the login", resp.StatusCode, resp.Header.Get("Location"))
	}
	// The old cookie is dead on the server too, not only forgotten by the browser.
	replay := r.client()
	replay.Jar.SetCookies(u, stolen)
	if resp, _ := r.do(replay, "GET", "/console/approvals", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("replayed cookie after logout: got %d, want 303", resp.StatusCode)
	}
}

func TestConsoleCSRF(t *testing.T) {
	r := newRig(t)
	csrf := r.session(r.c)
	other := r.client()
	otherCSRF := r.session(other)
	path := "/console/approvals/apr_00000000000000a1/approve"
	tests := []struct {
		name   string
		form   url.Values
		header []string
	}{
		{"no token", url.Values{}, nil},
		{"empty token", url.Values{"csrf": {""}}, nil},
		{"wrong token", url.Values{"csrf": {"x" + csrf}}, nil},
		{"another session's token", url.Values{"csrf": {otherCSRF}}, nil},
		{"cross-site browser request", url.Values{"csrf": {csrf}}, []string{"Sec-Fetch-Site", "cross-site"}},
		{"foreign origin", url.Values{"csrf": {csrf}}, []string{"Origin", "https://evil.example"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, _ := r.do(r.c, "POST", path, tt.form, tt.header...)
			if resp.StatusCode != http.StatusForbidden {
				t.Fatalf("got %d, want 403", resp.StatusCode)
			}
		})
	}
	if n := len(r.apr.decisions()); n != 0 {
		t.Fatalf("got %d decisions from forged requests, want 0", n)
	}
	// The header form works as the field does.
	resp, _ := r.do(r.c, "POST", path, url.Values{}, "X-CSRF-Token", csrf, "Sec-Fetch-Site", "same-origin")
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("with the CSRF header: got %d, want 303", resp.StatusCode)
	}
	if d := r.apr.decisions(); len(d) != 1 || !d[0].grant {
		t.Fatalf("got decisions %+v, want one grant", d)
	}
}

func TestConsoleRefusesAgentCredentials(t *testing.T) {
	r := newRig(t)
	csrf := r.session(r.c)
	for _, h := range [][2]string{
		{"Proxy-Authorization", "Basic YWxpY2U6cGFzcw=="},
		{"X-Cloakroom-Agent", "alice:cra_secret"},
		{"Via", "1.1 cloakroom"},
	} {
		t.Run(h[0], func(t *testing.T) {
			for _, c := range []struct {
				method, path string
				form         url.Values
			}{
				{"GET", "/console/login", nil},
				{"GET", "/console/approvals", nil},
				{"POST", "/console/approvals/apr_00000000000000a1/approve", url.Values{"csrf": {csrf}}},
				{"POST", "/console/login", url.Values{"token": {adminToken}}},
			} {
				resp, body := r.do(r.c, c.method, c.path, c.form, h[0], h[1])
				if resp.StatusCode != http.StatusForbidden {
					t.Errorf("%s %s: got %d, want 403", c.method, c.path, resp.StatusCode)
				}
				if strings.Contains(body, "apr_00000000000000a1") {
					t.Errorf("%s %s: the refusal shows the queue", c.method, c.path)
				}
			}
		})
	}
	if n := len(r.apr.decisions()); n != 0 {
		t.Fatalf("got %d decisions with agent credentials, want 0", n)
	}
}

func TestConsoleDecides(t *testing.T) {
	tests := []struct {
		name      string
		action    string
		form      url.Values
		wantGrant bool
		wantDur   time.Duration
		wantFlash string
	}{
		{"approve once", "approve", url.Values{"for": {""}}, true, 0, "Granted apr_00000000000000a1 for one use."},
		{"approve for 15m", "approve", url.Values{"for": {"15m"}}, true, 15 * time.Minute, "Granted apr_00000000000000a1 for 15m."},
		{"approve for 8h", "approve", url.Values{"for": {"8h"}}, true, 8 * time.Hour, "Granted apr_00000000000000a1 for 8h."},
		{"deny", "deny", url.Values{}, false, 0, "Denied apr_00000000000000a1."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t)
			csrf := r.session(r.c)
			tt.form.Set("csrf", csrf)
			resp, _ := r.do(r.c, "POST", "/console/approvals/apr_00000000000000a1/"+tt.action, tt.form)
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("got %d, want 303", resp.StatusCode)
			}
			d := r.apr.decisions()
			if len(d) != 1 || d[0].grant != tt.wantGrant || d[0].dur != tt.wantDur || d[0].by != "console" || d[0].id != "apr_00000000000000a1" {
				t.Fatalf("got %+v, want one decision grant=%v dur=%v by console", d, tt.wantGrant, tt.wantDur)
			}
			_, page := r.do(r.c, "GET", resp.Header.Get("Location"), nil)
			if !strings.Contains(page, tt.wantFlash) {
				t.Errorf("the page does not say %q", tt.wantFlash)
			}
			if strings.Contains(page, `data-approval="apr_00000000000000a1"`) {
				t.Errorf("the decided approval is still in the queue")
			}
			// Deciding again: no longer pending.
			resp, _ = r.do(r.c, "POST", "/console/approvals/apr_00000000000000a1/approve", url.Values{"csrf": {csrf}})
			if loc := resp.Header.Get("Location"); !strings.Contains(loc, "done=gone") {
				t.Errorf("second decision: redirected to %q, want done=gone", loc)
			}
		})
	}
	t.Run("bad input", func(t *testing.T) {
		r := newRig(t)
		csrf := r.session(r.c)
		for _, c := range []struct {
			path string
			form url.Values
			want int
		}{
			{"/console/approvals/apr_00000000000000a1/approve", url.Values{"for": {"-5m"}}, http.StatusBadRequest},
			{"/console/approvals/apr_00000000000000a1/approve", url.Values{"for": {"9999h"}}, http.StatusBadRequest},
			{"/console/approvals/apr_00000000000000a1/approve", url.Values{"for": {"soon"}}, http.StatusBadRequest},
			{"/console/approvals/not-an-id/approve", url.Values{}, http.StatusNotFound},
			{"/console/approvals/apr_ffff/deny", url.Values{}, http.StatusSeeOther}, // unknown: done=notfound
		} {
			c.form.Set("csrf", csrf)
			if resp, _ := r.do(r.c, "POST", c.path, c.form); resp.StatusCode != c.want {
				t.Errorf("%s %v: got %d, want %d", c.path, c.form, resp.StatusCode, c.want)
			}
		}
		if n := len(r.apr.decisions()); n != 0 {
			t.Fatalf("got %d decisions from bad input, want 0", n)
		}
	})
	t.Run("store down", func(t *testing.T) {
		r := newRig(t)
		r.session(r.c)
		r.apr.mu.Lock()
		r.apr.fail = errors.New("redis: connection refused")
		r.apr.mu.Unlock()
		resp, page := r.do(r.c, "GET", "/console/approvals", nil)
		if resp.StatusCode != 200 || !strings.Contains(page, "The approval store did not answer.") || strings.Contains(page, "redis") {
			t.Errorf("got %d, want the page to say the store did not answer, without the error text", resp.StatusCode)
		}
	})
}

// hostile is text an agent controls (principal names, hosts, paths, models,
// descriptions built from them) that must be shown, never run.
const hostile = `<script>alert("x")</script><img src=x onerror=alert(1)>"'`

func TestConsoleEscapesEverything(t *testing.T) {
	r := newRig(t, func(c *console.Config) {
		c.Captures = captures{"req_evil": []byte(`{"messages":[{"content":"` + strings.ReplaceAll(hostile, `"`, `\"`) + `"}]}`)}
		c.Setup.Agents = []string{hostile}
		c.Setup.Gateway = map[string]string{"anthropic": "https://api.anthropic.com/" + hostile}
	})
	r.apr.list = append(r.apr.list, resolver.Approval{
		ID: "apr_00000000000000b2", Token: hostile, Class: hostile, Rule: hostile, Principal: hostile, Client: hostile,
		Host: hostile, Method: hostile, Path: hostile, Description: hostile, Reason: hostile, Status: resolver.Pending,
		Created: r.now, Expires: r.now.Add(time.Hour),
	})
	r.fd.recs = append(r.fd.recs, audit.Record{
		ID: "req_evil", Principal: hostile, Client: hostile, Host: hostile, Method: hostile, Path: hostile, API: hostile,
		Model: hostile, Decision: hostile, Error: hostile, Approval: hostile,
		Detections: []audit.Detection{{Rule: hostile, Class: hostile, Token: hostile, Path: hostile}},
	})
	r.fd.decs = []audit.Decision{{Event: hostile, Host: hostile, Token: hostile, Reason: hostile, By: hostile}}
	r.fd.stats = console.Stats{End: r.now, Step: time.Minute, Rules: []console.Series{{Name: hostile, Counts: []int{1, 2}}}}
	r.session(r.c)
	for _, path := range []string{
		"/console/approvals", "/console/approvals/rows", "/console/feed", "/console/feed/rows",
		"/console/feed?principal=" + url.QueryEscape(hostile), "/console/requests/req_evil",
		"/console/stats", "/console/stats/charts", "/console/setup",
	} {
		t.Run(path, func(t *testing.T) {
			resp, page := r.do(r.c, "GET", path, nil)
			if resp.StatusCode != 200 {
				t.Fatalf("got %d, want 200", resp.StatusCode)
			}
			for _, raw := range []string{"<script>alert", "<img src=x", `"'`} {
				if strings.Contains(page, raw) {
					t.Errorf("the page holds %q unescaped", raw)
				}
			}
			want := 1 // the console's own script tag
			if strings.HasSuffix(path, "/rows") || strings.HasSuffix(path, "/charts") {
				want = 0
			}
			if got := strings.Count(page, "<script"); got != want {
				t.Errorf("got %d script tags, want %d", got, want)
			}
			if !strings.Contains(page, "&lt;script&gt;") && !strings.Contains(page, "%3cscript%3e") {
				t.Errorf("the hostile text is not shown (escaped) at all")
			}
		})
	}
}

func TestConsoleSecurityHeaders(t *testing.T) {
	r := newRig(t)
	anon := r.client()
	r.session(r.c)
	for _, c := range []struct {
		client *http.Client
		path   string
	}{
		{anon, "/console/login"}, {anon, "/console/approvals"}, {anon, "/console/static/app.css"},
		{anon, "/console/nope"}, {r.c, "/console/approvals"}, {r.c, "/console/feed/rows"}, {r.c, "/console/setup"},
	} {
		resp, _ := r.do(c.client, "GET", c.path, nil)
		csp := resp.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "script-src 'self'") ||
			strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s: CSP %q", c.path, csp)
		}
		if got := resp.Header.Get("X-Frame-Options"); got != "DENY" {
			t.Errorf("%s: X-Frame-Options %q, want DENY", c.path, got)
		}
		if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s: X-Content-Type-Options %q, want nosniff", c.path, got)
		}
	}
	if resp, _ := r.do(r.c, "GET", "/console/approvals", nil); resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("pages: Cache-Control %q, want no-store", resp.Header.Get("Cache-Control"))
	}
}

// TestConsoleNoInlineScript checks the pages against the CSP: no inline script,
// no event handler attribute, no style attribute, no third-party URL.
func TestConsoleNoInlineScript(t *testing.T) {
	r := newRig(t)
	_, login := r.do(r.c, "GET", "/console/login", nil)
	r.session(r.c)
	pages := []string{login}
	for _, p := range []string{"/console/approvals", "/console/feed", "/console/requests/req_1", "/console/stats", "/console/setup"} {
		_, page := r.do(r.c, "GET", p, nil)
		pages = append(pages, page)
	}
	inline := regexp.MustCompile(`<script[^>]*>[^<]|\son[a-z]+=|\sstyle=|<style|(src|href)="(https?:)?//`)
	for i, page := range pages {
		if m := inline.FindString(page); m != "" {
			t.Errorf("page %d holds %q, which the CSP forbids", i, m)
		}
	}
}

func TestConsoleOffWithoutToken(t *testing.T) {
	r := newRig(t, func(c *console.Config) { c.AdminToken = "" })
	resp, _ := r.do(r.c, "GET", "/console/login", nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("got %d, want 404", resp.StatusCode)
	}
	resp, _ = r.do(r.c, "POST", "/console/login", url.Values{"token": {""}})
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("empty token login: got %d, want 404", resp.StatusCode)
	}
}

func TestConsoleFeed(t *testing.T) {
	r := newRig(t)
	r.session(r.c)
	tests := []struct {
		name, query string
		want, not   []string
	}{
		{"all", "", []string{"/console/requests/req_1", "/console/requests/req_2", "github ×1", "claude-sonnet-4-5"}, nil},
		{"principal", "?principal=bob", []string{"/console/requests/req_2"}, []string{"/console/requests/req_1"}},
		{"host", "?host=api.anthropic.com", []string{"/console/requests/req_1"}, []string{"/console/requests/req_2"}},
		{"decision", "?decision=refused", []string{"/console/requests/req_2", "bad_json"}, []string{"/console/requests/req_1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, path := range []string{"/console/feed" + tt.query, "/console/feed/rows" + tt.query} {
				_, page := r.do(r.c, "GET", path, nil)
				for _, w := range tt.want {
					if !strings.Contains(page, w) {
						t.Errorf("%s: no %q", path, w)
					}
				}
				for _, n := range tt.not {
					if strings.Contains(page, n) {
						t.Errorf("%s: holds %q, filtered out", path, n)
					}
				}
			}
		})
	}
}

func TestConsoleRequestCapture(t *testing.T) {
	tests := []struct {
		name     string
		captures console.Captures
		want     string
	}{
		{"off", nil, "Prompt capture is off"},
		{"on, none kept", captures{}, "No capture for this request"},
		{"on", captures{"req_1": []byte(`{"messages":[{"content":"GITHUB_TOKEN=cloak_github_aaaaaaaaaaaaaaaaaaaa"}]}`)}, `<pre class="prompt" id="prompt">{
  &#34;messages&#34;: [`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, func(c *console.Config) { c.Captures = tt.captures })
			r.session(r.c)
			resp, page := r.do(r.c, "GET", "/console/requests/req_1", nil)
			if resp.StatusCode != 200 || !strings.Contains(page, tt.want) {
				t.Fatalf("got %d, want the page to hold %q", resp.StatusCode, tt.want)
			}
			if !strings.Contains(page, "github-pat") || !strings.Contains(page, "cloak_github_aaaaaaaaaaaaaaaaaaaa") {
				t.Errorf("the detections are not listed")
			}
		})
	}
	r := newRig(t)
	r.session(r.c)
	if resp, _ := r.do(r.c, "GET", "/console/requests/req_gone", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown request: got %d, want 404", resp.StatusCode)
	}
}

func TestConsoleStatsCharts(t *testing.T) {
	r := newRig(t)
	counts := make([]int, 60)
	counts[59], counts[10] = 4, 2
	var rules []console.Series
	for _, n := range []string{"aws", "github-pat", "slack", "stripe", "pem", "jwt", "gcp", "azure"} {
		rules = append(rules, console.Series{Name: n, Counts: counts})
	}
	r.fd.stats = console.Stats{End: r.now, Step: time.Minute,
		Requests: []console.Series{{Name: "forwarded", Counts: counts}}, Rules: rules}
	r.session(r.c)
	_, page := r.do(r.c, "GET", "/console/stats/charts", nil)
	for _, id := range []string{"chart-requests", "chart-rules", "chart-principals", "chart-decisions"} {
		if !strings.Contains(page, `id="`+id+`"`) {
			t.Errorf("no chart %s", id)
		}
	}
	// Requests: 2 bars; rules: 6 series shown (5 + other) in 2 buckets.
	if got := strings.Count(page, "<rect x="); got != 2+12 {
		t.Errorf("got %d bars, want 14", got)
	}
	if !strings.Contains(page, "other <span") {
		t.Errorf("the smallest rules are not folded into other")
	}
	if !strings.Contains(page, "no detections in this hour") {
		t.Errorf("an empty chart does not say so")
	}
}

func TestConsoleSetup(t *testing.T) {
	r := newRig(t)
	r.session(r.c)
	_, page := r.do(r.c, "GET", "/console/setup", nil)
	for _, want := range []string{
		"export HTTPS_PROXY=http://127.0.0.1:18080",
		"export NODE_EXTRA_CA_CERTS=/srv/cloakroom/ca.pem",
		"export SSL_CERT_FILE=/srv/cloakroom/ca-bundle.pem",
		"export CODEX_CA_CERTIFICATE=/srv/cloakroom/ca-bundle.pem",
		"set -gx REQUESTS_CA_BUNDLE /srv/cloakroom/ca-bundle.pem",
		"ANTHROPIC_BASE_URL=http://127.0.0.1:18080/anthropic",
		"Claude Code", "Codex CLI", "Node SDKs", "Python SDKs", "curl --proxy",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the setup page lacks %q", want)
		}
	}
}

func TestConsoleSetupQuoting(t *testing.T) {
	home, _ := os.UserHomeDir()
	tests := []struct {
		name       string
		setup      console.Setup
		bash, fish string
		proxyWant  string
	}{
		{"defaults", console.Setup{},
			"export NODE_EXTRA_CA_CERTS=" + home + "/.local/share/cloakroom/ca.pem", "set -gx NODE_EXTRA_CA_CERTS " + home + "/.local/share/cloakroom/ca.pem",
			"export https_proxy=http://127.0.0.1:8080"},
		{"any address", console.Setup{ListenAddr: "0.0.0.0:3128", DataDir: "/data"},
			"export SSL_CERT_FILE=/data/ca-bundle.pem", "set -gx SSL_CERT_FILE /data/ca-bundle.pem",
			"export HTTPS_PROXY=http://127.0.0.1:3128"},
		{"spaces and quotes", console.Setup{ListenAddr: "[::]:8080", DataDir: `/srv/my data/it's`},
			`export SSL_CERT_FILE='/srv/my data/it'\''s/ca-bundle.pem'`, `set -gx SSL_CERT_FILE '/srv/my data/it\'s/ca-bundle.pem'`,
			"export HTTP_PROXY='http://[::1]:8080'"}, // brackets glob in sh
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, func(c *console.Config) { c.Setup = tt.setup })
			r.session(r.c)
			_, page := r.do(r.c, "GET", "/console/setup", nil)
			page = html.UnescapeString(page)
			for _, want := range []string{tt.bash, tt.fish, tt.proxyWant} {
				if !strings.Contains(page, want) {
					t.Errorf("the setup page lacks %q", want)
				}
			}
		})
	}
}

func TestConsoleEvents(t *testing.T) {
	r := newRig(t)
	r.session(r.c)
	req, _ := http.NewRequest("GET", r.srv.URL+"/console/events", nil)
	resp, err := r.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("got %d %q, want 200 text/event-stream", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	lines := bufio.NewScanner(resp.Body)
	next := func() string {
		for lines.Scan() {
			if l := lines.Text(); l != "" && !strings.HasPrefix(l, "retry:") {
				return l
			}
		}
		return ""
	}
	r.fd.publish(console.Event{Kind: "bogus\nevent: x", ID: "1"})
	r.fd.publish(console.Event{Kind: console.EventRequest, ID: "req_9"})
	if got := next(); got != "event: request" {
		t.Fatalf("got %q, want event: request", got)
	}
	if got := next(); got != `data: {"id":"req_9"}` {
		t.Fatalf("got %q, want the id as data", got)
	}
	// Shutdown ends the stream rather than waiting for it.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.srv.Config.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown with an open event stream: %v", err)
	}
}

func TestConsoleRedirects(t *testing.T) {
	r := newRig(t)
	if resp, _ := r.do(r.c, "GET", "/console/login", nil); resp.StatusCode != 200 {
		t.Fatalf("login page: got %d", resp.StatusCode)
	}
	r.session(r.c)
	for path, want := range map[string]string{"/console/": "/console/approvals", "/console/login": "/console/approvals"} {
		resp, _ := r.do(r.c, "GET", path, nil)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != want {
			t.Errorf("%s: got %d to %q, want 303 to %s", path, resp.StatusCode, resp.Header.Get("Location"), want)
		}
	}
}
