package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cloakroom/cloakroom/internal/audit"
	"github.com/cloakroom/cloakroom/internal/fakeapi"
	"github.com/cloakroom/cloakroom/internal/testutil"
	"github.com/cloakroom/cloakroom/tokenize"
)

// auditRecord returns the i-th test request record.
func auditRecord(i int) audit.Record {
	return audit.Record{
		Time: time.Date(2026, 3, 1, 10, 0, i, 0, time.UTC), ID: fmt.Sprintf("req_%d", i),
		Principal: []string{"alice", "bob"}[i%2], Host: []string{"api.anthropic.com", "api.openai.com"}[i%2],
		Method: "POST", Path: "/v1/messages", Status: 200, Decision: "forwarded", TotalMS: 12,
		Detections: []audit.Detection{{Rule: []string{"aws-access-key", "github-pat"}[i%2], Class: "aws", Token: "cloak_aws_x"}},
	}
}

// writeAuditLog writes n records (and a decision every fifth) to dir/audit.jsonl,
// rotating every maxBytes.
func writeAuditLog(t *testing.T, dir string, n int, maxBytes int64) {
	t.Helper()
	w, err := audit.OpenFile(filepath.Join(dir, auditFile), audit.Options{MaxBytes: maxBytes, Keep: 10})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := w.Write(auditRecord(i)); err != nil {
			t.Fatal(err)
		}
		if i%5 == 4 {
			if err := w.WriteDecision(audit.Decision{Time: time.Date(2026, 3, 1, 11, 0, i, 0, time.UTC), Event: "granted",
				Principal: "alice", Host: "api.github.com", Method: "GET", Path: "/user", Token: "cloak_gh_abc", Rule: "github-pat", By: "secops", Once: true}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func runAudit(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(append([]string{"audit"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

// editFile applies f to the lines of a file.
func editFile(t *testing.T, path string, f func(ls []string) []string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ls := f(strings.Split(strings.TrimSuffix(string(b), "\n"), "\n"))
	after := []byte(strings.Join(ls, "\n") + "\n")
	if bytes.Equal(after, b) {
		t.Fatalf("%s: the edit changed nothing", path)
	}
	if err := os.WriteFile(path, after, 0o600); err != nil {
		t.Fatal(err)
	}
}

// The CLI on a real rotated log, tampered with in every way.
func TestAuditVerifyCmd(t *testing.T) {
	tests := []struct {
		name     string
		tamper   func(t *testing.T, dir string)
		args     []string // after verify; --data-dir DIR is added
		wantCode int
		want     []string // regexps on stdout (or stderr for code 2)
	}{
		{"intact", nil, nil, 0, []string{`^ok: \d+ records, chain intact\n`, `chain [0-9a-f]{16}: seq \d+-\d+, head sha256 [0-9a-f]{64}`, `note: records up to seq \d+ of chain \w+ were deleted by retention`}},
		{"a live log brings its rotated files", nil, []string{"DIR/audit.jsonl"}, 0, []string{`^ok: \d+ records, chain intact`}},
		{"files in glob order", nil, []string{"DIR/audit.jsonl", "DIR/audit.jsonl.1", "DIR/audit.jsonl.10", "DIR/audit.jsonl.2", "DIR/audit.jsonl.3", "DIR/audit.jsonl.4", "DIR/audit.jsonl.5", "DIR/audit.jsonl.6", "DIR/audit.jsonl.7", "DIR/audit.jsonl.8", "DIR/audit.jsonl.9"}, 0, []string{`^ok: \d+ records`}},
		{"edit a byte", func(t *testing.T, dir string) {
			editFile(t, filepath.Join(dir, "audit.jsonl.2"), func(ls []string) []string {
				ls[1] = strings.Replace(ls[1], `"status":200`, `"status":201`, 1)
				return ls
			})
		}, nil, 1, []string{`^broken: \S+/audit\.jsonl\.2:2 \(seq \d+, chain [0-9a-f]{16}\): edited: its hash is [0-9a-f]{16}…, but the next record \(seq \d+, \S+audit\.jsonl\.2:3\) has prev [0-9a-f]{16}…`}},
		{"delete a line", func(t *testing.T, dir string) {
			editFile(t, filepath.Join(dir, "audit.jsonl.1"), func(ls []string) []string { return slices.Delete(ls, 1, 2) })
		}, nil, 1, []string{`^broken: \S+/audit\.jsonl\.1:2 \(seq \d+, chain \w+\): deleted: seq \d+ missing between \S+audit\.jsonl\.1:1`}},
		{"swap two lines", func(t *testing.T, dir string) {
			editFile(t, filepath.Join(dir, "audit.jsonl"), func(ls []string) []string { ls[1], ls[2] = ls[2], ls[1]; return ls })
		}, nil, 1, []string{`^broken: \S+/audit\.jsonl:2 \(seq \d+, chain \w+\): reordered: `}},
		{"insert a line", func(t *testing.T, dir string) {
			editFile(t, filepath.Join(dir, "audit.jsonl.3"), func(ls []string) []string {
				return slices.Insert(ls, 1, `{"type":"request","principal":"eve"}`)
			})
		}, nil, 1, []string{`^broken: \S+/audit\.jsonl\.3:2: inserted: a line without chain fields`}},
		{"truncate mid-line", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "audit.jsonl")
			fi, _ := os.Stat(p)
			if err := os.Truncate(p, fi.Size()-30); err != nil {
				t.Fatal(err)
			}
		}, nil, 1, []string{`^broken: \S+/audit\.jsonl:\d+: truncated: the last line is incomplete`}},
		{"remove the oldest file", func(t *testing.T, dir string) {
			files, _ := audit.Files(filepath.Join(dir, auditFile))
			if err := os.Remove(files[0]); err != nil {
				t.Fatal(err)
			}
		}, nil, 1, []string{`^broken: \S+:1 \(seq \d+, chain \w+\): deleted: the trail begins at seq \d+, but no rotation deleted the records before it`}},
		{"one rotated file alone", nil, []string{"DIR/audit.jsonl.2"}, 1, []string{`deleted: the trail begins at seq`}},
		{"one rotated file alone, partial", nil, []string{"--partial", "DIR/audit.jsonl.2"}, 0, []string{`^ok: \d+ records, chain intact`, `begins in the middle of chain`}},
		{"missing file", nil, []string{"DIR/nothing.jsonl"}, 2, []string{`no audit log`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeAuditLog(t, dir, 40, 1600)
			if files, _ := audit.Files(filepath.Join(dir, auditFile)); len(files) < 5 {
				t.Fatalf("got %d files, want rotation to have made several", len(files))
			}
			if tt.tamper != nil {
				tt.tamper(t, dir)
			}
			args := []string{"verify", "--data-dir", dir}
			for _, a := range tt.args {
				args = append(args, strings.ReplaceAll(a, "DIR", dir))
			}
			code, out, errs := runAudit(args...)
			if code != tt.wantCode {
				t.Fatalf("got exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, out, errs)
			}
			text := out
			if code == 2 {
				text = errs
			}
			for _, w := range tt.want {
				if !regexp.MustCompile(`(?m)` + w).MatchString(text) {
					t.Errorf("output does not match %q:\n%s", w, text)
				}
			}
		})
	}
}

func TestAuditTailCmd(t *testing.T) {
	dir := t.TempDir()
	writeAuditLog(t, dir, 10, 0)
	local := func(sec int) string {
		return time.Date(2026, 3, 1, 10, 0, sec, 0, time.UTC).Local().Format("2006-01-02 15:04:05")
	}
	tests := []struct {
		name string
		args []string
		want []string // lines, exactly
	}{
		{"last 2", []string{"-n", "2"}, []string{
			local(9) + "  request   bob  api.openai.com  POST /v1/messages  200 forwarded  github-pat  12ms",
			time.Date(2026, 3, 1, 11, 0, 9, 0, time.UTC).Local().Format("2006-01-02 15:04:05") + "  decision  alice  api.github.com  GET /user  granted  cloak_gh_abc  rule github-pat, by secops, once",
		}},
		{"by principal and type", []string{"--principal", "alice", "--type", "request", "-n", "3"}, []string{
			local(4) + "  request   alice  api.anthropic.com  POST /v1/messages  200 forwarded  aws-access-key  12ms",
			local(6) + "  request   alice  api.anthropic.com  POST /v1/messages  200 forwarded  aws-access-key  12ms",
			local(8) + "  request   alice  api.anthropic.com  POST /v1/messages  200 forwarded  aws-access-key  12ms",
		}},
		{"by host", []string{"--host", "api.github.com", "-n", "100"}, []string{
			time.Date(2026, 3, 1, 11, 0, 4, 0, time.UTC).Local().Format("2006-01-02 15:04:05") + "  decision  alice  api.github.com  GET /user  granted  cloak_gh_abc  rule github-pat, by secops, once",
			time.Date(2026, 3, 1, 11, 0, 9, 0, time.UTC).Local().Format("2006-01-02 15:04:05") + "  decision  alice  api.github.com  GET /user  granted  cloak_gh_abc  rule github-pat, by secops, once",
		}},
		{"by rule", []string{"--rule", "github-pat", "--type", "request", "-n", "2"}, []string{
			local(7) + "  request   bob  api.openai.com  POST /v1/messages  200 forwarded  github-pat  12ms",
			local(9) + "  request   bob  api.openai.com  POST /v1/messages  200 forwarded  github-pat  12ms",
		}},
		{"none", []string{"--principal", "nobody"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := runAudit(append([]string{"tail", "--data-dir", dir}, tt.args...)...)
			if code != 0 {
				t.Fatalf("got exit %d: %s", code, errs)
			}
			got := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			if out == "" {
				got = nil
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}

	// --json prints the lines as they are.
	code, out, _ := runAudit("tail", "--json", "-n", "1", "--type", "request", filepath.Join(dir, auditFile))
	b, _ := os.ReadFile(filepath.Join(dir, auditFile))
	if code != 0 || !strings.HasPrefix(out, `{"seq":`) || !bytes.Contains(b, []byte(out)) {
		t.Errorf("--json: got exit %d, %q; want a line of the file", code, out)
	}
	// A field cannot drive the terminal.
	var buf bytes.Buffer
	w := audit.New(&buf)
	_ = w.Write(audit.Record{Principal: "evil\x1b[2J\u202e", Host: "h"})
	e := &tailer{out: &bytes.Buffer{}, errOut: &bytes.Buffer{}}
	if s, _ := e.render(bytes.TrimSpace(buf.Bytes())); strings.ContainsAny(s, "\x1b\u202e") || !strings.Contains(s, "evil?[2J?") {
		t.Errorf("got %q, want control characters replaced", s)
	}
	if code, _, _ := runAudit("tail", filepath.Join(dir, "none")); code != 2 {
		t.Errorf("missing file: got exit %d, want 2", code)
	}
}

// tail -f prints records as they are written, across rotation, none twice.
func TestAuditTailFollow(t *testing.T) {
	defer func(d time.Duration) { tailPoll = d }(tailPoll)
	tailPoll = 10 * time.Millisecond
	dir := t.TempDir()
	path := filepath.Join(dir, auditFile)
	w, err := audit.OpenFile(path, audit.Options{MaxBytes: 1500, Keep: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for i := range 3 {
		if err := w.Write(auditRecord(i)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	out, errs := &syncBuf{}, &syncBuf{}
	done := make(chan int)
	go func() { done <- auditTail(ctx, []string{"-f", "-n", "2", "--type", "request", path}, nil, out, errs) }()

	waitFor := func(n int) []string {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			ids := regexp.MustCompile(`req_\d+|/v1/messages`).FindAllString(out.String(), -1)
			if len(ids) >= n || time.Now().After(deadline) {
				return strings.Split(strings.TrimSpace(out.String()), "\n")
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if got := waitFor(2); len(got) != 2 {
		t.Fatalf("got %d lines before writing, want the last 2:\n%s", len(got), out)
	}
	for i := 3; i < 30; i++ {
		if err := w.Write(auditRecord(i)); err != nil {
			t.Fatal(err)
		}
	}
	got := waitFor(29)
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("got exit %d: %s", code, errs)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("tail -f did not stop when its context ended")
	}
	if files, _ := audit.Files(path); len(files) < 3 {
		t.Fatalf("got %d files, want the log rotated while followed", len(files))
	}
	if len(got) != 29 {
		t.Fatalf("got %d lines, want 29 (records 1-29, each once):\n%s", len(got), strings.Join(got, "\n"))
	}
	for i, l := range got {
		want := auditRecord(i + 1)
		if !strings.Contains(l, want.Time.Local().Format("15:04:05")+"  request   "+want.Principal+"  "+want.Host) {
			t.Errorf("line %d: got %q, want record %d", i, l, i+1)
		}
	}
}

// auditSettings are the serveConfig fields of the audit trail and prompt capture.
type auditSettings struct {
	AuditMaxBytes    int64
	AuditKeep        int
	AuditRedis       bool
	AuditRedisMaxLen int64
	Capture          bool
	CaptureMaxAge    time.Duration
	CaptureMaxBytes  int64
}

func TestAuditConfigFlags(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(cfgFile, []byte("audit_max_bytes: 5000\naudit_keep: 3\naudit_redis: false\naudit_redis_maxlen: 50\ncapture:\n  enabled: true\n  max_age: 1h\n  max_bytes: 1000\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		want    auditSettings
		wantErr string
	}{
		{"defaults", nil, auditSettings{AuditMaxBytes: 100 << 20, AuditKeep: 10, AuditRedis: true, AuditRedisMaxLen: 1_000_000, CaptureMaxAge: 24 * time.Hour, CaptureMaxBytes: 1 << 30}, ""},
		{"file", []string{"--config", cfgFile}, auditSettings{AuditMaxBytes: 5000, AuditKeep: 3, AuditRedisMaxLen: 50, Capture: true, CaptureMaxAge: time.Hour, CaptureMaxBytes: 1000}, ""},
		{"flags win", []string{"--config", cfgFile, "--audit-keep", "0", "--audit-redis=true", "--capture=false", "--capture-max-age", "2h", "--audit-max-bytes", "0"},
			auditSettings{AuditMaxBytes: 0, AuditKeep: 0, AuditRedis: true, AuditRedisMaxLen: 50, CaptureMaxAge: 2 * time.Hour, CaptureMaxBytes: 1000}, ""},
		{"bad age", []string{"--capture-max-age", "soon"}, auditSettings{}, "capture.max_age"},
		{"negative keep", []string{"--audit-keep", "-1"}, auditSettings{}, "audit_keep"},
		{"zero capture bytes", []string{"--capture-max-bytes", "0"}, auditSettings{}, "capture.max_bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseServe(append([]string{"--data-dir", dir}, tt.args...))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want an error mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := auditSettings{c.AuditMaxBytes, c.AuditKeep, c.AuditRedis, c.AuditRedisMaxLen, c.Capture, c.CaptureMaxAge, c.CaptureMaxBytes}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// serve opens the capture store only when capture is on, in <data-dir>/captures.
func TestAuditOpenCaptures(t *testing.T) {
	dir := t.TempDir()
	cfg, err := parseServe([]string{"--data-dir", dir})
	if err != nil {
		t.Fatal(err)
	}
	if c, err := openCaptures(cfg); c != nil || err != nil {
		t.Fatalf("capture off: got %v, %v; want no store", c, err)
	}
	cfg, err = parseServe([]string{"--data-dir", dir, "--capture", "--capture-max-bytes", "10"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := openCaptures(cfg)
	if err != nil || c == nil {
		t.Fatalf("capture on: got %v, %v", c, err)
	}
	if err := c.Put("req_1", []byte("0123456789")); err != nil {
		t.Fatal(err)
	}
	if err := c.Put("req_2", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Get("req_1"); ok {
		t.Error("req_1 kept past --capture-max-bytes")
	}
	fi, err := os.Stat(filepath.Join(dir, capturesDir))
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("captures directory: got %v, %v; want mode 0700", fi, err)
	}
}

// Two real replicas on one real Redis write one shared stream, each its own chain,
// and rotate their files; `audit verify` checks both, and sees an entry deleted.
func TestAuditReplicasShareOneStream(t *testing.T) {
	bin := buildBinary(t)
	rs, rc, prefix := testutil.RedisServer(t)
	up := fakeapi.Start(t, fakeapi.Options{})
	dir := t.TempDir()
	upCA := writeUpstreamCA(t, up, dir)
	key, _ := tokenize.GenerateMasterKey()
	env := []string{masterKeyEnv + "=" + base64.StdEncoding.EncodeToString(key)}
	redisURL := "redis://" + rs.Addr() + "/0"
	secret := "ghp_" + "R8cJ2mWq7Lx9TzK4vNp3Ys6Hd1Fb0Ge5Ua2S"
	var datas []string
	for _, name := range []string{"a", "b"} {
		data := filepath.Join(dir, name)
		datas = append(datas, data)
		addr, _, stderr, stop := startWithEnv(t, bin, env, "--data-dir", data, "--redis", redisURL, "--redis-prefix", prefix,
			"--intercept", "localhost", "--upstream-ca", upCA, "--audit-max-bytes", "1500", "--audit-keep", "5")
		pool := x509.NewCertPool()
		ca, _ := os.ReadFile(filepath.Join(data, "ca.pem"))
		pool.AppendCertsFromPEM(ca)
		tr := &http.Transport{Proxy: http.ProxyURL(&url.URL{Scheme: "http", Host: addr, User: url.UserPassword("agent-"+name, "x")}), TLSClientConfig: &tls.Config{RootCAs: pool}}
		for range 3 {
			body := `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"GITHUB_TOKEN=` + secret + `"}]}`
			resp, err := (&http.Client{Transport: tr}).Post("https://localhost:"+strings.Split(up.Addr, ":")[1]+"/v1/messages", "application/json", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, stderr)
			}
		}
		tr.CloseIdleConnections()
		stop() // flushes the stream
	}
	lines := 0
	for _, data := range datas {
		files, _ := audit.Files(filepath.Join(data, auditFile))
		if len(files) < 2 {
			t.Errorf("%s: got %d audit files, want rotation", data, len(files))
		}
		for _, f := range files {
			b, _ := os.ReadFile(f)
			lines += bytes.Count(b, []byte("\n"))
			if bytes.Contains(b, []byte(secret)) {
				t.Fatal("the secret reached the audit trail")
			}
		}
		if code, out, errs := runAudit("verify", "--data-dir", data); code != 0 || !strings.HasPrefix(out, "ok: ") {
			t.Errorf("%s: got exit %d: %s%s", data, code, out, errs)
		}
	}
	code, out, errs := runAudit("verify", "--redis", redisURL, "--redis-prefix", prefix)
	if want := fmt.Sprintf("ok: %d records, 2 chains intact\n", lines); code != 0 || !strings.HasPrefix(out, want) {
		t.Fatalf("verify --redis: got exit %d, %q%s; want %q", code, out, errs, want)
	}
	code, out, _ = runAudit("tail", "--data-dir", datas[1], "--type", "request", "-n", "1")
	if code != 0 || !regexp.MustCompile(`  request   agent-b  localhost  POST /v1/messages  200 forwarded  [a-z-]+  \d+ms\n$`).MatchString(out) {
		t.Errorf("tail: got exit %d, %q", code, out)
	}

	msgs, err := rc.XRange(context.Background(), prefix+"audit", "-", "+").Result()
	if err != nil || len(msgs) != lines {
		t.Fatalf("got %d entries, %v; want %d", len(msgs), err, lines)
	}
	if err := rc.XDel(context.Background(), prefix+"audit", msgs[2].ID).Err(); err != nil {
		t.Fatal(err)
	}
	code, out, _ = runAudit("verify", "--redis", redisURL, "--redis-prefix", prefix)
	if code != 1 || !strings.Contains(out, "broken: "+prefix+"audit entry ") || !strings.Contains(out, "deleted") {
		t.Errorf("entry deleted: got exit %d, %q; want broken, deleted", code, out)
	}
}
