package proxy_test

import (
	"bufio"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cloakroom/cloakroom/internal/audit"
	"github.com/cloakroom/cloakroom/proxy"
	"github.com/cloakroom/cloakroom/resolver"
)

// newConsoleRig is newEgressRig with prompt capture.
func newConsoleRig(t *testing.T, hold time.Duration) (*egressRig, *audit.Captures) {
	t.Helper()
	caps, err := audit.OpenCaptures(filepath.Join(t.TempDir(), "captures"), audit.CaptureOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := newEgressRig(t, hold, func(o *harnessOpts) {
		o.cfg.ListenAddr, o.cfg.DataDir, o.captures = "127.0.0.1:18080", "/var/lib/cloakroom", caps
	})
	return r, caps
}

// browser is an approver's browser on the console: cookies kept, redirects not
// followed.
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newBrowser(t *testing.T, base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: base, c: &http.Client{
		Jar:           jar,
		Transport:     &http.Transport{Proxy: nil},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

func (b *browser) do(method, path string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, b.base+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	page, _ := io.ReadAll(resp.Body)
	return resp, string(page)
}

var consoleField = regexp.MustCompile(`name="(nonce|csrf)" value="([^"]+)"`)

func (b *browser) login(token string) {
	b.t.Helper()
	_, page := b.do("GET", "/console/login", nil)
	m := consoleField.FindStringSubmatch(page)
	if m == nil {
		b.t.Fatal("no login form")
	}
	resp, _ := b.do("POST", "/console/login", url.Values{"nonce": {m[2]}, "token": {token}})
	if resp.StatusCode != http.StatusSeeOther {
		b.t.Fatalf("login: got %d, want 303", resp.StatusCode)
	}
}

// TestConsoleApprovesHeldEgress drives the console as an approver would: a held
// egress request shows up in the queue, live; approving it in the console lets it
// through; the feed shows it; and no page ever holds the secret.
func TestConsoleApprovesHeldEgress(t *testing.T) {
	r, _ := newConsoleRig(t, 30*time.Second)
	secret := githubToken(t)
	r.plant(secret)
	tok := r.submit("alice", secret)

	// / leads to the console, which asks for a login.
	b := newBrowser(t, r.admin.URL)
	if resp, _ := b.do("GET", "/", nil); resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/console/" {
		t.Fatalf("/: got %d to %q, want 302 to /console/", resp.StatusCode, resp.Header.Get("Location"))
	}
	b.login(testAdminToken)

	// A live page hears of the approval request.
	req, _ := http.NewRequest("GET", r.admin.URL+"/console/events", nil)
	stream, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Body.Close()
	heard := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stream.Body)
		for sc.Scan() {
			if ev, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
				heard <- ev
			}
		}
		close(heard)
	}()

	done := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest("GET", "https://api.github.com/user", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := r.client("alice").Do(req)
		if err != nil {
			done <- -1
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	if ev := <-heard; ev != "decision" {
		t.Fatalf("the live stream said %q first, want decision (approval_requested)", ev)
	}

	_, rows := b.do("GET", "/console/approvals/rows", nil)
	m := regexp.MustCompile(`data-approval="(apr_[0-9a-f]+)"`).FindStringSubmatch(rows)
	if m == nil {
		t.Fatalf("the queue shows no pending approval")
	}
	id := m[1]
	for _, want := range []string{tok, "alice", "api.github.com/user"} {
		if !strings.Contains(rows, want) {
			t.Errorf("the queue does not show %q", want)
		}
	}
	select {
	case code := <-done:
		t.Fatalf("the request did not wait for the approval: %d", code)
	default:
	}
	csrf := consoleField.FindStringSubmatch(rows)
	if csrf == nil || csrf[1] != "csrf" {
		t.Fatal("no CSRF token in the queue's forms")
	}
	resp, _ := b.do("POST", "/console/approvals/"+id+"/approve", url.Values{"csrf": {csrf[2]}, "for": {""}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("approve: got %d, want 303", resp.StatusCode)
	}
	if code := <-done; code != 200 {
		t.Fatalf("held request: got %d, want 200", code)
	}
	if calls := r.githubCalls(); len(calls) != 1 || calls[0] != "Bearer "+secret {
		t.Fatalf("upstream saw %d calls, want 1 with the value", len(calls))
	}
	a, err := r.approvals.Get(t.Context(), id)
	if err != nil || a.Status != resolver.Granted || a.DecidedBy != "console" {
		t.Fatalf("approval: got %s by %q (%v), want granted by console", a.Status, a.DecidedBy, err)
	}
	if n := countEvents(r.decisions(), "granted"); n != 1 {
		t.Fatalf("audit: got %d granted records, want 1", n)
	}

	// The feed shows both requests; every page is free of the secret.
	_, feed := b.do("GET", "/console/feed/rows", nil)
	if !strings.Contains(feed, `data-host="api.github.com" data-status="200"`) {
		t.Errorf("the feed does not show the egress request completed with 200")
	}
	pages := []string{"/console/approvals", "/console/approvals/rows", "/console/feed", "/console/feed/rows",
		"/console/stats", "/console/stats/charts", "/console/setup"}
	for _, rec := range r.auditRecords() {
		pages = append(pages, "/console/requests/"+rec.ID)
	}
	for _, p := range pages {
		resp, page := b.do("GET", p, nil)
		if resp.StatusCode != 200 {
			t.Errorf("%s: got %d, want 200", p, resp.StatusCode)
		}
		for _, form := range leakForms(secret) {
			if strings.Contains(page, form) {
				t.Errorf("%s: the page holds the planted secret", p)
			}
		}
		if strings.Contains(page, testAdminToken) {
			t.Errorf("%s: the page holds the admin token", p)
		}
	}
	var promptPage string
	for _, rec := range r.auditRecords() {
		if rec.Host == "api.anthropic.com" {
			_, promptPage = b.do("GET", "/console/requests/"+rec.ID, nil)
		}
	}
	if !strings.Contains(promptPage, `id="prompt"`) || !strings.Contains(promptPage, tok) {
		t.Errorf("the model request's page does not show its redacted prompt with the token")
	}
	if _, setup := b.do("GET", "/console/setup", nil); !strings.Contains(setup, "export HTTPS_PROXY=http://127.0.0.1:18080") ||
		!strings.Contains(setup, "/var/lib/cloakroom/ca-bundle.pem") {
		t.Errorf("the setup page does not use the configured listen address and data directory")
	}
}

// TestConsoleOutOfAgentsReach: the console, like the approvals API, refuses agent
// credentials, and the proxy does not carry requests to it.
func TestConsoleOutOfAgentsReach(t *testing.T) {
	r := newEgressRig(t, 0)
	req, _ := http.NewRequest("GET", r.admin.URL+"/console/login", nil)
	req.Header.Set(proxy.AgentHeader, "alice:cra_x")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("with the agent header: got %d, want 403", resp.StatusCode)
	}
	r.p.SetAdminAddr(strings.TrimPrefix(r.admin.URL, "http://"))
	resp, err = r.client("alice").Get(r.admin.URL + "/console/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("the console through the proxy: got %d, want 403", resp.StatusCode)
	}
}
