package proxy_test

// Tests for the field failures listed in shared/PITFALLS.md that the round-trip
// tests do not already cover.

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/cloakroom/cloakroom/proxy"
)

// Signed content: a thinking block (with its signature) and a Responses reasoning
// item are forwarded byte for byte, even when they hold token-like or secret-like
// text, while the rest of the same body is redacted.
func TestSignedContentUntouched(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	s := newSecrets(t)
	h.plant(s.PGPassword)
	thinking := `{"type":"thinking","thinking":"The user set GITHUB_TOKEN=` + s.GitHub + ` earlier.","signature":"EqQBCkYIARgCIkDxyz+/=="}`
	body := []byte(`{"model":"claude-sonnet-4-5","max_tokens":64,"messages":[` +
		`{"role":"user","content":"DATABASE_URL=postgres://app:` + s.PGPassword + `@db:5432/x"},` +
		`{"role":"assistant","content":[` + thinking + `,{"type":"text","text":"ok"}]},` +
		`{"role":"user","content":"go on"}]}`)
	resp, got := post(t, h.client("alice"), anthropicURL, nil, body)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, got)
	}
	fwd := h.up.Last().Body
	if !bytes.Contains(fwd, []byte(thinking)) {
		t.Errorf("thinking block changed on its way upstream")
	}
	if bytes.Contains(fwd, []byte(s.PGPassword)) {
		t.Errorf("the secret outside the thinking block reached the upstream")
	}
}

// Prompt caching: the same body gives the same forwarded bytes every time, and a
// second replica (another vault and store, the same master key) mints the same tokens.
func TestDeterministicAcrossRequestsAndReplicas(t *testing.T) {
	s := newSecrets(t)
	body := anthropicBody(s.prompt())
	var forwarded [][]byte
	for replica := 0; replica < 2; replica++ {
		h := newHarness(t, harnessOpts{})
		h.plant(s.all()...)
		for i := 0; i < 2; i++ {
			if resp, got := post(t, h.client("alice"), anthropicURL, nil, body); resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, got)
			}
			forwarded = append(forwarded, h.up.Last().Body)
		}
	}
	for i := 1; i < len(forwarded); i++ {
		if !bytes.Equal(forwarded[0], forwarded[i]) {
			t.Fatalf("forwarded body %d differs from the first: tokens are not deterministic", i)
		}
	}
}

// Upgrades other than WebSocket cannot be scanned: refused, never tunnelled raw.
// (WebSocket is relayed message by message: websocket_test.go.)
func TestUpgradeRefused(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	req, _ := http.NewRequest("GET", "https://api.openai.com/v1/responses", nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "tcp-tunnel/1")
	resp, err := h.client("").Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotImplemented || resp.Header.Get("X-Cloakroom-Error") != "upgrade_unsupported" {
		t.Fatalf("got %d %q, want 501 upgrade_unsupported", resp.StatusCode, resp.Header.Get("X-Cloakroom-Error"))
	}
	if n := len(h.up.Requests()); n != 0 {
		t.Fatalf("upstream got %d requests, want none", n)
	}
}

// Large sessions: 32 MiB (providers accept 32 MB) and 64 MiB bodies go through under
// the default limit, redacted, over HTTP/1.1 and HTTP/2; a body over the limit gets a
// 413 in the provider's format and nothing is forwarded.
func TestLargeBody(t *testing.T) {
	for _, tc := range []struct {
		name   string
		size   int
		h2     bool
		status int
	}{
		{"32MiB-http1", 32 << 20, false, 200},
		{"64MiB-h2", 64<<20 - 4096, true, 200},
		{"over-limit-h2", 64<<20 + 4096, true, 413},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, harnessOpts{})
			s := newSecrets(t)
			h.plant(s.AWSSecret)
			const line = "The build log says: compiling package cloakroom/proxy ... ok. "
			history := strings.Repeat(line, (tc.size-512)/len(line))
			body := fmt.Appendf(nil, `{"model":"claude-sonnet-4-5","max_tokens":64,"messages":[{"role":"user","content":%s},{"role":"assistant","content":"noted"},{"role":"user","content":%s}]}`,
				q(history), q("AWS_SECRET_ACCESS_KEY="+s.AWSSecret))
			body = append(body, bytes.Repeat([]byte(" "), tc.size-len(body))...)
			c := h.client("alice")
			if tc.h2 {
				c = h2Client(h, "alice")
			}
			resp, got := post(t, c, anthropicURL, nil, body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d: %.300s, want %d", resp.StatusCode, got, tc.status)
			}
			if tc.status == 413 {
				var e struct {
					Type  string
					Error struct{ Type, Message string }
				}
				mustJSON(t, string(got), &e)
				if e.Error.Type != "request_too_large" || !strings.Contains(e.Error.Message, "64 MiB") || len(h.up.Requests()) != 0 {
					t.Errorf("got %s (upstream saw %d requests), want an Anthropic request_too_large naming the limit", got, len(h.up.Requests()))
				}
				return
			}
			fwd := h.up.Last().Body
			if bytes.Contains(fwd, []byte(s.AWSSecret)) || len(fwd) < tc.size-64 {
				t.Fatalf("large body was not forwarded redacted (%d bytes)", len(fwd))
			}
			if e := parseAnthropic(t, got, false); e.Text != "AWS_SECRET_ACCESS_KEY="+s.AWSSecret {
				t.Errorf("restore failed on the large session")
			}
		})
	}
}

// Upstream TLS is always verified: an upstream whose certificate we do not trust is
// never sent the request body.
func TestUpstreamVerified(t *testing.T) {
	h := newHarness(t, harnessOpts{cfg: proxy.Config{}})
	// Rebuild the proxy with an empty trust store in front of the same fake upstream.
	certPEM, keyPEM, _ := proxy.GenerateCA("other")
	ca, _ := proxy.NewCA(certPEM, keyPEM)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	p, err := proxy.New(proxy.Config{CA: ca, UpstreamRootCAs: x509.NewCertPool(), Dial: h.up.Dial},
		proxy.Deps{Detector: mustDetector(t), Known: newKnown(), Vault: h.vault})
	if err != nil {
		t.Fatal(err)
	}
	srv := newServer(t, p.Handler())
	c := clientVia(t, srv, &tls.Config{RootCAs: pool})
	resp, got := post(t, c, anthropicURL, nil, anthropicBody("hello"))
	if resp.StatusCode != http.StatusBadGateway || resp.Header.Get("X-Cloakroom-Error") != "upstream" {
		t.Fatalf("got %d %s, want 502 upstream", resp.StatusCode, got)
	}
	if n := len(h.up.Requests()); n != 0 {
		t.Fatalf("an unverified upstream got %d requests", n)
	}
}

// TestNoHidingPlaces: secrets in places the skip rules once waved through reach the
// upstream as tokens: signature-like or media-like keys inside a tool result's JSON,
// member names, and text files sent base64-encoded. Real binary media and real
// thinking blocks stay byte-identical.
func TestNoHidingPlaces(t *testing.T) {
	s := newSecrets(t)
	b64 := func(v string) string { return base64.StdEncoding.EncodeToString([]byte(v)) }
	png := "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
	toolFile := q(`{"webhook":{"signature":"` + s.GitHub + `"},"blob":{"mime_type":"text/plain","data":"AWS_SECRET_ACCESS_KEY=` + s.AWSSecret + `"}}`)
	tests := []struct {
		name   string
		body   string
		secret string
		keep   string // must reach the upstream unchanged
	}{
		{name: "signature inside tool result JSON", secret: s.GitHub,
			body: `{"model":"m","max_tokens":9,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":` + toolFile + `}]}]}`},
		{name: "media data inside tool result JSON", secret: s.AWSSecret,
			body: `{"model":"m","max_tokens":9,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":` + toolFile + `}]}]}`},
		{name: "member name", secret: s.GitHub,
			body: `{"model":"m","max_tokens":9,"messages":[{"role":"user","content":"hi"}],"metadata":{"` + s.GitHub + `":"x"}}`},
		{name: "base64 text file data URL", secret: s.PGPassword,
			body: `{"model":"gpt-4.1","messages":[{"role":"user","content":[{"type":"file","file":{"filename":"a.env","file_data":"data:text/plain;base64,` + b64("DATABASE_URL=postgres://app:"+s.PGPassword+"@db:5432/x\n") + `"}},{"type":"text","text":"see file"}]}]}`},
		{name: "base64 text document", secret: s.AWSSecret,
			body: `{"model":"m","max_tokens":9,"messages":[{"role":"user","content":[{"type":"document","source":{"type":"base64","media_type":"text/plain","data":"` + b64("aws_secret_access_key = "+s.AWSSecret) + `"}},{"type":"text","text":"see doc"}]}]}`},
		{name: "binary image kept", secret: s.PGPassword, keep: png,
			body: `{"model":"m","max_tokens":9,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"` + png + `"}},{"type":"text","text":"postgres://app:` + s.PGPassword + `@db/x"}]}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, harnessOpts{})
			h.plant(tt.secret)
			resp, got := post(t, h.client("alice"), anthropicURL, nil, []byte(tt.body))
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, got)
			}
			fwd := h.up.Last().Body
			if !json.Valid(fwd) {
				t.Fatalf("forwarded body is not JSON: %s", fwd)
			}
			if !bytes.Contains(fwd, []byte(h.tokenFor(tt.secret))) && !strings.Contains(tt.name, "base64") {
				t.Errorf("upstream body lacks the token: %s", fwd)
			}
			if tt.keep != "" && !bytes.Contains(fwd, []byte(tt.keep)) {
				t.Errorf("binary media changed on its way upstream")
			}
			if strings.Contains(tt.name, "base64") && !strings.Contains(decodeAllBase64(fwd), h.tokenFor(tt.secret)) {
				t.Errorf("the base64 payload does not carry the token after decoding")
			}
		})
	}
}

// decodeAllBase64 decodes every long base64 run in b and concatenates the results.
func decodeAllBase64(b []byte) string {
	var out strings.Builder
	for _, run := range regexp.MustCompile(`[A-Za-z0-9+/]{16,}={0,2}`).FindAll(b, -1) {
		if d, err := base64.StdEncoding.DecodeString(string(run)); err == nil {
			out.Write(d)
			out.WriteByte('\n')
		}
	}
	return out.String()
}
