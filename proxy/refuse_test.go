package proxy_test

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
	promtest "github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/cloakroom/cloakroom/internal/testutil"
	"github.com/cloakroom/cloakroom/proxy"
	"github.com/cloakroom/cloakroom/tokenize"
)

const anthropicURL = "https://api.anthropic.com/v1/messages"

func anthropicBody(prompt string) []byte { return apiCases[0].body(prompt, false) }

func encode(t *testing.T, coding string, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w io.WriteCloser
	switch coding {
	case "gzip":
		w = gzip.NewWriter(&buf)
	case "deflate":
		w = zlib.NewWriter(&buf)
	case "raw-deflate":
		w, _ = flate.NewWriter(&buf, flate.DefaultCompression)
	case "br":
		w = brotli.NewWriter(&buf)
	case "zstd":
		zw, err := zstd.NewWriter(&buf)
		if err != nil {
			t.Fatal(err)
		}
		w = zw
	default:
		t.Fatalf("no encoder %q", coding)
	}
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestEncodedBodies: compressed request bodies are decoded and scanned; what goes
// upstream is the redacted, decoded body.
func TestEncodedBodies(t *testing.T) {
	tests := []struct {
		name   string
		header string
		encode []string // applied in order
	}{
		{name: "gzip", header: "gzip", encode: []string{"gzip"}},
		{name: "deflate", header: "deflate", encode: []string{"deflate"}},
		{name: "raw deflate", header: "deflate", encode: []string{"raw-deflate"}},
		{name: "br", header: "br", encode: []string{"br"}},
		{name: "zstd", header: "zstd", encode: []string{"zstd"}},
		{name: "list", header: "gzip, zstd", encode: []string{"gzip", "zstd"}},
		{name: "identity", header: "identity", encode: nil},
	}
	h := newHarness(t, harnessOpts{})
	s := newSecrets(t)
	h.plant(s.all()...)
	body := anthropicBody(s.prompt())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc := body
			for _, c := range tt.encode {
				enc = encode(t, c, enc)
			}
			resp, got := post(t, h.client("alice"), anthropicURL, http.Header{"Content-Encoding": {tt.header}}, enc)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("got status %d, want 200: %s", resp.StatusCode, got)
			}
			last := h.up.Last()
			if ce := last.Header.Get("Content-Encoding"); ce != "" {
				t.Errorf("upstream got Content-Encoding %q, want a decoded body", ce)
			}
			if !bytes.Contains(last.Body, []byte(h.tokenFor(s.AWSSecret))) {
				t.Errorf("upstream body does not carry the token")
			}
			if e := parseAnthropic(t, got, false); e.Text != s.prompt() {
				t.Errorf("restored text differs")
			}
		})
	}
}

// TestUntouchedBodyForwardedAsIs: without secrets, the agent's exact bytes (still
// compressed) reach the upstream.
func TestUntouchedBodyForwardedAsIs(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	body := anthropicBody("Refactor the parser; keep the tests green. UUID 123e4567-e89b-12d3-a456-426614174000, sha 9fceb02d0ae598e95dc970b74767f19372d61af8.")
	enc := encode(t, "gzip", body)
	resp, got := post(t, h.client(""), anthropicURL, http.Header{"Content-Encoding": {"gzip"}}, enc)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("got status %d: %s", resp.StatusCode, got)
	}
	last := h.up.Last()
	if !bytes.Equal(last.Body, enc) || last.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("upstream got a changed body (encoding %q), want the agent's exact bytes", last.Header.Get("Content-Encoding"))
	}
	if recs := h.auditRecords(); len(recs) != 1 || len(recs[0].Detections) != 0 || recs[0].Principal != proxy.DefaultPrincipal || recs[0].VaultMS != 0 {
		t.Fatalf("audit: got %+v, want one record of principal default without detections or vault time", recs)
	}
}

// TestRefusals: whatever cannot be decoded, parsed or stored is refused in the
// provider's own error format and never reaches the upstream.
func TestRefusals(t *testing.T) {
	s := newSecrets(t)
	body := anthropicBody(s.prompt())
	tests := []struct {
		name       string
		cfg        proxy.Config
		url        string
		header     http.Header
		body       []byte
		wantStatus int
		wantClass  string
		breakVault bool
	}{
		{name: "unknown encoding", url: anthropicURL, header: http.Header{"Content-Encoding": {"compress"}}, body: body, wantStatus: 400, wantClass: "bad_encoding"},
		{name: "broken gzip", url: anthropicURL, header: http.Header{"Content-Encoding": {"gzip"}}, body: append([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0}, body[:50]...), wantStatus: 400, wantClass: "bad_encoding"},
		{name: "truncated zstd", url: anthropicURL, header: http.Header{"Content-Encoding": {"zstd"}}, body: encode(t, "zstd", body)[:40], wantStatus: 400, wantClass: "bad_encoding"},
		{name: "invalid json", url: anthropicURL, body: []byte(`{"messages":[{"role":"user","content":"` + s.AWSSecret + `"}`), wantStatus: 400, wantClass: "bad_json"},
		{name: "too large", cfg: proxy.Config{MaxBodyBytes: 512}, url: anthropicURL, body: body, wantStatus: 413, wantClass: "body_too_large"},
		{name: "too large after decoding", cfg: proxy.Config{MaxBodyBytes: 1024}, url: anthropicURL, header: http.Header{"Content-Encoding": {"gzip"}}, body: encode(t, "gzip", anthropicBody(strings.Repeat("a", 4096))), wantStatus: 413, wantClass: "body_too_large"},
		{name: "vault down", url: anthropicURL, body: body, wantStatus: 503, wantClass: "vault", breakVault: true},
		{name: "openai shape", url: "https://api.openai.com/v1/chat/completions", header: http.Header{"Content-Encoding": {"compress"}}, body: body, wantStatus: 400, wantClass: "bad_encoding"},
		{name: "gemini shape", url: "https://generativelanguage.googleapis.com/v1beta/models/g:generateContent", header: http.Header{"Content-Encoding": {"compress"}}, body: body, wantStatus: 400, wantClass: "bad_encoding"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, harnessOpts{cfg: tt.cfg})
			h.plant(s.all()...)
			if tt.breakVault {
				if err := h.store.Close(); err != nil {
					t.Fatal(err)
				}
			}
			resp, got := post(t, h.client("alice"), tt.url, tt.header, tt.body)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("got status %d, want %d: %s", resp.StatusCode, tt.wantStatus, got)
			}
			if c := resp.Header.Get("X-Cloakroom-Error"); c != tt.wantClass {
				t.Errorf("got error class %q, want %q", c, tt.wantClass)
			}
			if n := len(h.up.Requests()); n != 0 {
				t.Fatalf("upstream got %d requests, want none", n)
			}
			var shape struct {
				Type  string
				Error struct {
					Type    string
					Message string
					Code    any
					Status  string
				}
			}
			if err := json.Unmarshal(got, &shape); err != nil || shape.Error.Message == "" {
				t.Fatalf("error body is not in a provider's shape: %s", got)
			}
			if !strings.Contains(shape.Error.Message, "cloakroom") || !strings.Contains(shape.Error.Message, "req_") {
				t.Errorf("message %q should name cloakroom and the request id", shape.Error.Message)
			}
			switch {
			case strings.Contains(tt.url, "anthropic") && (shape.Type != "error" || shape.Error.Type == ""):
				t.Errorf("not Anthropic's error shape: %s", got)
			case strings.Contains(tt.url, "googleapis") && shape.Error.Status == "":
				t.Errorf("not Gemini's error shape: %s", got)
			case strings.Contains(tt.url, "openai") && shape.Error.Code != "cloakroom_"+tt.wantClass:
				t.Errorf("not OpenAI's error shape: %s", got)
			}
			recs := h.auditRecords()
			if len(recs) != 1 || recs[0].Decision != "refused" || recs[0].Error != tt.wantClass {
				t.Errorf("audit: got %+v, want one refused record with error %q", recs, tt.wantClass)
			}
		})
	}
}

// TestKnownValuesFollowHistory: a value found once by pattern is replaced later in
// plain prose where no pattern matches, as agents resend restored history.
func TestKnownValuesFollowHistory(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	pw := "Qm7vTz2Lp9xWcR4k"
	h.plant(pw)
	c := h.client("alice")
	if resp, got := post(t, c, anthropicURL, nil, anthropicBody("Use DB_PASSWORD="+pw+" for the migration")); resp.StatusCode != 200 {
		t.Fatalf("first request: %d %s", resp.StatusCode, got)
	}
	prose := "Earlier you used " + pw + " and it worked"
	resp, got := post(t, c, anthropicURL, nil, anthropicBody(prose))
	if resp.StatusCode != 200 {
		t.Fatalf("second request: %d %s", resp.StatusCode, got)
	}
	if !bytes.Contains(h.up.Last().Body, []byte(h.tokenFor(pw))) {
		t.Fatalf("known value in prose was not replaced: %s", h.up.Last().Body)
	}
	if e := parseAnthropic(t, got, false); e.Text != prose {
		t.Errorf("got %q, want %q", e.Text, prose)
	}
}

// TestOtherPrincipalKeepsTokens: a principal gets back only values it submitted.
func TestOtherPrincipalKeepsTokens(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	s := newSecrets(t)
	h.plant(s.all()...)
	if resp, _ := post(t, h.client("alice"), anthropicURL, nil, anthropicBody(s.prompt())); resp.StatusCode != 200 {
		t.Fatal("alice's request failed")
	}
	tok := h.tokenFor(s.GitHub)
	for _, stream := range []bool{false, true} {
		resp, got := post(t, h.client("mallory"), anthropicURL, nil, apiCases[0].body("what is "+tok+"?", stream))
		if resp.StatusCode != 200 {
			t.Fatalf("mallory's request: %d", resp.StatusCode)
		}
		if e := parseAnthropic(t, got, stream); e.Text != "what is "+tok+"?" || strings.Contains(string(got), s.GitHub) {
			t.Errorf("stream=%v: another principal got the value back: %q", stream, e.Text)
		}
	}
	recs := h.auditRecords()
	if last := recs[len(recs)-1]; last.Principal != "mallory" || last.Withheld == 0 || last.Restored != 0 {
		t.Errorf("audit: got %+v, want withheld tokens for mallory", last)
	}
}

// TestHostsTunnelAndBlock: other hosts are tunnelled untouched, or blocked.
func TestHostsTunnelAndBlock(t *testing.T) {
	s := newSecrets(t)
	body := []byte("token=" + s.GitHub)
	t.Run("tunnel", func(t *testing.T) {
		h := newHarness(t, harnessOpts{})
		c := h.client("")
		c.Transport.(*http.Transport).TLSClientConfig = tlsConfig(h.up.RootCAs) // the tunnel reaches the real server
		resp, got := post(t, c, "https://localhost/v1/echo-raw", http.Header{"Content-Type": {"text/plain"}}, body)
		if resp.StatusCode != 200 || !bytes.Equal(got, body) || !bytes.Equal(h.up.Last().Body, body) {
			t.Fatalf("tunnel changed the exchange: %d %q", resp.StatusCode, got)
		}
		if n := len(h.auditRecords()); n != 0 {
			t.Errorf("tunnelled traffic got %d audit records, want 0", n)
		}
	})
	t.Run("block", func(t *testing.T) {
		h := newHarness(t, harnessOpts{cfg: proxy.Config{OtherHosts: proxy.Block}})
		req, _ := http.NewRequest("POST", "https://localhost/v1/echo-raw", bytes.NewReader(body))
		_, err := h.client("").Do(req)
		if err == nil || !strings.Contains(err.Error(), "Forbidden") {
			t.Fatalf("got %v, want the CONNECT refused with 403", err)
		}
		if n := len(h.up.Requests()); n != 0 {
			t.Fatalf("blocked host reached upstream %d times", n)
		}
	})
}

// TestTextBody: a non-JSON body is scanned as text.
func TestTextBody(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	s := newSecrets(t)
	h.plant(s.all()...)
	body := []byte(s.prompt())
	resp, got := post(t, h.client("alice"), "https://api.openai.com/v1/echo-raw", http.Header{"Content-Type": {"text/plain"}}, body)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if !bytes.Equal(got, body) {
		t.Errorf("restored text body differs")
	}
	if !bytes.Contains(h.up.Last().Body, []byte(h.tokenFor(s.PGPassword))) {
		t.Errorf("upstream did not get the token")
	}
}

// TestAdminEndpoints: health, readiness (following the vault) and metrics.
func TestAdminEndpoints(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	s := newSecrets(t)
	h.plant(s.all()...)
	if resp, _ := post(t, h.client("alice"), anthropicURL, nil, anthropicBody(s.prompt())); resp.StatusCode != 200 {
		t.Fatal("request failed")
	}
	h.drain() // the request is finished, metrics included
	admin := httptest.NewServer(h.p.AdminHandler(h.reg))
	defer admin.Close()
	get := func(path string) (int, string) {
		resp, err := http.Get(admin.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("healthz: got %d, want 200", code)
	}
	if code, _ := get("/readyz"); code != 200 {
		t.Errorf("readyz: got %d, want 200", code)
	}
	code, metrics := get("/metrics")
	if code != 200 {
		t.Fatalf("metrics: %d", code)
	}
	for _, m := range []string{
		`cloakroom_requests_total{host="api.anthropic.com",outcome="forwarded",principal="unauthenticated"} 1`,
		`cloakroom_tokens_minted_total{class=`, `cloakroom_detections_total{class=`,
		`cloakroom_scan_duration_seconds_count 1`, `cloakroom_restores_total{outcome="restored"}`,
		`cloakroom_vault_cache_total{op="tokenize",result="miss"}`, `cloakroom_vault_cache_total{op="lookup",result="hit"}`,
	} {
		if !strings.Contains(metrics, m) {
			t.Errorf("metrics lack %s", m)
		}
	}
	if n := promtest.CollectAndCount(h.reg, "cloakroom_scanned_bytes_total"); n != 1 {
		t.Errorf("got %d scanned-bytes series, want 1", n)
	}
	_ = h.store.Close()
	if code, _ := get("/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("readyz with the store closed: got %d, want 503", code)
	}
}

// TestRedisStoreRoundTrip runs the round trip against a real redis-server.
func TestRedisStoreRoundTrip(t *testing.T) {
	client, prefix := testutil.Redis(t)
	store := tokenize.NewRedisStore(client, prefix)
	h := newHarness(t, harnessOpts{store: store})
	s := newSecrets(t)
	h.plant(s.all()...)
	resp, got := post(t, h.client("alice"), anthropicURL, nil, apiCases[0].body(s.prompt(), true))
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, got)
	}
	if e := parseAnthropic(t, got, true); e.Text != s.prompt() || e.ToolText != s.prompt() {
		t.Errorf("restore through Redis failed")
	}
	keys, err := client.Keys(context.Background(), prefix+"*").Result()
	if err != nil || len(keys) < 5 {
		t.Fatalf("got %d Redis keys (%v), want at least 5", len(keys), err)
	}
	for _, k := range keys {
		vals, _ := client.HGetAll(context.Background(), k).Result()
		dump := k
		for f, v := range vals {
			dump += f + v
		}
		for _, c := range s.all() {
			for _, form := range leakForms(c) {
				if strings.Contains(dump, form) {
					t.Errorf("a planted secret is stored in the clear in Redis")
				}
			}
		}
	}
}

// TestTunnelHostPinned: inside an intercepted tunnel, a request whose Host names
// another server is refused, never routed there.
func TestTunnelHostPinned(t *testing.T) {
	h := newHarness(t, harnessOpts{cfg: proxy.Config{OtherHosts: proxy.Block}})
	req, _ := http.NewRequest("POST", anthropicURL, strings.NewReader(`{"x":1}`))
	req.Host = "localhost"
	resp, err := h.client("").Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMisdirectedRequest {
		t.Fatalf("got status %d, want 421", resp.StatusCode)
	}
	if n := len(h.up.Requests()); n != 0 {
		t.Fatalf("upstream got %d requests, want none", n)
	}
}

// TestRefusalsAfterReview covers ways around the scanner found in review: encodings
// on separate header lines, decompression bombs, too many layers, deep JSON,
// disguised upgrades, and misdirected requests (which are audited too).
func TestRefusalsAfterReview(t *testing.T) {
	s := newSecrets(t)
	body := anthropicBody(s.prompt())
	// A zstd frame header asking for a 512 MiB window (window descriptor 0x98).
	bomb := []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x98, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}
	tests := []struct {
		name       string
		header     http.Header
		host       string
		body       []byte
		wantStatus int
		wantClass  string
	}{
		{name: "zstd window bomb", header: http.Header{"Content-Encoding": {"zstd"}}, body: bomb, wantStatus: 400, wantClass: "bad_encoding"},
		{name: "too many layers", header: http.Header{"Content-Encoding": {"gzip, gzip, gzip, gzip"}}, body: body, wantStatus: 400, wantClass: "bad_encoding"},
		{name: "deep json", body: []byte(strings.Repeat("[", 10001) + strings.Repeat("]", 10001)), wantStatus: 400, wantClass: "bad_json"},
		{name: "empty upgrade line first", header: http.Header{"Upgrade": {"", "websocket"}, "Connection": {"keep-alive, Upgrade"}}, body: body, wantStatus: 501, wantClass: "upgrade_unsupported"},
		{name: "connection token only", header: http.Header{"Connection": {"keep-alive, upgrade"}}, body: body, wantStatus: 501, wantClass: "upgrade_unsupported"},
		{name: "misdirected", host: "localhost", body: body, wantStatus: 421, wantClass: "misdirected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, harnessOpts{})
			h.plant(s.all()...)
			req, _ := http.NewRequest("POST", anthropicURL, bytes.NewReader(tt.body))
			req.Header = tt.header.Clone()
			if req.Header == nil {
				req.Header = http.Header{}
			}
			req.Header.Set("Content-Type", "application/json")
			if tt.host != "" {
				req.Host = tt.host
			}
			resp, err := h.client("alice").Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus || resp.Header.Get("X-Cloakroom-Error") != tt.wantClass {
				t.Fatalf("got %d %q (%s), want %d %q", resp.StatusCode, resp.Header.Get("X-Cloakroom-Error"), got, tt.wantStatus, tt.wantClass)
			}
			if n := len(h.up.Requests()); n != 0 {
				t.Fatalf("upstream got %d requests, want none", n)
			}
			if recs := h.auditRecords(); len(recs) != 1 || recs[0].Error != tt.wantClass {
				t.Fatalf("audit: got %+v, want one record with error %q", recs, tt.wantClass)
			}
		})
	}
}

// TestEncodingOnSeparateLines: a second Content-Encoding line is part of the list;
// the gzip body is decoded and redacted, not scanned as opaque bytes and passed on.
func TestEncodingOnSeparateLines(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	s := newSecrets(t)
	h.plant(s.all()...)
	enc := encode(t, "gzip", anthropicBody(s.prompt()))
	resp, got := post(t, h.client("alice"), anthropicURL, http.Header{"Content-Encoding": {"identity", "gzip"}}, enc)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, got)
	}
	if !bytes.Contains(h.up.Last().Body, []byte(h.tokenFor(s.GitHub))) {
		t.Fatal("upstream did not get a decoded, redacted body")
	}
}

// A request refused during its scan records the scan's time, the vault's part in it
// included: the record is written at the refusal.
func TestRefusalRecordsScanTime(t *testing.T) {
	s, err := tokenize.OpenBolt(filepath.Join(t.TempDir(), "vault.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	h := newHarness(t, harnessOpts{store: failingStore{Store: s, delay: 20 * time.Millisecond}})
	sec := newSecrets(t)
	h.plant(sec.GitHub)
	if resp, got := post(t, h.client("alice"), anthropicURL, nil, anthropicBody("GITHUB_TOKEN="+sec.GitHub)); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("got %d %s, want 503", resp.StatusCode, got)
	}
	recs := h.auditRecords()
	if len(recs) != 1 || recs[0].Error != "vault" {
		t.Fatalf("audit: got %+v, want one record refused for the vault", recs)
	}
	if r := recs[0]; r.VaultMS < 20 || r.ScanMS < r.VaultMS {
		t.Errorf("audit: scan_ms %v, vault_ms %v: want the vault's 20 ms or more, within the scan's", r.ScanMS, r.VaultMS)
	}
}
