package proxy_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloakroom/cloakroom/configs"
	"github.com/cloakroom/cloakroom/internal/audit"
	"github.com/cloakroom/cloakroom/proxy"
	"github.com/cloakroom/cloakroom/resolver"
	"github.com/cloakroom/cloakroom/tokenize"
)

const testAdminToken = "test-admin-token-0123456789"

// egressRig is a proxy with the built-in Rego policy, an embedded approval store
// and the admin API, in front of the fake upstream (which also plays api.github.com).
type egressRig struct {
	*harness
	policy    *resolver.Engine
	approvals *resolver.BoltApprovals
	admin     *httptest.Server
}

func newEgressRig(t *testing.T, hold time.Duration, opts ...func(*harnessOpts)) *egressRig {
	t.Helper()
	engine := resolver.NewEngine(resolver.EngineOptions{})
	if err := engine.Load("configs/policy.rego", configs.Policy); err != nil {
		t.Fatal(err)
	}
	apr, err := resolver.NewBoltApprovals(filepath.Join(t.TempDir(), "approvals.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = apr.Close() })
	ho := harnessOpts{
		cfg:       proxy.Config{Intercept: []string{"api.anthropic.com"}, ApprovalHold: hold, AdminToken: testAdminToken},
		policy:    engine,
		approvals: apr,
	}
	for _, o := range opts {
		o(&ho)
	}
	h := newHarness(t, ho)
	if err := h.p.SetEgressHosts(engine.EgressHosts()); err != nil {
		t.Fatal(err)
	}
	h.injectHost = "api.github.com"
	r := &egressRig{harness: h, policy: engine, approvals: apr}
	r.admin = newServer(t, h.p.AdminHandler(h.reg))
	return r
}

// submit sends secret in a prompt through the proxy as principal and returns the
// token the upstream saw instead.
func (r *egressRig) submit(principal, secret string) string {
	r.t.Helper()
	body, _ := json.Marshal(map[string]any{
		"model": "claude-sonnet-4-5", "max_tokens": 10,
		"messages": []any{map[string]any{"role": "user", "content": "GITHUB_TOKEN=" + secret}},
	})
	resp, _ := post(r.t, r.client(principal), "https://api.anthropic.com/v1/messages", nil, body)
	if resp.StatusCode != 200 {
		r.t.Fatalf("model request: status %d", resp.StatusCode)
	}
	spans := tokenize.Find(r.up.Last().Body)
	if len(spans) != 1 {
		r.t.Fatalf("upstream saw %d tokens, want 1", len(spans))
	}
	return spans[0].Token.String()
}

// github calls GET https://api.github.com/user through the proxy with auth as
// the Authorization header.
func (r *egressRig) github(principal, auth string) (*http.Response, []byte) {
	r.t.Helper()
	req, _ := http.NewRequest("GET", "https://api.github.com/user", nil)
	req.Header.Set("Authorization", auth)
	resp, err := r.client(principal).Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// githubCalls counts the requests that reached the fake api.github.com.
func (r *egressRig) githubCalls() []string {
	var auths []string
	for _, q := range r.up.Requests() {
		if q.Path == "/user" {
			auths = append(auths, q.Header.Get("Authorization"))
		}
	}
	return auths
}

// adminCall calls the admin API with the given headers.
func (r *egressRig) adminCall(method, path string, header http.Header, body string) (int, []byte) {
	r.t.Helper()
	req, _ := http.NewRequest(method, r.admin.URL+path, strings.NewReader(body))
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (r *egressRig) approve(id, body string) resolver.Approval {
	r.t.Helper()
	code, b := r.adminCall("POST", "/v1/approvals/"+id+"/approve", http.Header{"Authorization": {"Bearer " + testAdminToken}}, body)
	if code != 200 {
		r.t.Fatalf("approve %s: %d %s", id, code, b)
	}
	var a resolver.Approval
	if err := json.Unmarshal(b, &a); err != nil {
		r.t.Fatal(err)
	}
	return a
}

// decisions returns the decision records of the audit trail.
func (r *egressRig) decisions() []audit.Decision {
	r.drain()
	var out []audit.Decision
	for _, line := range strings.Split(strings.TrimSpace(r.audit.String()), "\n") {
		var d audit.Decision
		if json.Unmarshal([]byte(line), &d) == nil && d.Type == audit.TypeDecision {
			out = append(out, d)
		}
	}
	return out
}

func countEvents(ds []audit.Decision, event string) int {
	n := 0
	for _, d := range ds {
		if d.Event == event {
			n++
		}
	}
	return n
}

func TestEgressNeedsApprovalThenInjectsOnce(t *testing.T) {
	r := newEgressRig(t, 0)
	secret := githubToken(t)
	r.plant(secret)
	tok := r.submit("alice", secret)

	// Refused, nothing sent, an approval is pending.
	resp, body := r.github("alice", "Bearer "+tok)
	id := resp.Header.Get("X-Cloakroom-Approval")
	if resp.StatusCode != http.StatusForbidden || !strings.HasPrefix(id, "apr_") {
		t.Fatalf("got %d approval %q (%s), want 403 naming an approval", resp.StatusCode, id, body)
	}
	if !bytes.Contains(body, []byte("cloakroom approvals approve "+id)) {
		t.Fatalf("refusal does not say how to approve: %s", body)
	}
	if n := len(r.githubCalls()); n != 0 {
		t.Fatalf("%d requests reached the upstream before approval", n)
	}
	// The same request again names the same pending approval.
	if resp, _ := r.github("alice", "Bearer "+tok); resp.Header.Get("X-Cloakroom-Approval") != id {
		t.Fatalf("retry named approval %q, want the pending %q", resp.Header.Get("X-Cloakroom-Approval"), id)
	}

	a := r.approve(id, `{"by":"secops","note":"checking the deploy"}`)
	if a.Status != resolver.Granted || a.Grant == nil || !a.Grant.Once {
		t.Fatalf("got %+v, want a one-shot grant", a)
	}

	// The retry goes through with the value; the agent sees the token back.
	resp, body = r.github("alice", "Bearer "+tok)
	if resp.StatusCode != 200 {
		t.Fatalf("after approval: %d %s", resp.StatusCode, body)
	}
	calls := r.githubCalls()
	if len(calls) != 1 || calls[0] != "Bearer "+secret {
		t.Fatalf("upstream saw %d calls, want 1 with the real value", len(calls))
	}
	if !bytes.Contains(body, []byte(`"authorization": "Bearer `+tok)) && !bytes.Contains(body, []byte(`"authorization":"Bearer `+tok)) {
		t.Fatalf("the response echoing the credential must carry the token back: %s", body)
	}
	// One-shot: spent.
	resp, _ = r.github("alice", "Bearer "+tok)
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("X-Cloakroom-Approval") == id {
		t.Fatalf("after the one use: %d approval %q, want 403 with a new approval", resp.StatusCode, resp.Header.Get("X-Cloakroom-Approval"))
	}
	// Another principal is refused.
	resp, _ = r.github("bob", "Bearer "+tok)
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("bob: got %d, want 403", resp.StatusCode)
	}
	if n := len(r.githubCalls()); n != 1 {
		t.Fatalf("upstream saw %d calls, want still 1", n)
	}

	ds := r.decisions()
	for event, want := range map[string]int{"approval_requested": 3, "granted": 1, "grant_used": 1} {
		if got := countEvents(ds, event); got != want {
			t.Errorf("audit: %d %s records, want %d", got, event, want)
		}
	}
	for _, d := range ds {
		if d.Policy == "" || !strings.HasPrefix(d.Policy, "sha256:") {
			t.Errorf("decision %s without the policy version: %q", d.Event, d.Policy)
		}
	}
	if got := countEvents(ds, "allow"); got < 1 { // alice's own restore in the model response
		t.Errorf("audit: no allow record")
	}
}

func TestEgressTimeBoundGrant(t *testing.T) {
	r := newEgressRig(t, 0)
	secret := githubToken(t)
	r.plant(secret)
	tok := r.submit("alice", secret)
	resp, _ := r.github("alice", "token "+tok)
	r.approve(resp.Header.Get("X-Cloakroom-Approval"), `{"for":"15m"}`)
	for i := range 3 {
		if resp, b := r.github("alice", "token "+tok); resp.StatusCode != 200 {
			t.Fatalf("use %d of a 15m grant: %d %s", i, resp.StatusCode, b)
		}
	}
	if n := len(r.githubCalls()); n != 3 {
		t.Fatalf("upstream saw %d calls, want 3", n)
	}
}

func TestEgressHeldRequestProceedsOnGrant(t *testing.T) {
	r := newEgressRig(t, 30*time.Second)
	secret := githubToken(t)
	r.plant(secret)
	tok := r.submit("alice", secret)
	type result struct {
		code int
		body []byte
	}
	done := make(chan result, 1)
	go func() {
		req, _ := http.NewRequest("GET", "https://api.github.com/user", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := r.client("alice").Do(req)
		if err != nil {
			done <- result{code: -1, body: []byte(err.Error())}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		done <- result{resp.StatusCode, b}
	}()
	// Wait (bounded) for the held request's approval to show up, then grant it.
	var id string
	for i := 0; i < 500 && id == ""; i++ {
		code, b := r.adminCall("GET", "/v1/approvals?status=pending", http.Header{"Authorization": {"Bearer " + testAdminToken}}, "")
		var list []resolver.Approval
		if code == 200 && json.Unmarshal(b, &list) == nil && len(list) == 1 {
			id = list[0].ID
			if list[0].Principal != "alice" || list[0].Token != tok || list[0].Host != "api.github.com" {
				t.Fatalf("pending approval %+v does not describe the request", list[0])
			}
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if id == "" {
		t.Fatal("no pending approval appeared")
	}
	select {
	case res := <-done:
		t.Fatalf("the request did not wait for the approval: %d %s", res.code, res.body)
	default:
	}
	r.approve(id, "")
	res := <-done
	if res.code != 200 {
		t.Fatalf("held request: %d %s", res.code, res.body)
	}
	if calls := r.githubCalls(); len(calls) != 1 || calls[0] != "Bearer "+secret {
		t.Fatalf("upstream saw %d calls, want 1 with the value", len(calls))
	}
}

func TestLeakGuardBlocksKnownValue(t *testing.T) {
	r := newEgressRig(t, 0)
	secret := githubToken(t)
	r.plant(secret)
	r.submit("alice", secret) // now a known value

	for _, tc := range []struct {
		name string
		send func() *http.Response
	}{
		{"header", func() *http.Response { resp, _ := r.github("alice", "Bearer "+secret); return resp }},
		{"json body", func() *http.Response {
			resp, _ := post(t, r.client("alice"), "https://api.github.com/v1/echo-raw", nil, []byte(`{"note":"token is `+secret+`"}`))
			return resp
		}},
		{"escaped json body", func() *http.Response {
			esc := strings.ReplaceAll(secret, "_", `\u005f`)
			resp, _ := post(t, r.client("alice"), "https://api.github.com/v1/echo-raw", nil, []byte(`{"note":"`+esc+`"}`))
			return resp
		}},
		{"query", func() *http.Response {
			resp, err := r.client("alice").Get("https://api.github.com/user?access_token=" + secret)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp
		}},
		{"percent-encoded query beside a bad escape", func() *http.Response {
			var enc strings.Builder
			for _, c := range []byte(secret) {
				fmt.Fprintf(&enc, "%%%02X", c)
			}
			resp, err := r.client("alice").Get("https://api.github.com/user?x=%zz&t=" + enc.String())
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp
		}},
		{"basic auth", func() *http.Response {
			resp, _ := r.github("alice", "Basic "+base64.StdEncoding.EncodeToString([]byte("x-access-token:"+secret)))
			return resp
		}},
		{"path", func() *http.Response {
			resp, err := r.client("alice").Get("https://api.github.com/repos/" + secret + "/hooks")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := tc.send()
			if resp.StatusCode != http.StatusForbidden || resp.Header.Get("X-Cloakroom-Error") != "leak_guard" {
				t.Fatalf("got %d %q, want 403 leak_guard", resp.StatusCode, resp.Header.Get("X-Cloakroom-Error"))
			}
		})
	}
	if n := len(r.up.Requests()); n != 1 { // the model request only
		t.Fatalf("upstream saw %d requests, want only the model request", n)
	}
	// A body that looks like JSON but does not parse cannot be checked: refused.
	if resp, _ := post(t, r.client("alice"), "https://api.github.com/v1/echo-raw", nil, []byte(`{"note":"\u0067hp_`)); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("unparsable JSON body: got %d, want 400", resp.StatusCode)
	}
	// A value the vault does not hold passes: the guard is about known secrets.
	if resp, _ := r.github("alice", "Bearer "+githubToken(t)); resp.StatusCode != 200 {
		t.Fatalf("unknown value: got %d, want 200", resp.StatusCode)
	}
}

func TestPolicyReloadChangesEgress(t *testing.T) {
	r := newEgressRig(t, 0)
	secret := githubToken(t)
	r.plant(secret)
	tok := r.submit("alice", secret)
	if resp, _ := r.github("alice", "Bearer "+tok); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("default policy: got %d, want 403", resp.StatusCode)
	}
	noApproval := bytes.Replace(configs.Policy, []byte(`"approval": true`), []byte(`"approval": false`), 1)
	if bytes.Equal(noApproval, configs.Policy) {
		t.Fatal("the default policy no longer has the rule this test edits")
	}
	if err := r.policy.Load("edited.rego", noApproval); err != nil {
		t.Fatal(err)
	}
	if resp, b := r.github("alice", "Bearer "+tok); resp.StatusCode != 200 {
		t.Fatalf("after reload without approval: %d %s", resp.StatusCode, b)
	}
	// A broken edit keeps the last good policy.
	if err := r.policy.Load("broken.rego", []byte("package cloakroom\ndecision := {")); err == nil {
		t.Fatal("a broken policy loaded")
	}
	if resp, _ := r.github("alice", "Bearer "+tok); resp.StatusCode != 200 {
		t.Fatalf("after a broken reload: got %d, want the last good policy's 200", resp.StatusCode)
	}
}

func TestAdminAPIRefusesAgents(t *testing.T) {
	r := newEgressRig(t, 0)
	secret := githubToken(t)
	r.plant(secret)
	tok := r.submit("alice", secret)
	resp, _ := r.github("alice", "Bearer "+tok)
	id := resp.Header.Get("X-Cloakroom-Approval")
	path := "/v1/approvals/" + id + "/approve"
	for _, tc := range []struct {
		name   string
		header http.Header
		want   int
	}{
		{"no credentials", nil, 401},
		{"agent password as bearer", http.Header{"Authorization": {"Bearer agent-password"}}, 401},
		{"admin token with proxy credentials", http.Header{"Authorization": {"Bearer " + testAdminToken}, "Proxy-Authorization": {"Basic YWxpY2U6eA=="}}, 403},
		{"admin token with the agent header", http.Header{"Authorization": {"Bearer " + testAdminToken}, proxy.AgentHeader: {"alice:x"}}, 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if code, b := r.adminCall("POST", path, tc.header, ""); code != tc.want {
				t.Fatalf("got %d %s, want %d", code, b, tc.want)
			}
		})
	}
	// Through the proxy itself, even with the admin token, the admin API is out of reach.
	r.p.SetAdminAddr(strings.TrimPrefix(r.admin.URL, "http://"))
	req, _ := http.NewRequest("POST", r.admin.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	resp, err := r.client("alice").Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("admin call through the proxy: got %d, want 403", resp.StatusCode)
	}
	if code, b := r.adminCall("GET", "/v1/approvals/"+id, http.Header{"Authorization": {"Bearer " + testAdminToken}}, ""); code != 200 || !bytes.Contains(b, []byte(`"status": "pending"`)) {
		t.Fatalf("the approval must still be pending: %d %s", code, b)
	}
}

func TestRestoreDeniedToOtherPrincipalIsAudited(t *testing.T) {
	r := newEgressRig(t, 0)
	secret := githubToken(t)
	r.plant(secret)
	tok := r.submit("alice", secret)
	body, _ := json.Marshal(map[string]any{
		"model": "claude-sonnet-4-5", "max_tokens": 10,
		"messages": []any{map[string]any{"role": "user", "content": "echo " + tok}},
	})
	var wg sync.WaitGroup
	for _, who := range []string{"alice", "bob"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, b := post(t, r.client(who), "https://api.anthropic.com/v1/messages", nil, body)
			restored := bytes.Contains(b, []byte(secret))
			if resp.StatusCode != 200 || restored != (who == "alice") {
				t.Errorf("%s: status %d, restored %v", who, resp.StatusCode, restored)
			}
		}()
	}
	wg.Wait()
	ds := r.decisions()
	var sawDeny bool
	for _, d := range ds {
		if d.Event == "deny" && d.Principal == "bob" && d.Direction == "restore" && d.Token == tok {
			sawDeny = true
		}
	}
	if !sawDeny {
		t.Fatalf("no audit record of bob's denied restore in %d decisions", len(ds))
	}
}

func TestResolveAPI(t *testing.T) {
	r := newEgressRig(t, 0)
	secret := githubToken(t)
	r.plant(secret)
	tok := r.submit("alice", secret)
	resolve := func(who, body string) (int, map[string]string) {
		t.Helper()
		req, _ := http.NewRequest("POST", r.srv.URL+proxy.ResolvePath, strings.NewReader(body))
		req.Header.Set(proxy.AgentHeader, who+":x")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]string
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	code, out := resolve("alice", `{"token":"`+tok+`","host":"api.github.com"}`)
	if code != 403 || !strings.HasPrefix(out["approval"], "apr_") || out["value"] != "" {
		t.Fatalf("before approval: %d %v", code, out)
	}
	r.approve(out["approval"], "")
	if code, out := resolve("bob", `{"token":"`+tok+`","host":"api.github.com"}`); code != 403 || out["value"] != "" {
		t.Fatalf("bob after alice's grant: %d", code)
	}
	if code, out := resolve("alice", `{"token":"`+tok+`","host":"api.github.com"}`); code != 200 || out["value"] != secret {
		t.Fatalf("after approval: %d, value returned: %v", code, out["value"] == secret)
	}
	if code, out := resolve("alice", `{"token":"`+tok+`","host":"evil.example.com"}`); code != 403 || out["approval"] != "" {
		t.Fatalf("another host: %d %v, want a plain denial", code, out)
	}
	for _, body := range []string{`{"token":"not-a-token","host":"api.github.com"}`, `{"token":"` + tok + `"}`, `nope`} {
		if code, _ := resolve("alice", body); code != 400 {
			t.Fatalf("%s: got %d, want 400", body, code)
		}
	}
	if code, _ := resolve("alice", `{"token":"cloak_github_aaaaaaaaaaaaaaaaaaaa","host":"api.github.com"}`); code != 404 {
		t.Fatalf("unknown token: got %d, want 404", code)
	}
	// A secret given as the host is refused before it can reach the audit record or
	// the policy (the harness greps logs, audit and metrics for planted values).
	other := githubToken(t)
	r.plant(other)
	if code, out := resolve("alice", `{"token":"`+tok+`","host":"`+other+`.example.com"}`); code != 400 || strings.Contains(out["error"], other) {
		t.Fatalf("a secret as the host: got %d %v, want 400 without it", code, out)
	}
}

func TestApprovalWebhook(t *testing.T) {
	got := make(chan []byte, 4)
	hook := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Method == "POST" && r.Header.Get("Content-Type") == "application/json" {
			got <- b
		}
	}))
	r := newEgressRig(t, 0, func(o *harnessOpts) { o.cfg.ApprovalWebhook = hook.URL + "/hooks/T000/B000/s3cr3t-path" })
	secret := githubToken(t)
	r.plant(secret, "s3cr3t-path")
	tok := r.submit("alice", secret)
	resp, _ := r.github("alice", "Bearer "+tok)
	id := resp.Header.Get("X-Cloakroom-Approval")
	r.github("alice", "Bearer "+tok) // the same pending approval: not announced again
	var msg struct {
		Text     string            `json:"text"`
		Approval resolver.Approval `json:"approval"`
	}
	select {
	case b := <-got:
		if err := json.Unmarshal(b, &msg); err != nil {
			t.Fatalf("webhook body is not JSON: %v", err)
		}
		if bytes.Contains(b, []byte(secret)) {
			t.Fatal("the webhook carried the secret")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no webhook call")
	}
	if msg.Approval.ID != id || !strings.Contains(msg.Text, id) || !strings.Contains(msg.Text, "cloakroom approvals approve "+id) || !strings.Contains(msg.Text, tok) {
		t.Fatalf("webhook text %q does not describe approval %s", msg.Text, id)
	}
	r.drain() // waits for the requests, not for a webhook goroutine they started
	select {
	case <-got:
		t.Fatal("the same pending approval was announced twice")
	case <-time.After(300 * time.Millisecond):
	}
	if _, err := proxy.New(proxy.Config{ApprovalWebhook: "ftp://hooks.example/s3cr3t-path"}, proxy.Deps{}); err == nil || strings.Contains(err.Error(), "s3cr3t") {
		t.Fatalf("a bad webhook URL: got %v, want an error that does not echo it", err)
	}
}

func TestEgressFailsClosedWhenApprovalsAreDown(t *testing.T) {
	r := newEgressRig(t, 0)
	secret := githubToken(t)
	r.plant(secret)
	tok := r.submit("alice", secret)
	if err := r.approvals.Close(); err != nil {
		t.Fatal(err)
	}
	resp, body := r.github("alice", "Bearer "+tok)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("X-Cloakroom-Error") != "approvals" {
		t.Fatalf("got %d %q (%s), want 503 approvals", resp.StatusCode, resp.Header.Get("X-Cloakroom-Error"), body)
	}
	if n := len(r.githubCalls()); n != 0 {
		t.Fatalf("%d requests reached the upstream", n)
	}
}
