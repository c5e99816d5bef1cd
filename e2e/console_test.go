package e2e_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cloakroom/cloakroom/configs"
	"github.com/cloakroom/cloakroom/detect"
	"github.com/cloakroom/cloakroom/internal/audit"
	"github.com/cloakroom/cloakroom/internal/fakeapi"
	"github.com/cloakroom/cloakroom/proxy"
	"github.com/cloakroom/cloakroom/resolver"
	"github.com/cloakroom/cloakroom/tokenize"
)

// consoleAdminToken is the approvers' credential of the console rig.
const consoleAdminToken = "e2e-console-admin-token-0123456789"

// consoleRig is a real proxy with the built-in Rego policy, an embedded approval
// store, an approval hold and prompt capture, its admin listener (console
// included) on loopback, in front of the fake upstream (which also plays
// api.github.com).
type consoleRig struct {
	t         *testing.T
	up        *fakeapi.Server
	p         *proxy.Proxy
	srv       *httptest.Server // the proxy listener
	admin     *httptest.Server // the admin listener
	caPool    *x509.CertPool
	approvals *resolver.BoltApprovals
	audit     *syncBuffer
	captures  *audit.Captures
}

func newConsoleRig(t *testing.T) *consoleRig {
	t.Helper()
	caps, err := audit.OpenCaptures(filepath.Join(t.TempDir(), "captures"), audit.CaptureOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := &consoleRig{t: t, audit: &syncBuffer{}, captures: caps}
	r.up = fakeapi.Start(t, fakeapi.Options{})
	certPEM, keyPEM, err := proxy.GenerateCA("cloakroom e2e console CA")
	if err != nil {
		t.Fatal(err)
	}
	ca, err := proxy.NewCA(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	r.caPool = x509.NewCertPool()
	r.caPool.AppendCertsFromPEM(certPEM)
	det, err := detect.New(detect.Config{})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := tokenize.NewKeys(masterKey)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	store, err := tokenize.OpenBolt(filepath.Join(dir, "vault.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	vault, err := tokenize.NewVault(tokenize.VaultConfig{Keys: keys, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	engine := resolver.NewEngine(resolver.EngineOptions{})
	if err := engine.Load("configs/policy.rego", configs.Policy); err != nil {
		t.Fatal(err)
	}
	r.approvals, err = resolver.NewBoltApprovals(filepath.Join(dir, "approvals.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.approvals.Close() })
	reg := prometheus.NewRegistry()
	r.p, err = proxy.New(proxy.Config{
		CA: ca, Dial: r.up.Dial, UpstreamRootCAs: r.up.RootCAs, OtherHosts: proxy.Block,
		Intercept:    []string{"api.anthropic.com", "api.openai.com"},
		ApprovalHold: 60 * time.Second, AdminToken: consoleAdminToken,
		ListenAddr: "127.0.0.1:8080", DataDir: "~/.local/share/cloakroom",
	}, proxy.Deps{
		Detector: det, Known: detect.NewKnownSet(0), Vault: vault,
		Policy: engine, Approvals: r.approvals, Captures: r.captures,
		Audit: audit.New(r.audit), Logger: slog.New(slog.DiscardHandler), Registerer: reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.p.SetEgressHosts(engine.EgressHosts()); err != nil {
		t.Fatal(err)
	}
	r.srv = httptest.NewServer(r.p.Handler())
	r.admin = httptest.NewServer(r.p.AdminHandler(reg))
	r.p.SetAdminAddr(r.admin.Listener.Addr().String())
	t.Cleanup(func() {
		r.admin.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := r.p.Drain(ctx); err != nil {
			t.Errorf("drain: %v", err)
		}
		r.srv.Close()
		r.p.Close()
	})
	return r
}

// client goes through the proxy as principal, trusting cloakroom's CA.
func (r *consoleRig) client(principal string) *http.Client {
	u, _ := url.Parse(r.srv.URL)
	u.User = url.UserPassword(principal, "agent-password")
	tr := &http.Transport{Proxy: http.ProxyURL(u), TLSClientConfig: &tls.Config{RootCAs: r.caPool}}
	r.t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 90 * time.Second}
}

// prompt sends text to the model as principal through the proxy and returns the
// status; the proxy keeps the body that went upstream as the request's capture.
func (r *consoleRig) prompt(principal, host, path, text string) int {
	r.t.Helper()
	body, _ := json.Marshal(map[string]any{
		"model": "claude-sonnet-4-5", "max_tokens": 64,
		"messages": []any{map[string]any{"role": "user", "content": text}},
	})
	resp, err := r.client(principal).Post("https://"+host+path, "application/json", bytes.NewReader(body))
	if err != nil {
		r.t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.p.Wait(ctx); err != nil {
		r.t.Fatal(err)
	}
	return resp.StatusCode
}

// records returns the audit's request records.
func (r *consoleRig) records() []audit.Record {
	var out []audit.Record
	for _, line := range strings.Split(strings.TrimSpace(r.audit.String()), "\n") {
		var rec audit.Record
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Type == audit.TypeRequest {
			out = append(out, rec)
		}
	}
	return out
}

// chromium finds the browser: $CHROMIUM, else chromium on PATH. Without one the
// test skips, except in CI, where it fails (scripts/test installs Debian's
// chromium package).
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if inCI() {
		t.Fatal("chromium is not on PATH, and CI=true: the console browser test must run in CI (scripts/test installs Debian's chromium)")
	}
	t.Skip("chromium is not on PATH: skipping the console browser test (apt-get install chromium, or set CHROMIUM)")
	return ""
}

// browser is a headless Chromium with one tab. Every exception a page throws and
// every error it logs (a CSP violation included) is kept; none is expected.
type browser struct {
	t        *testing.T
	ctx      context.Context
	mu       sync.Mutex
	problems []string
}

func newBrowser(t *testing.T, exe string) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.Flag("headless", "new"),
		chromedp.NoSandbox, // root in a container: the sandbox cannot start
		chromedp.DisableGPU,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("no-proxy-server", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 860),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	b := &browser{t: t, ctx: ctx}
	if err := chromedp.Do(ctx); err != nil { // starts the browser, for as long as ctx lives
		t.Fatalf("start chromium: %v", err)
	}
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			if m.IsException() || m.Type == "error" {
				b.mu.Lock()
				b.problems = append(b.problems, m.String())
				b.mu.Unlock()
			}
		}
	}()
	return b
}

// browserStep bounds one step of the test in the browser.
const browserStep = 20 * time.Second

// do runs actions in the tab, failing the test with what on error.
func (b *browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserStep)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// value runs one action in the tab and returns its value.
func value[T any](b *browser, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserStep)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
	return v
}

func (b *browser) reported() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.problems...)
}

// TestConsoleInChromium signs in to the console in a real headless Chromium, sees
// the approval a held egress request asks for appear by itself, approves it with
// the button, and sees the held request complete with 200 and the feed show it.
// With UPDATE_SCREENSHOTS=1 it writes the screenshots of docs/console/.
func TestConsoleInChromium(t *testing.T) {
	exe := chromium(t)
	r := newConsoleRig(t)

	// Some traffic first, for the feed and the charts: alice pastes a GitHub
	// token, bob an AWS key, carol sends a body that is not JSON.
	body := randomFrom(t, base62, 30)
	ghToken := "ghp_" + body + detect.GitHubChecksum(body)
	awsKey := randomFrom(t, base62+"+/", 40)
	canaries := []string{ghToken, awsKey}
	if code := r.prompt("alice", "api.anthropic.com", "/v1/messages", "Open a PR with GITHUB_TOKEN="+ghToken+" please."); code != 200 {
		t.Fatalf("alice's prompt: got %d, want 200", code)
	}
	if code := r.prompt("bob", "api.anthropic.com", "/v1/messages", "Why does AWS_SECRET_ACCESS_KEY="+awsKey+" fail?"); code != 200 {
		t.Fatalf("bob's prompt: got %d, want 200", code)
	}
	resp, err := r.client("carol").Post("https://api.openai.com/v1/chat/completions", "application/json", strings.NewReader(`{"messages": [`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	spans := tokenize.Find(r.up.Requests()[0].Body)
	if len(spans) != 1 {
		t.Fatalf("the upstream saw %d tokens in alice's prompt, want 1", len(spans))
	}
	ghTok := spans[0].Token.String()

	b := newBrowser(t, exe)
	shots := map[string][]byte{}
	shot := func(name string) { shots[name] = value(b, "screenshot "+name, chromedp.FullScreenshot(100)) }

	// Sign in: / leads to the login form.
	b.do("open the console",
		chromedp.Navigate(r.admin.URL+"/"),
		chromedp.WaitVisible(chromedp.ID("token")))
	shot("login")
	b.do("sign in",
		chromedp.SendKeys(chromedp.ID("token"), consoleAdminToken),
		chromedp.Submit(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.ID("no-pending")),
		chromedp.WaitVisible(chromedp.CSS(`#live[data-state="on"]`)))

	// alice's agent calls GitHub with the token; the policy asks a person, and the
	// request waits. The approval appears on the open page by itself.
	done := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest("GET", "https://api.github.com/user", nil)
		req.Header.Set("Authorization", "Bearer "+ghTok)
		resp, err := r.client("alice").Do(req)
		if err != nil {
			done <- -1
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	b.do("wait for the pending approval", chromedp.WaitVisible(chromedp.CSS("article.approval")))
	id := value(b, "approval id", chromedp.AttributeValue(chromedp.CSS("article.approval"), "data-approval")).Value
	queue := value(b, "queue text", chromedp.Text(chromedp.ID("approvals")))
	shot("approvals")
	pending, err := r.approvals.List(context.Background(), resolver.Pending)
	if err != nil || len(pending) != 1 || pending[0].ID != id {
		t.Fatalf("the page shows %q; the store holds %+v (%v)", id, pending, err)
	}
	for _, want := range []string{ghTok, "alice", "api.github.com/user"} {
		if !strings.Contains(queue, want) {
			t.Errorf("the queue does not show %q", want)
		}
	}
	select {
	case code := <-done:
		t.Fatalf("the request did not wait for the approval: %d", code)
	default:
	}

	// Approve once.
	b.do("approve",
		chromedp.Click(chromedp.CSS("article.approval button.approve-once")),
		chromedp.WaitVisible(chromedp.CSS(".flash")))
	if got, want := value(b, "flash", chromedp.Text(chromedp.CSS(".flash"))), "Granted "+id+" for one use."; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	select {
	case code := <-done:
		if code != 200 {
			t.Fatalf("the held request: got %d, want 200", code)
		}
	case <-time.After(browserStep):
		t.Fatal("the held request did not complete after the approval")
	}
	var github []string
	for _, q := range r.up.Requests() {
		if q.Path == "/user" {
			github = append(github, q.Header.Get("Authorization"))
		}
	}
	if len(github) != 1 || github[0] != "Bearer "+ghToken {
		t.Fatalf("api.github.com saw %d calls, want 1 with the value", len(github))
	}

	// The feed shows the egress request done; a click on a row opens the newest
	// model request (bob's) with its redacted prompt.
	b.do("feed",
		chromedp.Navigate(r.admin.URL+"/console/feed"),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-host="api.github.com"][data-status="200"]`)))
	shot("feed")
	b.do("open a request",
		chromedp.Click(chromedp.CSS(`tr[data-host="api.anthropic.com"] td:nth-child(5)`)),
		chromedp.WaitVisible(chromedp.ID("prompt")))
	if prompt := value(b, "prompt", chromedp.Text(chromedp.ID("prompt"))); !strings.Contains(prompt, "cloak_aws_") {
		t.Errorf("the redacted prompt shows no token: %q", prompt)
	}
	shot("request")

	// Statistics and setup.
	b.do("stats",
		chromedp.Navigate(r.admin.URL+"/console/stats"),
		chromedp.WaitVisible(chromedp.CSS("#chart-requests rect")))
	shot("stats")
	b.do("setup",
		chromedp.Navigate(r.admin.URL+"/console/setup"),
		chromedp.WaitVisible(chromedp.ID("env-bash")))
	if env := value(b, "setup", chromedp.Text(chromedp.ID("env-bash"))); !strings.Contains(env, "export HTTPS_PROXY=http://127.0.0.1:8080") {
		t.Errorf("setup shows %q, want the HTTPS_PROXY export", env)
	}
	shot("setup")

	// No page the browser rendered holds a planted value or the admin token, and
	// scripts cannot read the session cookie.
	for _, path := range []string{"/console/approvals", "/console/feed", "/console/stats", "/console/setup"} {
		b.do(path, chromedp.Navigate(r.admin.URL+path))
		html := value(b, path, chromedp.OuterHTML(chromedp.CSS("html")))
		for _, c := range append(canaries, consoleAdminToken) {
			for _, form := range leakForms(c) {
				if strings.Contains(html, form) {
					t.Errorf("%s holds a planted secret or the admin token", path)
				}
			}
		}
	}
	if cookies := value(b, "cookies", chromedp.Evaluate[string]("document.cookie")); cookies != "" {
		t.Errorf("scripts can read cookies (%q), want the session cookie HttpOnly", cookies)
	}
	for _, p := range b.reported() {
		t.Errorf("the browser reported: %s", p)
	}
	if os.Getenv("UPDATE_SCREENSHOTS") == "1" {
		writeScreenshots(t, shots)
	}
}

// writeScreenshots writes the pages' screenshots into docs/console/.
func writeScreenshots(t *testing.T, shots map[string][]byte) {
	t.Helper()
	dir := filepath.Join("..", "docs", "console")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range shots {
		if err := os.WriteFile(filepath.Join(dir, name+".png"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("wrote %d screenshots to %s", len(shots), dir)
}
