package proxy_test

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cloakroom/cloakroom/proxy"
	"github.com/cloakroom/cloakroom/tokenize"
)

// postKnown calls the known-values API with the given header and body.
func postKnown(t *testing.T, h *harness, header http.Header, body string) (int, proxy.KnownAnswer, string) {
	t.Helper()
	req, err := http.NewRequest("POST", h.srv.URL+proxy.KnownPath, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, b := doRaw(t, req)
	var ans proxy.KnownAnswer
	_ = json.Unmarshal(b, &ans)
	return resp.StatusCode, ans, string(b)
}

func doRaw(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func knownBody(values ...proxy.KnownValue) string {
	b, _ := json.Marshal(proxy.KnownRequest{Values: values})
	return string(b)
}

// TestKnownAPI: registered values are tokenized wherever they appear, with the
// detector's class when a rule recognises them and "secret" otherwise; the answer
// holds counts only.
func TestKnownAPI(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	plain := randomFrom(t, "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789", 24)
	unnamed := randomFrom(t, "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789", 24)
	gh := githubToken(t)
	h.plant(plain, unnamed, gh)
	tok := h.tokenFor("some other value")
	code, ans, raw := postKnown(t, h, nil, knownBody(
		proxy.KnownValue{Name: "MY_SERVICE_TOKEN", Value: plain},
		proxy.KnownValue{Name: "GITHUB_TOKEN", Value: gh},
		proxy.KnownValue{Value: unnamed},
		proxy.KnownValue{Name: "SHORT_TOKEN", Value: "abc123"},
		proxy.KnownValue{Name: "BLANK_TOKEN", Value: "          "},
		proxy.KnownValue{Name: "A_TOKEN", Value: "prefix " + tok},
	))
	if code != 200 || ans.Registered != 3 || ans.Skipped != 3 {
		t.Fatalf("got %d %+v, want 200 with 3 registered and 3 skipped", code, ans)
	}
	for _, v := range []string{plain, unnamed, gh, "MY_SERVICE_TOKEN", "cloak_"} {
		if strings.Contains(raw, v) {
			t.Errorf("the answer %s carries a value, a name or a token", raw)
		}
	}
	tests := []struct {
		name, value, class, rule string
	}{
		{name: "no rule matches", value: plain, class: proxy.KnownClass, rule: "env:MY_SERVICE_TOKEN"},
		{name: "no name", value: unnamed, class: proxy.KnownClass, rule: proxy.KnownRuleID},
		{name: "a rule matches", value: gh, class: "github"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := h.vault.LookupValue(context.Background(), []byte(tt.value))
			if err != nil {
				t.Fatal(err)
			}
			e.Value.Zero()
			if e.Class != tt.class || tt.rule != "" && e.Rule != tt.rule || strings.HasPrefix(e.Rule, "env:") != strings.HasPrefix(tt.rule, "env:") {
				t.Errorf("got class %s rule %s, want class %s rule %s", e.Class, e.Rule, tt.class, tt.rule)
			}
			if !slices.Contains(e.Submitters, proxy.DefaultPrincipal) {
				t.Errorf("submitters %v lack the caller", e.Submitters)
			}
		})
	}
	// In prose, where no pattern would find them, the values are tokens upstream
	// and come back restored to the agent that registered them.
	prompt := "the billing service answers to " + plain + " and the other one to " + unnamed + "."
	body, _ := json.Marshal(map[string]any{"model": "claude-sonnet-4-5", "max_tokens": 10,
		"messages": []any{map[string]any{"role": "user", "content": prompt}}})
	resp, out := post(t, h.client(""), "https://api.anthropic.com/v1/messages", nil, body)
	if resp.StatusCode != 200 {
		t.Fatalf("model request: %d %s", resp.StatusCode, out)
	}
	if n := len(tokenize.Find(h.up.Last().Body)); n != 2 {
		t.Errorf("upstream body holds %d tokens, want 2", n)
	}
	if !strings.Contains(string(out), plain) {
		t.Error("the echo was not restored")
	}
	if got := metricValue(t, h, "cloakroom_known_registrations_total", map[string]string{"result": "registered"}); got != 3 {
		t.Errorf("registered metric: got %v, want 3", got)
	}
	if got := metricValue(t, h, "cloakroom_known_registrations_total", map[string]string{"result": "skipped"}); got != 3 {
		t.Errorf("skipped metric: got %v, want 3", got)
	}
}

func TestKnownAPIRefusals(t *testing.T) {
	agents := []proxy.Agent{{Name: "ci-bot", TokenSHA256: proxy.HashAgentToken("agent-password")}}
	h := newHarness(t, harnessOpts{cfg: proxy.Config{Agents: agents, RequireAuth: true}})
	good := http.Header{proxy.AgentHeader: {"ci-bot:agent-password"}}
	value := randomFrom(t, "abcdefghijkmnpqrstuvwxyz23456789", 24)
	h.plant(value)
	tooMany := make([]proxy.KnownValue, proxy.KnownMaxValues+1)
	for i := range tooMany {
		tooMany[i] = proxy.KnownValue{Value: "x"}
	}
	tests := []struct {
		name     string
		method   string
		header   http.Header
		body     string
		wantCode int
		wantErr  string
	}{
		{name: "GET", method: "GET", header: good, wantCode: 405, wantErr: "use POST"},
		{name: "no credentials", header: nil, body: knownBody(), wantCode: 401, wantErr: "requires agent credentials"},
		{name: "wrong token", header: http.Header{proxy.AgentHeader: {"ci-bot:nope"}}, body: knownBody(), wantCode: 401, wantErr: "refused"},
		{name: "not JSON", header: good, body: "values=x", wantCode: 400, wantErr: "must be JSON"},
		{name: "unknown field", header: good, body: `{"values":[],"extra":1}`, wantCode: 400, wantErr: "must be JSON"},
		{name: "bad name", header: good, body: knownBody(proxy.KnownValue{Name: "A-B", Value: value}), wantCode: 400, wantErr: "environment variable"},
		{name: "too many", header: good, body: knownBody(tooMany...), wantCode: 413, wantErr: "at most"},
		{name: "proxy credentials", header: http.Header{"Proxy-Authorization": {"Basic Y2ktYm90OmFnZW50LXBhc3N3b3Jk"}}, body: knownBody(proxy.KnownValue{Name: "V", Value: value}), wantCode: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(cmp.Or(tt.method, "POST"), h.srv.URL+proxy.KnownPath, strings.NewReader(tt.body))
			for k, v := range tt.header {
				req.Header[k] = v
			}
			resp, b := doRaw(t, req)
			var ans proxy.KnownAnswer
			_ = json.Unmarshal(b, &ans)
			if resp.StatusCode != tt.wantCode || !strings.Contains(ans.Error, tt.wantErr) {
				t.Fatalf("got %d %q, want %d mentioning %q", resp.StatusCode, ans.Error, tt.wantCode, tt.wantErr)
			}
		})
	}
	e, err := h.vault.LookupValue(context.Background(), []byte(value))
	if err != nil {
		t.Fatal(err)
	}
	e.Value.Zero()
	if !slices.Equal(e.Submitters, []string{"ci-bot"}) {
		t.Errorf("submitters: got %v, want the authenticated agent", e.Submitters)
	}
}

// failingStore fails every Put, after delay: the vault is down (or times out).
type failingStore struct {
	tokenize.Store
	delay time.Duration
}

func (f failingStore) Put(context.Context, tokenize.Record, string) (tokenize.Record, error) {
	time.Sleep(f.delay)
	return tokenize.Record{}, errors.New("store unreachable")
}

func TestKnownAPIVaultDown(t *testing.T) {
	s, err := tokenize.OpenBolt(filepath.Join(t.TempDir(), "vault.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	h := newHarness(t, harnessOpts{store: failingStore{Store: s}})
	value := randomFrom(t, "abcdefghijkmnpqrstuvwxyz23456789", 24)
	h.plant(value)
	code, ans, _ := postKnown(t, h, nil, knownBody(proxy.KnownValue{Name: "V_TOKEN", Value: value}))
	if code != 503 || ans.Registered != 0 || !strings.Contains(ans.Error, "vault") {
		t.Fatalf("got %d %+v, want 503 naming the vault", code, ans)
	}
	if got := metricValue(t, h, "cloakroom_vault_errors_total", nil); got != 1 {
		t.Errorf("vault errors: got %v, want 1", got)
	}
}

// Each principal may send KnownPerHour values an hour; past that, 429, and other
// principals are not affected.
func TestKnownAPIQuota(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	batch := make([]proxy.KnownValue, proxy.KnownMaxValues)
	for i := range batch {
		batch[i] = proxy.KnownValue{Value: "short"} // skipped: cheap, still counted
	}
	send := func(who string, vs ...proxy.KnownValue) int {
		t.Helper()
		req, _ := http.NewRequest("POST", h.srv.URL+proxy.KnownPath, strings.NewReader(knownBody(vs...)))
		req.Header.Set(proxy.AgentHeader, who+":x")
		resp, _ := doRaw(t, req)
		return resp.StatusCode
	}
	for i := 0; i < proxy.KnownPerHour/proxy.KnownMaxValues; i++ {
		if code := send("alice", batch...); code != 200 {
			t.Fatalf("call %d: got %d, want 200", i, code)
		}
	}
	if code := send("alice", proxy.KnownValue{Value: "short"}); code != http.StatusTooManyRequests {
		t.Fatalf("over the quota: got %d, want 429", code)
	}
	if code := send("bob", proxy.KnownValue{Value: "short"}); code != 200 {
		t.Fatalf("another principal: got %d, want 200", code)
	}
}
