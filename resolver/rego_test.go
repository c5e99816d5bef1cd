package resolver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloakroom/cloakroom/configs"
)

// regoPolicy builds a policy source in package cloakroom from its body.
func regoPolicy(body string) []byte {
	return []byte("package cloakroom\n\n" + body + "\n")
}

// regoAllowAll is a small valid policy, distinct from the default.
var regoAllowAll = regoPolicy(`decision := {"effect": "allow", "reason": "allow all"}`)

// regoBroken has a syntax error on line 3.
var regoBroken = regoPolicy("decision := {\"effect\": }\n\nx := 1")

func defaultRegoEngine(t testing.TB) *Engine {
	t.Helper()
	e := NewEngine(EngineOptions{})
	if err := e.Load("policy.rego", configs.Policy); err != nil {
		t.Fatalf("load default policy: %v", err)
	}
	return e
}

func mustLoadRego(t *testing.T, e *Engine, name string, src []byte) {
	t.Helper()
	if err := e.Load(name, src); err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
}

func TestEngineDefaultPolicy(t *testing.T) {
	e := defaultRegoEngine(t)
	gh := TokenInfo{ID: "abc", Token: "cloak_github_abc", Class: "github", Rule: "github-pat", Submitters: []string{"alice", "default"}}
	aws := TokenInfo{ID: "def", Token: "cloak_aws_def", Class: "aws", Rule: "aws-access-key", Submitters: []string{"alice"}}
	tests := []struct {
		name       string
		req        Request
		want       Effect
		wantReason string // a substring of the reason
	}{
		{name: "restore to submitter", req: Request{Principal: "alice", Direction: Restore, Host: "api.anthropic.com", Token: aws}, want: Allow, wantReason: "submitted"},
		{name: "restore to second submitter", req: Request{Principal: "default", Direction: Restore, Token: gh}, want: Allow, wantReason: "submitted"},
		{name: "restore to other principal", req: Request{Principal: "bob", Direction: Restore, Token: aws}, want: Deny, wantReason: "only to a principal that submitted"},
		{name: "restore to empty principal", req: Request{Direction: Restore, Token: TokenInfo{Class: "aws", Submitters: []string{""}}}, want: Deny, wantReason: "only to a principal"},
		{name: "restore without submitters", req: Request{Principal: "alice", Direction: Restore, Token: TokenInfo{Class: "aws"}}, want: Deny, wantReason: "only to a principal"},
		{name: "egress github to api.github.com", req: Request{Principal: "alice", Direction: Egress, Host: "api.github.com", Method: "GET", Path: "/user", Token: gh}, want: Approve, wantReason: `class "github" may go to host "api.github.com" after approval`},
		{name: "egress host case-insensitive", req: Request{Principal: "alice", Direction: Egress, Host: "API.GitHub.com", Token: gh}, want: Approve, wantReason: "after approval"},
		{name: "egress github elsewhere", req: Request{Principal: "alice", Direction: Egress, Host: "evil.example.com", Token: gh}, want: Deny, wantReason: `no egress rule lets class "github" go to host "evil.example.com"`},
		{name: "egress github to subdomain", req: Request{Principal: "alice", Direction: Egress, Host: "x.api.github.com", Token: gh}, want: Deny, wantReason: "no egress rule"},
		{name: "egress aws to api.github.com", req: Request{Principal: "alice", Direction: Egress, Host: "api.github.com", Token: aws}, want: Deny, wantReason: `class "aws"`},
		{name: "egress even for submitter with grant", req: Request{Principal: "alice", Direction: Egress, Host: "api.github.com", Token: gh,
			Grants: []Grant{{ID: "apr_1", TokenID: "abc", Principal: "alice", Direction: Egress, Host: "api.github.com", Once: true}}}, want: Approve, wantReason: "after approval"},
		{name: "api github to api.github.com", req: Request{Principal: "alice", Direction: API, Host: "api.github.com", Token: gh}, want: Approve, wantReason: "after approval"},
		{name: "api aws", req: Request{Principal: "alice", Direction: API, Host: "cloakroom.internal", Token: aws}, want: Deny, wantReason: "no egress rule"},
		{name: "unknown direction", req: Request{Principal: "alice", Direction: "sideways", Token: aws}, want: Deny, wantReason: "unknown direction"},
		{name: "empty request", req: Request{}, want: Deny, wantReason: "unknown direction"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := e.Decide(context.Background(), tt.req)
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if d.Effect != tt.want || !strings.Contains(d.Reason, tt.wantReason) {
				t.Fatalf("got %v (%q), want %v (reason containing %q)", d.Effect, d.Reason, tt.want, tt.wantReason)
			}
			if d.Policy != PolicyVersion(configs.Policy) {
				t.Fatalf("got policy %q, want %q", d.Policy, PolicyVersion(configs.Policy))
			}
		})
	}
	if got, want := e.EgressHosts(), []string{"api.github.com"}; !slices.Equal(got, want) {
		t.Fatalf("got egress hosts %q, want %q", got, want)
	}
}

// TestEngineDefaultPolicyRules checks the default policy's rules table through
// policies that keep its rules and change the table.
func TestEngineDefaultPolicyRules(t *testing.T) {
	const table = `egress_rules := [{"class": "github", "hosts": ["api.github.com"], "approval": true}]`
	if !strings.Contains(string(configs.Policy), table) {
		t.Fatalf("default policy has no line %s", table)
	}
	withRules := func(rules string) []byte {
		return []byte(strings.Replace(string(configs.Policy), table, "egress_rules := "+rules, 1))
	}
	tests := []struct {
		name      string
		rules     string
		class     string
		host      string
		want      Effect
		wantHosts []string
	}{
		{name: "approval false allows", rules: `[{"class": "slack", "hosts": ["slack.com"], "approval": false}]`, class: "slack", host: "slack.com", want: Allow, wantHosts: []string{"slack.com"}},
		{name: "approval omitted asks", rules: `[{"class": "slack", "hosts": ["slack.com"]}]`, class: "slack", host: "slack.com", want: Approve, wantHosts: []string{"slack.com"}},
		{name: "approval not a boolean asks", rules: `[{"class": "slack", "hosts": ["slack.com"], "approval": "no"}]`, class: "slack", host: "slack.com", want: Approve, wantHosts: []string{"slack.com"}},
		{name: "wildcard matches subdomain", rules: `[{"class": "aws", "hosts": ["*.amazonaws.com"], "approval": false}]`, class: "aws", host: "s3.amazonaws.com", want: Allow, wantHosts: []string{"*.amazonaws.com"}},
		{name: "wildcard skips apex", rules: `[{"class": "aws", "hosts": ["*.amazonaws.com"], "approval": false}]`, class: "aws", host: "amazonaws.com", want: Deny, wantHosts: []string{"*.amazonaws.com"}},
		{name: "wildcard skips lookalike", rules: `[{"class": "aws", "hosts": ["*.amazonaws.com"], "approval": false}]`, class: "aws", host: "evilamazonaws.com", want: Deny, wantHosts: []string{"*.amazonaws.com"}},
		{name: "one rule without approval wins", rules: `[{"class": "gh", "hosts": ["a.com"]}, {"class": "gh", "hosts": ["A.com", "b.com"], "approval": false}]`, class: "gh", host: "a.com", want: Allow, wantHosts: []string{"a.com", "b.com"}},
		{name: "class must match", rules: `[{"class": "gh", "hosts": ["a.com"], "approval": false}]`, class: "aws", host: "a.com", want: Deny, wantHosts: []string{"a.com"}},
		{name: "no rules", rules: `[]`, class: "github", host: "api.github.com", want: Deny, wantHosts: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := NewEngine(EngineOptions{})
			mustLoadRego(t, e, "rules.rego", withRules(tt.rules))
			for _, dir := range []Direction{Egress, API} {
				d, err := e.Decide(context.Background(), Request{Principal: "alice", Direction: dir, Host: tt.host, Token: TokenInfo{Class: tt.class, Submitters: []string{"alice"}}})
				if err != nil || d.Effect != tt.want {
					t.Fatalf("%s: got %v (%q), %v, want %v", dir, d.Effect, d.Reason, err, tt.want)
				}
			}
			if got := e.EgressHosts(); !slices.Equal(got, tt.wantHosts) {
				t.Fatalf("got egress hosts %q, want %q", got, tt.wantHosts)
			}
		})
	}
}

func TestEngineNoPolicy(t *testing.T) {
	e := NewEngine(EngineOptions{})
	if e.Loaded() || e.Version() != "" || e.Name() != "" || e.EgressHosts() != nil {
		t.Fatalf("got loaded %v, version %q, name %q, hosts %q; want nothing loaded", e.Loaded(), e.Version(), e.Name(), e.EgressHosts())
	}
	for _, dir := range []Direction{Restore, Egress, API} {
		d, err := e.Decide(context.Background(), Request{Principal: "alice", Direction: dir, Token: TokenInfo{Submitters: []string{"alice"}}})
		if err != nil || d.Effect != Deny || d.Reason != ReasonNoPolicy || d.Policy != "" {
			t.Fatalf("%s: got %+v, %v; want deny %q", dir, d, err, ReasonNoPolicy)
		}
	}
	// A failed first load leaves the engine without a policy.
	if err := e.Load("bad.rego", []byte("package cloakroom\ndecision :=")); err == nil {
		t.Fatal("got no error loading a broken policy")
	}
	if d, _ := e.Decide(context.Background(), Request{Direction: Restore}); e.Loaded() || d.Reason != ReasonNoPolicy {
		t.Fatalf("got loaded %v, reason %q after a failed load; want no policy", e.Loaded(), d.Reason)
	}
}

func TestEngineLoadErrors(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		wantErr []string // substrings of the error
	}{
		{name: "syntax error", src: string(regoBroken), wantErr: []string{"bad.rego:3:", "rego_parse_error"}},
		{name: "rego v0 syntax", src: "package cloakroom\n\ndecision = x { x := 1 }\n", wantErr: []string{"bad.rego:3:", "rego_parse_error"}},
		{name: "wrong package", src: "package other\n\ndecision := 1\n", wantErr: []string{"bad.rego:1:", "package is other, want package cloakroom"}},
		{name: "sub-package", src: "package cloakroom.sub\n\ndecision := 1\n", wantErr: []string{"package is cloakroom.sub"}},
		{name: "no decision", src: "package cloakroom\n\nallow := true\n", wantErr: []string{"bad.rego", `no rule "decision"`}},
		{name: "strict unused variable", src: "package cloakroom\n\ndecision := 1 if {\n\tx := 2\n}\n", wantErr: []string{"bad.rego:4:", "assigned var x unused"}},
		{name: "strict unused import", src: "package cloakroom\n\nimport data.other\n\ndecision := 1\n", wantErr: []string{"bad.rego:3:", "unused"}},
		{name: "type error", src: "package cloakroom\n\ndecision := x if {\n\tx := upper(1)\n}\n", wantErr: []string{"bad.rego:4:", "rego_type_error"}},
		{name: "network built-in", src: "package cloakroom\n\ndecision := http.send({\"method\": \"GET\", \"url\": \"http://x\"})\n", wantErr: []string{"bad.rego:3:", "http.send", "network built-ins are disabled"}},
		{name: "conflicting egress_hosts", src: "package cloakroom\n\ndecision := 1\n\negress_hosts := [\"a.com\"]\n\negress_hosts := [\"b.com\"]\n", wantErr: []string{"bad.rego"}},
		{name: "egress_hosts not a collection", src: "package cloakroom\n\ndecision := 1\n\negress_hosts := \"a.com\"\n", wantErr: []string{"egress_hosts is a string, want a set or array"}},
		{name: "egress_hosts number", src: "package cloakroom\n\ndecision := 1\n\negress_hosts := [\"a.com\", 3]\n", wantErr: []string{"egress_hosts: a number is not a string"}},
		{name: "egress_hosts bad names", src: "package cloakroom\n\ndecision := 1\n\negress_hosts := {\"a b.com\", \"x.com:443\", \"a..com\", \"-a.com\", \"*.\", \"a.*.com\", \"https://a.com\"}\n",
			wantErr: []string{`"a b.com" is not a host name`, `"x.com:443"`, `"a..com"`, `"-a.com"`, `"*."`, `"a.*.com"`, `"https://a.com"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := NewEngine(EngineOptions{})
			mustLoadRego(t, e, "good.rego", regoAllowAll)
			err := e.Load("bad.rego", []byte(tt.src))
			if err == nil {
				t.Fatal("got no error, want one")
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("got error %q, want it to contain %q", err, want)
				}
			}
			// The last good policy stays.
			d, derr := e.Decide(context.Background(), Request{Direction: Egress})
			if derr != nil || d.Effect != Allow || d.Policy != PolicyVersion(regoAllowAll) || e.Version() != PolicyVersion(regoAllowAll) || e.Name() != "good.rego" {
				t.Fatalf("after the failed load got %+v, %v (version %q); want the good policy's allow", d, derr, e.Version())
			}
		})
	}
}

func TestEngineLoadFile(t *testing.T) {
	dir := t.TempDir()
	e := NewEngine(EngineOptions{})
	missing := filepath.Join(dir, "missing.rego")
	if err := e.LoadFile(missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Fatalf("got error %v, want one naming %s", err, missing)
	}
	bad := filepath.Join(dir, "bad.rego")
	writeRegoFile(t, bad, regoBroken)
	if err := e.LoadFile(bad); err == nil || !strings.Contains(err.Error(), bad+":3:") {
		t.Fatalf("got error %v, want one naming %s:3:", err, bad)
	}
	big := filepath.Join(dir, "big.rego")
	writeRegoFile(t, big, append(regoPolicy("decision := 1"), strings.Repeat("#", MaxPolicyBytes)...))
	if err := e.LoadFile(big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("got error %v, want a size error", err)
	}
	good := filepath.Join(dir, "policy.rego")
	writeRegoFile(t, good, configs.Policy)
	if err := e.LoadFile(good); err != nil {
		t.Fatal(err)
	}
	if e.Name() != good || e.Version() != PolicyVersion(configs.Policy) {
		t.Fatalf("got name %q version %q, want %q %q", e.Name(), e.Version(), good, PolicyVersion(configs.Policy))
	}
}

func TestEngineMalformedDecision(t *testing.T) {
	tests := []struct {
		name       string
		body       string
		want       Effect
		wantReason string
		wantErr    bool
	}{
		{name: "undefined", body: `decision := 1 if input.nothing`, want: Deny, wantReason: "policy decision is undefined"},
		{name: "string", body: `decision := "allow"`, want: Deny, wantReason: "policy decision is a string, want an object"},
		{name: "array", body: `decision := ["allow"]`, want: Deny, wantReason: "policy decision is an array, want an object"},
		{name: "no effect", body: `decision := {"reason": "x"}`, want: Deny, wantReason: "no effect string"},
		{name: "effect not a string", body: `decision := {"effect": true, "reason": "x"}`, want: Deny, wantReason: "no effect string"},
		{name: "unknown effect", body: `decision := {"effect": "Allow", "reason": "x"}`, want: Deny, wantReason: `unknown effect "Allow"`},
		{name: "long unknown effect clipped", body: `decision := {"effect": "` + strings.Repeat("a", 100) + `", "reason": "x"}`, want: Deny, wantReason: `unknown effect "` + strings.Repeat("a", 32) + `…"`},
		{name: "reason not a string", body: `decision := {"effect": "allow", "reason": 7}`, want: Deny, wantReason: "reason is a number, want a string"},
		{name: "no reason", body: `decision := {"effect": "allow"}`, want: Allow, wantReason: "policy gave no reason"},
		{name: "null reason", body: `decision := {"effect": "approve", "reason": null}`, want: Approve, wantReason: "policy gave no reason"},
		{name: "extra members", body: `decision := {"effect": "approve", "reason": "r", "rule": 3}`, want: Approve, wantReason: "r"},
		{name: "conflict", body: "decision := {\"effect\": \"allow\"}\n\ndecision := {\"effect\": \"deny\"} if input.direction", want: Deny, wantReason: "policy evaluation failed", wantErr: true},
		{name: "built-in error", body: `decision := {"effect": "allow", "reason": sprintf("%d", [to_number(input.direction)])}`, want: Deny, wantReason: "policy evaluation failed", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := NewEngine(EngineOptions{})
			src := regoPolicy(tt.body)
			mustLoadRego(t, e, "p.rego", src)
			d, err := e.Decide(context.Background(), Request{Direction: "x"})
			if (err != nil) != tt.wantErr {
				t.Fatalf("got error %v, want error %v", err, tt.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), "p.rego") {
				t.Errorf("got error %q, want it to name p.rego", err)
			}
			if d.Effect != tt.want || !strings.Contains(d.Reason, tt.wantReason) || d.Policy != PolicyVersion(src) {
				t.Fatalf("got %+v, want %v (reason containing %q), policy %s", d, tt.want, tt.wantReason, PolicyVersion(src))
			}
		})
	}
}

func TestEngineLongReason(t *testing.T) {
	e := NewEngine(EngineOptions{})
	// "a" then two-byte runes: the cut at maxReasonLen (even) falls inside a rune.
	mustLoadRego(t, e, "p.rego", regoPolicy(`decision := {"effect": "deny", "reason": concat("", array.concat(["a"], [x | some _ in numbers.range(1, 600); x := "é"]))}`))
	d, err := e.Decide(context.Background(), Request{})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Reason) > maxReasonLen+len("…") || !strings.HasSuffix(d.Reason, "…") || !strings.HasPrefix(d.Reason, "aéé") {
		t.Fatalf("got a reason of %d bytes (%.20q...), want at most %d, cut with …", len(d.Reason), d.Reason, maxReasonLen+len("…"))
	}
	if strings.ContainsRune(d.Reason, '\uFFFD') || !strings.HasSuffix(strings.TrimSuffix(d.Reason, "…"), "é") {
		t.Fatalf("got a reason cut inside a rune: %q", d.Reason[len(d.Reason)-8:])
	}
}

// TestEngineInput checks that the policy sees exactly the documented input.
func TestEngineInput(t *testing.T) {
	seen := time.Date(2026, 11, 22, 1, 2, 3, 456, time.FixedZone("x", 3600))
	exp := time.Date(2026, 11, 22, 2, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		req  Request
		want string
	}{
		{
			name: "full",
			req: Request{
				Principal: "alice", Client: "127.0.0.1:5555", Direction: Egress,
				Host: "api.github.com", Method: "GET", Path: "/user",
				Token: TokenInfo{ID: "tid", Token: "cloak_aws_tid", Class: "aws", Rule: "aws-access-key", Submitters: []string{"alice", "bob"}, FirstSeen: seen},
				Grants: []Grant{
					{ID: "apr_1", TokenID: "tid", Principal: "alice", Direction: Egress, Host: "api.github.com", Once: true, Expires: exp, Used: true},
					{ID: "apr_2", TokenID: "tid", Principal: "alice", Direction: Egress, Host: "api.github.com"},
				},
			},
			want: `{
				"token": {"id": "tid", "token": "cloak_aws_tid", "class": "aws", "rule": "aws-access-key",
				          "submitted_by": ["alice", "bob"], "first_seen": "2026-11-22T00:02:03Z"},
				"requester": {"principal": "alice", "client": "127.0.0.1:5555"},
				"direction": "egress",
				"destination": {"host": "api.github.com", "method": "GET", "path": "/user"},
				"grants": [
					{"id": "apr_1", "token_id": "tid", "principal": "alice", "direction": "egress", "host": "api.github.com", "once": true, "expires": "2026-11-22T02:00:00Z"},
					{"id": "apr_2", "token_id": "tid", "principal": "alice", "direction": "egress", "host": "api.github.com", "once": false}
				]
			}`,
		},
		{
			name: "empty",
			req:  Request{},
			want: `{
				"token": {"id": "", "token": "", "class": "", "rule": "", "submitted_by": []},
				"requester": {"principal": "", "client": ""},
				"direction": "",
				"destination": {"host": "", "method": "", "path": ""},
				"grants": []
			}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var doc map[string]any
			if err := json.Unmarshal([]byte(tt.want), &doc); err != nil {
				t.Fatal(err)
			}
			keys := make([]string, 0, len(doc))
			for k := range doc {
				keys = append(keys, k)
			}
			if slices.Sort(keys); !slices.Equal(keys, slices.Sorted(slices.Values(InputKeys()))) {
				t.Fatalf("got test keys %q, want InputKeys %q", keys, InputKeys())
			}
			// The policy allows only when the input equals the expected document,
			// and otherwise says what it got.
			e := NewEngine(EngineOptions{})
			mustLoadRego(t, e, "input.rego", regoPolicy(fmt.Sprintf(`expected := %s

decision := {"effect": "allow", "reason": "input as expected"} if input == expected

else := {"effect": "deny", "reason": json.marshal(input)}`, tt.want)))
			d, err := e.Decide(context.Background(), tt.req)
			if err != nil || d.Effect != Allow {
				t.Fatalf("got %v, %v: input %s, want %s", d.Effect, err, d.Reason, tt.want)
			}
		})
	}
}

func TestEngineDecideInput(t *testing.T) {
	e := defaultRegoEngine(t)
	var in any
	if err := json.Unmarshal([]byte(`{"direction": "restore", "requester": {"principal": "alice"}, "token": {"submitted_by": ["alice"]}}`), &in); err != nil {
		t.Fatal(err)
	}
	d, err := e.DecideInput(context.Background(), in)
	if err != nil || d.Effect != Allow {
		t.Fatalf("got %+v, %v; want allow", d, err)
	}
	if d, err := e.DecideInput(context.Background(), make(chan int)); err == nil || d.Effect != Deny {
		t.Fatalf("got %+v, %v; want deny and an error for a non-JSON input", d, err)
	}
}

func TestEngineCanceled(t *testing.T) {
	// slow takes seconds unless evaluation stops when its context ends.
	slow := regoPolicy(`r := numbers.range(1, 3000)

decision := {"effect": "allow", "reason": "slow"} if {
	every i in r {
		every j in r {
			i * j > 0
		}
	}
}`)
	tests := []struct {
		name   string
		opts   EngineOptions
		cancel bool
	}{
		{name: "caller canceled", cancel: true},
		{name: "engine timeout", opts: EngineOptions{Timeout: time.Nanosecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := NewEngine(tt.opts)
			mustLoadRego(t, e, "slow.rego", slow)
			ctx, cancel := context.WithCancel(context.Background())
			if tt.cancel {
				cancel()
			}
			defer cancel()
			d, err := e.Decide(ctx, Request{})
			if err == nil || d.Effect != Deny || !strings.Contains(d.Reason, "timed out or was canceled") {
				t.Fatalf("got %+v, %v; want a deny for timeout and an error", d, err)
			}
		})
	}
}

func TestEngineNow(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	e := NewEngine(EngineOptions{Now: func() time.Time { return now }})
	mustLoadRego(t, e, "now.rego", regoPolicy(`decision := {"effect": "allow", "reason": format_int(time.now_ns(), 10)}`))
	d, err := e.Decide(context.Background(), Request{})
	if want := fmt.Sprint(now.UnixNano()); err != nil || d.Reason != want {
		t.Fatalf("got %q, %v; want time.now_ns %s", d.Reason, err, want)
	}
}

func TestEngineVersion(t *testing.T) {
	e := NewEngine(EngineOptions{})
	mustLoadRego(t, e, "a.rego", regoAllowAll)
	v1 := e.Version()
	if !regexp.MustCompile(`^sha256:[0-9a-f]{64}$`).MatchString(v1) || v1 != PolicyVersion(regoAllowAll) {
		t.Fatalf("got version %q, want sha256: and 64 hex digits of the source", v1)
	}
	// A comment changes the source, so the version.
	edited := append(slices.Clone(regoAllowAll), "# edited\n"...)
	mustLoadRego(t, e, "a.rego", edited)
	if v2 := e.Version(); v2 == v1 || v2 != PolicyVersion(edited) {
		t.Fatalf("got version %q after an edit (was %q), want %q", v2, v1, PolicyVersion(edited))
	}
	mustLoadRego(t, e, "b.rego", regoAllowAll)
	if e.Version() != v1 {
		t.Fatalf("got version %q for the same source under another name, want %q", e.Version(), v1)
	}
}

func TestEngineEgressHosts(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []string
	}{
		{name: "undefined", body: "", want: nil},
		{name: "empty set", body: "egress_hosts := set()", want: nil},
		{name: "array", body: `egress_hosts := ["b.example.com", "a.example.com", "b.example.com"]`, want: []string{"a.example.com", "b.example.com"}},
		{name: "set with wildcard", body: `egress_hosts := {"*.Example.COM", "api.github.com"}`, want: []string{"*.example.com", "api.github.com"}},
		{name: "partial set", body: "egress_hosts contains h if {\n\tsome h in [\"x.io\", \"y.io\"]\n}", want: []string{"x.io", "y.io"}},
		{name: "depends on input", body: "egress_hosts contains input.host", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := NewEngine(EngineOptions{})
			mustLoadRego(t, e, "p.rego", regoPolicy("decision := 1\n\n"+tt.body))
			got := e.EgressHosts()
			if !slices.Equal(got, tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			if len(got) > 0 {
				got[0] = "changed"
				if e.EgressHosts()[0] == "changed" {
					t.Fatal("EgressHosts returned the engine's own slice")
				}
			}
		})
	}
}

func TestEngineHostPattern(t *testing.T) {
	tests := []struct {
		host string
		want bool
	}{
		{"api.github.com", true},
		{"localhost", true},
		{"*.example.com", true},
		{"xn--bcher-kva.example", true},
		{"10.0.0.1", true},
		{strings.Repeat("a", 63) + ".com", true},
		{strings.Repeat("a", 64) + ".com", false},
		{strings.Repeat("a.", 127) + "a", false},
		{"", false},
		{"*", false},
		{"*.", false},
		{"**.a.com", false},
		{"a.*.com", false},
		{"a.com.", false},
		{".a.com", false},
		{"a_b.com", false},
		{"A.com", false},
		{"a-.com", false},
		{"[::1]", false},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			if got := validHostPattern(tt.host); got != tt.want {
				t.Fatalf("validHostPattern(%q): got %v, want %v", tt.host, got, tt.want)
			}
		})
	}
}

// writeRegoFile replaces the file at path with src atomically (write, then rename),
// as deployment tools do.
func writeRegoFile(t *testing.T, path string, src []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, src, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// regoWatchEvents runs Watch on path and returns the channel of its reports.
func regoWatchEvents(t *testing.T, e *Engine, path string) <-chan error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	events := make(chan error, 16)
	var wg sync.WaitGroup
	wg.Go(func() {
		e.Watch(ctx, path, 5*time.Millisecond, func(err error) { events <- err })
	})
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	return events
}

// nextRegoEvent waits for Watch's next report. The limit is a safety net against a
// hung test, far beyond the polling interval, not a timing assertion.
func nextRegoEvent(t *testing.T, events <-chan error) error {
	t.Helper()
	select {
	case err := <-events:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("Watch reported nothing")
		return nil
	}
}

func decideRegoEgress(t *testing.T, e *Engine) Decision {
	t.Helper()
	d, err := e.Decide(context.Background(), Request{Principal: "alice", Direction: Egress, Host: "api.github.com", Token: TokenInfo{Class: "github"}})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestEngineWatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.rego")
	writeRegoFile(t, path, configs.Policy)
	e := NewEngine(EngineOptions{})
	if err := e.LoadFile(path); err != nil {
		t.Fatal(err)
	}
	events := regoWatchEvents(t, e, path)

	// A changed file is loaded.
	writeRegoFile(t, path, regoAllowAll)
	if err := nextRegoEvent(t, events); err != nil {
		t.Fatalf("got reload error %v, want none", err)
	}
	if d := decideRegoEgress(t, e); d.Effect != Allow || d.Policy != PolicyVersion(regoAllowAll) {
		t.Fatalf("after the edit got %+v, want allow from the edited policy", d)
	}

	// A broken edit is reported, and the last good policy stays.
	writeRegoFile(t, path, regoBroken)
	err := nextRegoEvent(t, events)
	if err == nil || !strings.Contains(err.Error(), path+":3:") {
		t.Fatalf("got reload error %v, want one naming %s:3:", err, path)
	}
	if d := decideRegoEgress(t, e); d.Effect != Allow || e.Version() != PolicyVersion(regoAllowAll) {
		t.Fatalf("after a broken edit got %+v, want the last good policy", d)
	}

	// A removed file is reported once; the policy stays.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := nextRegoEvent(t, events); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("got %v, want a not-exist error", err)
	}

	// Fixing the file loads it again, and the next event is that load, not a
	// repeat of the read error.
	writeRegoFile(t, path, configs.Policy)
	if err := nextRegoEvent(t, events); err != nil {
		t.Fatalf("got reload error %v, want none", err)
	}
	if d := decideRegoEgress(t, e); d.Effect != Approve || e.Version() != PolicyVersion(configs.Policy) {
		t.Fatalf("after the fix got %+v, want the default policy's approve", d)
	}
}

func TestEngineWatchStart(t *testing.T) {
	tests := []struct {
		name    string
		loaded  []byte // loaded before Watch starts, nil for none
		file    []byte
		wantErr bool
	}{
		{name: "file differs from loaded", loaded: configs.Policy, file: regoAllowAll},
		{name: "nothing loaded", file: regoAllowAll},
		{name: "broken file", loaded: configs.Policy, file: regoBroken, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "policy.rego")
			writeRegoFile(t, path, tt.file)
			e := NewEngine(EngineOptions{})
			if tt.loaded != nil {
				mustLoadRego(t, e, "loaded.rego", tt.loaded)
			}
			events := regoWatchEvents(t, e, path)
			err := nextRegoEvent(t, events)
			if (err != nil) != tt.wantErr {
				t.Fatalf("got %v, want error %v", err, tt.wantErr)
			}
			want := PolicyVersion(tt.file)
			if tt.wantErr {
				want = PolicyVersion(tt.loaded)
			}
			if e.Version() != want {
				t.Fatalf("got version %q, want %q", e.Version(), want)
			}
		})
	}
}

// TestEngineFileWatchCheck drives Watch's checks by hand: new content is loaded only
// when the next check sees it unchanged, so a half-written file is never loaded.
func TestEngineFileWatchCheck(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.rego")
	writeRegoFile(t, path, configs.Policy)
	e := defaultRegoEngine(t)
	var reports []error
	w := fileWatch{e: e, path: path, report: func(err error) { reports = append(reports, err) }, last: e.Version()}
	half := regoAllowAll[:len(regoAllowAll)/2]
	steps := []struct {
		name        string
		write       []byte // nil: leave the file
		wantVersion string
		wantReports int
	}{
		{name: "unchanged", wantVersion: PolicyVersion(configs.Policy)},
		{name: "half written", write: half, wantVersion: PolicyVersion(configs.Policy)},
		{name: "completed", write: regoAllowAll, wantVersion: PolicyVersion(configs.Policy)},
		{name: "stable", wantVersion: PolicyVersion(regoAllowAll), wantReports: 1},
		{name: "still stable", wantVersion: PolicyVersion(regoAllowAll), wantReports: 1},
		{name: "broken", write: regoBroken, wantVersion: PolicyVersion(regoAllowAll), wantReports: 1},
		{name: "broken stable", wantVersion: PolicyVersion(regoAllowAll), wantReports: 2},
		{name: "broken not retried", wantVersion: PolicyVersion(regoAllowAll), wantReports: 2},
		{name: "broken still not retried", wantVersion: PolicyVersion(regoAllowAll), wantReports: 2},
		{name: "reverted", write: configs.Policy, wantVersion: PolicyVersion(regoAllowAll), wantReports: 2},
		{name: "reverted stable", wantVersion: PolicyVersion(configs.Policy), wantReports: 3},
	}
	for _, st := range steps {
		if st.write != nil {
			writeRegoFile(t, path, st.write)
		}
		w.check()
		if e.Version() != st.wantVersion || len(reports) != st.wantReports {
			t.Fatalf("%s: got version %q and %d reports (%v), want %q and %d", st.name, e.Version(), len(reports), reports, st.wantVersion, st.wantReports)
		}
	}
	if reports[0] != nil || reports[1] == nil || reports[2] != nil {
		t.Fatalf("got reports %v, want nil, a load error, nil", reports)
	}
}

// TestEngineConcurrent decides while policies are loaded (run with -race).
func TestEngineConcurrent(t *testing.T) {
	// A generous timeout: this test is about races, and a loaded machine must not
	// turn a decision into a timeout deny.
	e := NewEngine(EngineOptions{Timeout: time.Minute})
	mustLoadRego(t, e, "policy.rego", configs.Policy)
	valid := []string{PolicyVersion(configs.Policy), PolicyVersion(regoAllowAll)}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 200 {
				d, err := e.Decide(context.Background(), Request{Principal: "alice", Direction: Restore, Token: TokenInfo{Submitters: []string{"alice"}}})
				if err != nil || d.Effect != Allow || !slices.Contains(valid, d.Policy) {
					t.Errorf("got %+v, %v; want allow from one of the loaded policies", d, err)
					return
				}
			}
		})
	}
	for i := range 20 {
		src := regoAllowAll
		if i%2 == 0 {
			src = configs.Policy
		}
		if err := e.Load("p.rego", src); err != nil {
			t.Fatal(err)
		}
		_ = e.Load("bad.rego", []byte("package cloakroom\ndecision :="))
	}
	wg.Wait()
}

func BenchmarkEngineDecide(b *testing.B) {
	e := defaultRegoEngine(b)
	reqs := []struct {
		name string
		req  Request
	}{
		{name: "restore", req: Request{Principal: "alice", Client: "127.0.0.1:5555", Direction: Restore, Host: "api.anthropic.com", Method: "POST", Path: "/v1/messages",
			Token: TokenInfo{ID: "abcdefghijklmnopqrst", Token: "cloak_aws_abcdefghijklmnopqrst", Class: "aws", Rule: "aws-access-key", Submitters: []string{"alice"}, FirstSeen: time.Now()}}},
		{name: "egress", req: Request{Principal: "alice", Client: "127.0.0.1:5555", Direction: Egress, Host: "api.github.com", Method: "GET", Path: "/user",
			Token:  TokenInfo{ID: "abcdefghijklmnopqrst", Token: "cloak_github_abcdefghijklmnopqrst", Class: "github", Rule: "github-pat", Submitters: []string{"alice"}},
			Grants: []Grant{{ID: "apr_0123456789abcdef", TokenID: "abcdefghijklmnopqrst", Principal: "alice", Direction: Egress, Host: "api.github.com", Once: true, Expires: time.Now()}}}},
	}
	for _, r := range reqs {
		b.Run(r.name, func(b *testing.B) {
			b.ReportAllocs()
			ctx := context.Background()
			for b.Loop() {
				if _, err := e.Decide(ctx, r.req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// A policy reads input.grants when it names them, or names input whole or by a key
// that is not a plain string; the default policy does not.
func TestEngineReadsGrants(t *testing.T) {
	e := defaultRegoEngine(t)
	if reads, v := e.ReadsGrants(); reads || v != PolicyVersion(configs.Policy) {
		t.Errorf("default policy: reads grants %v, version %q", reads, v)
	}
	tests := []struct {
		body  string
		reads bool
	}{
		{`decision := {"effect": "allow", "reason": input.token.class}`, false},
		{`decision := {"effect": "deny", "reason": "x"} if input.direction == "egress"`, false},
		{`decision := {"effect": "allow", "reason": "granted"} if count(input.grants) > 0`, true},
		{`decision := {"effect": "allow", "reason": "granted"} if input["grants"]`, true},
		{`decision := {"effect": "allow", "reason": "x"} if { some k; input[k] }`, true},
		{`decision := {"effect": "allow", "reason": "x"} if object.get(input, "grants", []) != []`, true},
		{`doc := input` + "\n" + `decision := {"effect": "allow", "reason": "x"} if doc.grants`, true},
		{`decision := {"effect": "allow", "reason": "x"} if { data.lists[input.token.class] }`, false},
		{`decision := {"effect": "allow", "reason": "x"} if { data.lists[input] }`, true},
		// Refs whose head is not a variable: a call, an array, an object, a comprehension.
		{`decision := {"effect": "allow", "reason": "x"} if count([input][0].grants) > 0`, true},
		{`decision := {"effect": "allow", "reason": "x"} if count(object.union(input, {}).grants) > 0`, true},
		{`decision := {"effect": "allow", "reason": "x"} if count({"i": input}.i.grants) > 0`, true},
		{`decision := {"effect": "allow", "reason": "x"} if count(json.filter(input, ["grants"]).grants) > 0`, true},
		{`decision := {"effect": "allow", "reason": "x"} if count([x | x := input][0].grants) > 0`, true},
		{`decision := {"effect": "allow", "reason": "x"} if count([input.token][0].class) > 0`, false},
	}
	for _, tt := range tests {
		mustLoadRego(t, e, "p.rego", regoPolicy(tt.body))
		if reads, v := e.ReadsGrants(); reads != tt.reads || v != e.Version() {
			t.Errorf("%s: reads grants %v (version %q), want %v", tt.body, reads, v, tt.reads)
		}
	}
	src := []byte("package cloakroom\n\nimport input.grants as gs\n\ndecision := {\"effect\": \"allow\", \"reason\": \"x\"} if count(gs) > 0\n")
	mustLoadRego(t, e, "imp.rego", src)
	if reads, _ := e.ReadsGrants(); !reads {
		t.Error("import input.grants: reads grants false")
	}
	if reads, v := NewEngine(EngineOptions{}).ReadsGrants(); reads || v != "" {
		t.Errorf("no policy: reads grants %v, version %q", reads, v)
	}
}
