package proxy_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/cloakroom/cloakroom/proxy"
)

// gatewayPost sends body to the proxy listener as to a server, at path.
func gatewayPost(t *testing.T, h *harness, path string, header http.Header, body []byte) (*http.Response, []byte) {
	t.Helper()
	return post(t, http.DefaultClient, h.srv.URL+path, header, body)
}

// Gateway routes redact and restore like the intercepted path, for every API, and
// reach the route's real host with its own Host header.
func TestGatewayRoutes(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	s := newSecrets(t)
	h.plant(s.all()...)
	routes := map[string]struct{ route, host, path string }{
		"anthropic":        {"/anthropic/v1/messages", "api.anthropic.com", "/v1/messages"},
		"openai-chat":      {"/openai/v1/chat/completions", "api.openai.com", "/v1/chat/completions"},
		"openai-responses": {"/openai/v1/responses", "api.openai.com", "/v1/responses"},
		"gemini":           {"/gemini/v1beta/models/gemini-2.5-pro:generateContent", "generativelanguage.googleapis.com", "/v1beta/models/gemini-2.5-pro:generateContent"},
	}
	for _, api := range apiCases {
		rt := routes[api.name]
		for _, stream := range []bool{false, true} {
			path := rt.route
			if api.name == "gemini" && stream {
				path = "/gemini/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse"
			}
			resp, got := gatewayPost(t, h, path, http.Header{"X-Api-Key": {"provider-key"}}, api.body(s.prompt(), stream))
			if resp.StatusCode != 200 {
				t.Fatalf("%s stream=%v: status %d: %.300s", api.name, stream, resp.StatusCode, got)
			}
			if e := api.parse(t, got, stream); e.Text != s.prompt() || e.ToolText != s.prompt() {
				t.Errorf("%s stream=%v: not restored through the gateway", api.name, stream)
			}
			last := h.up.Last()
			if last.Host != rt.host || !strings.HasPrefix(last.Path, rt.path[:strings.LastIndex(rt.path, "/")]) || last.Header.Get("X-Api-Key") != "provider-key" {
				t.Errorf("%s: upstream got Host %q path %q, want %q %q with the provider key", api.name, last.Host, last.Path, rt.host, rt.path)
			}
			if api.name == "gemini" && stream && last.RawQuery != "alt=sse" {
				t.Errorf("gemini: query %q lost", last.RawQuery)
			}
		}
	}
	for _, r := range h.auditRecords() {
		if strings.HasPrefix(r.Path, "/anthropic") || strings.HasPrefix(r.Path, "/openai") || strings.HasPrefix(r.Path, "/gemini") {
			t.Errorf("audit records the gateway path %q, want the upstream path", r.Path)
		}
	}
}

func TestGatewayUnknownRoute(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	resp, got := gatewayPost(t, h, "/nope/v1/messages", nil, []byte(`{}`))
	if resp.StatusCode != 404 || !strings.Contains(string(got), "/anthropic/ -> https://api.anthropic.com/") || !strings.Contains(string(got), "HTTPS_PROXY") {
		t.Errorf("got %d %q, want 404 listing the routes", resp.StatusCode, got)
	}
	if n := len(h.up.Requests()); n != 0 {
		t.Errorf("upstream got %d requests", n)
	}
}

func TestGatewayConfigErrors(t *testing.T) {
	ca := testCA(t)
	for _, tc := range []struct {
		name string
		gw   map[string]string
		want string
	}{
		{"plain http", map[string]string{"x": "http://api.example.com"}, "https URL"},
		{"bad name", map[string]string{"A/B": "https://api.example.com"}, "one lowercase path segment"},
		{"query", map[string]string{"x": "https://api.example.com/?k=v"}, "https URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := proxy.Config{CA: ca, Gateway: tc.gw}.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
}

func testCA(t *testing.T) *proxy.CA {
	t.Helper()
	certPEM, keyPEM, err := proxy.GenerateCA("t")
	if err != nil {
		t.Fatal(err)
	}
	ca, err := proxy.NewCA(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// agentsFor makes credentials for names and returns their tokens.
func agentsFor(t *testing.T, names ...string) ([]proxy.Agent, map[string]string) {
	t.Helper()
	var agents []proxy.Agent
	tokens := map[string]string{}
	for _, n := range names {
		tok, sum, err := proxy.GenerateAgentToken()
		if err != nil {
			t.Fatal(err)
		}
		agents = append(agents, proxy.Agent{Name: n, TokenSHA256: sum})
		tokens[n] = tok
	}
	return agents, tokens
}

// rawConnect sends a CONNECT with the given Proxy-Authorization and returns the
// proxy's answer.
func rawConnect(t *testing.T, h *harness, host, auth string) *http.Response {
	t.Helper()
	u, _ := url.Parse(h.srv.URL)
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n", host, host)
	if auth != "" {
		fmt.Fprintf(c, "Proxy-Authorization: %s\r\n", auth)
	}
	fmt.Fprint(c, "\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: "CONNECT"})
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func basic(name, token string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(name+":"+token))
}

// With credentials required, only a configured agent with its own token gets
// through, on intercepted hosts, tunnels, plain HTTP and the gateway alike; the
// principal it proves names it in audit and metrics, and its token leaks nowhere.
func TestAgentCredentials(t *testing.T) {
	agents, tokens := agentsFor(t, "build-agent", "reviewer")
	h := newHarness(t, harnessOpts{cfg: proxy.Config{Agents: agents, RequireAuth: true}})
	h.plant(tokens["build-agent"], tokens["reviewer"])
	s := newSecrets(t)
	h.plant(s.all()...)

	for _, tc := range []struct {
		name, host, auth string
	}{
		{"no credentials", "api.anthropic.com:443", ""},
		{"wrong token", "api.anthropic.com:443", basic("build-agent", tokens["reviewer"])},
		{"unknown agent", "api.anthropic.com:443", basic("mallory", tokens["reviewer"])},
		{"not basic", "api.anthropic.com:443", "Bearer " + tokens["reviewer"]},
		{"tunnel without credentials", "example.com:443", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := rawConnect(t, h, tc.host, tc.auth)
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusProxyAuthRequired || resp.Header.Get("Proxy-Authenticate") != `Basic realm="cloakroom"` {
				t.Errorf("got %d (Proxy-Authenticate %q): %s, want 407 with a Basic challenge", resp.StatusCode, resp.Header.Get("Proxy-Authenticate"), body)
			}
		})
	}
	if resp := rawConnect(t, h, "api.anthropic.com:443", basic("reviewer", tokens["reviewer"])); resp.StatusCode != 200 {
		t.Errorf("a valid agent's CONNECT got %d", resp.StatusCode)
	}

	// A real client with credentials in the proxy URL: redaction, restore, audit.
	u, _ := url.Parse(h.srv.URL)
	u.User = url.UserPassword("build-agent", tokens["build-agent"])
	tr := &http.Transport{Proxy: http.ProxyURL(u), TLSClientConfig: tlsConfig(h.caPool)}
	defer tr.CloseIdleConnections()
	resp, got := post(t, &http.Client{Transport: tr}, anthropicURL, nil, anthropicBody(s.prompt()))
	if resp.StatusCode != 200 || parseAnthropic(t, got, false).Text != s.prompt() {
		t.Fatalf("authenticated agent: status %d, restored %v", resp.StatusCode, parseAnthropic(t, got, false).Text == s.prompt())
	}
	// The same token echoed for another agent stays a token.
	tok := h.tokenFor(s.GitHub)
	resp, got = gatewayPost(t, h, "/anthropic/v1/messages", http.Header{proxy.AgentHeader: {"reviewer:" + tokens["reviewer"]}}, anthropicBody("echo "+tok))
	if resp.StatusCode != 200 || !strings.Contains(string(got), tok) || strings.Contains(string(got), s.GitHub) {
		t.Errorf("another agent: status %d, want the token withheld: %.200s", resp.StatusCode, got)
	}
	if h.up.Last().Header.Get(proxy.AgentHeader) != "" {
		t.Error("the agent header was forwarded upstream")
	}
	// Gateway without credentials: 401 in the provider's format.
	resp, got = gatewayPost(t, h, "/anthropic/v1/messages", nil, anthropicBody("hi"))
	var e struct {
		Error struct{ Type, Message string }
	}
	_ = json.Unmarshal(got, &e)
	if resp.StatusCode != 401 || resp.Header.Get("X-Cloakroom-Error") != "auth" || !strings.Contains(e.Error.Message, proxy.AgentHeader) {
		t.Errorf("gateway without credentials: got %d %s", resp.StatusCode, got)
	}

	principals := map[string]bool{}
	for _, r := range h.auditRecords() {
		principals[r.Principal] = true
	}
	if !principals["build-agent"] || !principals["reviewer"] {
		t.Errorf("audit principals %v, want build-agent and reviewer", principals)
	}
	if n := metricValue(t, h, "cloakroom_requests_total", map[string]string{"host": "api.anthropic.com", "principal": "build-agent", "outcome": "forwarded"}); n != 1 {
		t.Errorf("got %v forwarded requests labelled build-agent, want 1", n)
	}
}

// Without require_auth, configured agents must still prove their names; anonymous
// use is the default principal.
func TestAgentNamesMustBeProved(t *testing.T) {
	agents, tokens := agentsFor(t, "build-agent")
	h := newHarness(t, harnessOpts{cfg: proxy.Config{Agents: agents}})
	if resp := rawConnect(t, h, "api.anthropic.com:443", basic("build-agent", "guess")); resp.StatusCode != 407 {
		t.Errorf("claimed name with a wrong token: got %d, want 407", resp.StatusCode)
	}
	if resp := rawConnect(t, h, "api.anthropic.com:443", ""); resp.StatusCode != 200 {
		t.Errorf("anonymous: got %d, want 200", resp.StatusCode)
	}
	if resp := rawConnect(t, h, "api.anthropic.com:443", basic("build-agent", tokens["build-agent"])); resp.StatusCode != 200 {
		t.Errorf("valid agent: got %d, want 200", resp.StatusCode)
	}
	if resp, _ := post(t, h.client(""), anthropicURL, nil, anthropicBody("hi")); resp.StatusCode != 200 {
		t.Fatalf("anonymous request: %d", resp.StatusCode)
	}
	if recs := h.auditRecords(); len(recs) != 1 || recs[0].Principal != proxy.DefaultPrincipal {
		t.Errorf("got %+v, want one record for the default principal", recs)
	}
}

func TestAgentConfigErrors(t *testing.T) {
	ca := testCA(t)
	good := proxy.HashAgentToken("x")
	for _, tc := range []struct {
		name string
		cfg  proxy.Config
		want string
	}{
		{"require without agents", proxy.Config{RequireAuth: true}, "require_auth needs"},
		{"bad hash", proxy.Config{Agents: []proxy.Agent{{Name: "a", TokenSHA256: "zz"}}}, "64 hex digits"},
		{"bad name", proxy.Config{Agents: []proxy.Agent{{Name: "a b", TokenSHA256: good}}}, "name must be"},
		{"duplicate", proxy.Config{Agents: []proxy.Agent{{Name: "a", TokenSHA256: good}, {Name: "a", TokenSHA256: good}}}, "duplicate"},
		{"reserved", proxy.Config{Agents: []proxy.Agent{{Name: "default", TokenSHA256: good}}}, "reserved"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.CA = ca
			err := tc.cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
}

func TestGenerateAgentToken(t *testing.T) {
	a, ha, err := proxy.GenerateAgentToken()
	if err != nil {
		t.Fatal(err)
	}
	b, _, _ := proxy.GenerateAgentToken()
	if a == b || len(a) < 40 || proxy.HashAgentToken(a) != ha || !bytes.HasPrefix([]byte(a), []byte("cra_")) {
		t.Errorf("tokens %q %q (hash %s) are not fresh, long, prefixed and hashed", a, b, ha)
	}
}

// metricValue returns the value of the counter name with exactly these labels (0
// when there is no such series).
func metricValue(t *testing.T, h *harness, name string, labels map[string]string) float64 {
	t.Helper()
	return sample(t, h, name, labels).GetCounter().GetValue()
}
