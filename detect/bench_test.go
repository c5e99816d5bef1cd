package detect

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// benchChunks is agent traffic without secrets: prose, code, JSON and YAML that
// mention tokens, passwords, keys, URLs, hashes and ids the way real prompts do.
var benchChunks = []string{
	"I looked at the failing test. The handler reads the session token from the cookie, " +
		"but the middleware already rotated it, so the second request sees a stale value. " +
		"We should pass the refreshed token through the context instead of re-reading it. ",
	"```go\nfunc (s *Server) login(w http.ResponseWriter, r *http.Request) {\n" +
		"\tuser := r.FormValue(\"user\")\n\tpassword := r.FormValue(\"password\")\n" +
		"\tif err := s.auth.Check(r.Context(), user, password); err != nil {\n" +
		"\t\thttp.Error(w, \"invalid credentials\", http.StatusUnauthorized)\n\t\treturn\n\t}\n" +
		"\ttoken, err := s.sessions.Issue(user)\n\tif err != nil {\n\t\treturn\n\t}\n" +
		"\thttp.SetCookie(w, &http.Cookie{Name: \"session\", Value: token, HttpOnly: true})\n}\n```\n",
	`{"model": "claude-sonnet-4-5", "max_tokens": 8192, "stream": true, "messages": [{"role": "user", ` +
		`"content": [{"type": "tool_result", "tool_use_id": "toolu_01AbCdEfGhIjKlMnOpQrStUv", ` +
		`"content": "ok"}]}], "usage": {"input_tokens": 1532, "cache_read_input_tokens": 20480, "output_tokens": 311}}` + "\n",
	"```yaml\nservices:\n  api:\n    image: ghcr.io/acme/api:1.4.2\n    environment:\n" +
		"      DATABASE_URL: ${DATABASE_URL}\n      LOG_LEVEL: info\n    ports:\n      - \"8080:8080\"\n" +
		"  db:\n    image: postgres:16\n    volumes:\n      - pgdata:/var/lib/postgresql/data\n```\n",
	"Run `git log --oneline` and you will see 3f786850e387550fdab836ed7e6dc881de23001b at the top; " +
		"the request id was 550e8400-e29b-41d4-a716-446655440000 and the package-lock entry has " +
		"\"integrity\": \"sha512-Q2FzdGxlIGluIHRoZSBza3kgd2l0aCBjbG91ZHMgYW5kIHJhaW4gYW5kIHN1bg==\". ",
	"```python\nimport os\nimport requests\n\nAPI_URL = \"https://api.example.org/v1/items\"\n\n" +
		"def fetch(session, page_token=None):\n    params = {\"page_size\": 100}\n" +
		"    if page_token:\n        params[\"page_token\"] = page_token\n" +
		"    resp = session.get(API_URL, params=params, timeout=30)\n    resp.raise_for_status()\n" +
		"    return resp.json()\n```\n",
	"The tokenizer splits the input into tokens before the model sees it; the authentication layer " +
		"is separate and uses short-lived credentials from the metadata server. Keys are rotated every " +
		"ninety days, and the secret manager keeps the previous version for rollback. ",
	"$ go test ./... -run TestAuth -count=1\nok  \tgithub.com/acme/api/auth\t0.412s\n" +
		"$ curl -s https://pkg.go.dev/golang.org/x/net@v0.30.0 | head\n" +
		"github.com/acme/api v1.2.3 h1:Zm9vYmFyYmF6cXV4cXV1eHF1dXoxMjM0NTY3ODkwYWJjZA=\n",
	"diff --git a/internal/auth/token.go b/internal/auth/token.go\nindex 1a2b3c4..5d6e7f8 100644\n" +
		"--- a/internal/auth/token.go\n+++ b/internal/auth/token.go\n@@ -12,7 +12,7 @@\n" +
		"-\tconst tokenTTL = 15 * time.Minute\n+\tconst tokenTTL = 30 * time.Minute\n",
	"| name | type | description |\n|---|---|---|\n| api_key | string | Key sent in the X-Api-Key header |\n" +
		"| password | string | Minimum 12 characters |\n| bearer | bool | Use bearer auth |\n",
}

// benchSecrets are planted in benchText when asked for.
func benchSecrets() []string {
	return []string{
		"GITHUB_TOKEN=" + githubToken("ghp_", "bench") + "\n",
		"aws_access_key_id = AKIA" + fake("benchak", csUpper, 16) + "\naws_secret_access_key = " + fake("benchsk", csB64, 40) + "\n",
		"DATABASE_URL=postgres://app:" + fake("benchpg", csAlnum, 16) + "@db.internal:5432/app\n",
		fakePEM("RSA PRIVATE KEY", "bench", 12, "\n") + "\n",
		`{"client_secret": "` + fake("benchcs", csAlnum, 32) + `"}` + "\n",
		"Authorization: Bearer " + fakeJWT("bench") + "\n",
	}
}

// benchText returns about size bytes of agent-like text; with planted, a secret is
// inserted every 4 KiB or so.
func benchText(size int, planted bool) string {
	var b strings.Builder
	b.Grow(size + 4096)
	secrets := benchSecrets()
	next := 2048
	for i := 0; b.Len() < size; i++ {
		b.WriteString(benchChunks[i%len(benchChunks)])
		if i%len(benchChunks) == 0 {
			b.WriteString("Step " + strconv.Itoa(i) + " done.\n")
		}
		if planted && b.Len() >= next {
			b.WriteString(secrets[(next/4096)%len(secrets)])
			next += 4096
		}
	}
	return b.String()[:size]
}

func BenchmarkScan(b *testing.B) {
	d := newDefault(b)
	for _, size := range []int{10 << 10, 100 << 10, 1 << 20} {
		for _, planted := range []bool{false, true} {
			name := fmt.Sprintf("%dKB/planted=%v", size>>10, planted)
			in := []byte(benchText(size, planted))
			b.Run(name, func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(in)))
				for b.Loop() {
					d.Scan(in)
				}
			})
		}
	}
}

func BenchmarkScanNoKeywords(b *testing.B) {
	d := newDefault(b)
	in := []byte(strings.Repeat("The quick brown fox jumps over the lazy dog while we refactor the parser. ", 14000))
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		d.Scan(in)
	}
}

func BenchmarkScanField(b *testing.B) {
	d := newDefault(b)
	v := []byte(fake("benchfield", csAlnum, 40))
	b.ReportAllocs()
	for b.Loop() {
		d.ScanField("client_secret", v)
	}
}

func BenchmarkKnownSet(b *testing.B) {
	k := NewKnownSet(0)
	for i := 0; i < 1000; i++ {
		k.Add([]byte(fake("known"+strconv.Itoa(i), csAlnum, 24+i%40)), "secret", "known")
	}
	for _, planted := range []bool{false, true} {
		text := benchText(1<<20, false)
		if planted {
			var sb strings.Builder
			for i := 0; i < len(text); i += 8192 {
				sb.WriteString(text[i:min(len(text), i+8192)])
				sb.WriteString(fake("known"+strconv.Itoa(i%1000), csAlnum, 24+(i%1000)%40))
			}
			text = sb.String()
		}
		in := []byte(text)
		b.Run(fmt.Sprintf("1000values/1MB/planted=%v", planted), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				k.Scan(in)
			}
		})
	}
}

// BenchmarkScanAdversarial measures inputs built to make rule bodies do the most
// work per keyword hit; each must stay linear.
func BenchmarkScanAdversarial(b *testing.B) {
	d := newDefault(b)
	cases := map[string]string{
		"pem-begins":   "-----BEGIN RSA PRIVATE KEY-----\n" + fake("adv", csB64, 40) + "\n",
		"assignments":  "token=token=",
		"quoted":       `password="`,
		"uri":          "postgres://u:",
		"bearer":       "Bearer ",
		"jwt-prefixes": "eyJ.",
		"keywords":     "secret token pass auth AKIA SK ghp_ ",
		// Repeated keywords: each hit lands inside the window of the one before.
		"openai-prefix": "sk-proj-",
		"aws-secret":    "aws_secret=",
		"authorization": "authorization",
		"twilio":        "twilio ",
		"glpat":         "glpat-",
		"basic-auth":    "Authorization: Basic ",
	}
	for name, unit := range cases {
		in := []byte(strings.Repeat(unit, (1<<20)/len(unit)))
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				d.Scan(in)
			}
		})
	}
}

// BenchmarkKnownSetSharedPrefix scans text dense with a prefix that every held value
// shares (the JWT header), so each position probes one crowded index bucket.
func BenchmarkKnownSetSharedPrefix(b *testing.B) {
	const header = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
	for _, n := range []int{100, 5000} {
		k := NewKnownSet(0)
		for i := 0; i < n; i++ {
			k.Add(fmt.Appendf(nil, "%s%08dabcdefgh", header, i), "jwt", "known")
		}
		in := []byte(strings.Repeat(header, (1<<20)/len(header)))
		b.Run(fmt.Sprintf("%dvalues/1MB", n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				k.Scan(in)
			}
		})
	}
}
