package bench

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"strings"
)

// gen writes the text of one corpus. It is not safe for concurrent use.
type gen struct {
	r     *rand.Rand
	sec   Secrets
	repo  string
	think *thinkingBlock // for the next assistant message
	next  *turnKind      // kind of the next turn, if set
}

// Vocabulary of the generated code and prose.
var (
	nouns = []string{"invoice", "account", "tenant", "order", "payment", "webhook", "report",
		"export", "upload", "session", "handler", "cache", "worker", "queue", "migration",
		"schema", "router", "client", "customer", "ledger", "subscription", "plan", "event"}
	verbs = []string{"load", "parse", "build", "handle", "sync", "list", "update", "create",
		"delete", "validate", "render", "fetch", "resolve", "apply", "retry", "flush"}
	pkgs    = []string{"api", "billing", "db", "storage", "auth", "jobs", "httpx", "config", "metrics"}
	authors = []string{"Dana Whitfield <dana@acme.dev>", "Ravi Menon <ravi.menon@acme.dev>",
		"Lea Novak <lea@acme.dev>", "Tomás Ortega <tomas@acme.dev>", "dependabot[bot] <49699333+dependabot[bot]@users.noreply.github.com>"}
	npmPkgs = []string{"express", "zod", "pg", "ioredis", "pino", "undici", "vitest", "esbuild",
		"@aws-sdk/client-s3", "@types/node", "typescript", "eslint", "prettier", "dotenv", "jsonwebtoken", "uuid"}
	sentences = []string{
		"The %s %s reads the config once at startup, so a changed value only shows up after a restart.",
		"I think the failing test is a race: %s runs before the %s is registered.",
		"Looking at %s, the retry loop never backs off, which explains the burst of 5xx in the logs.",
		"The migration adds a NOT NULL column to %s without a default, and that fails on existing rows.",
		"We should pass the %s through the context instead of reading it from a package variable in %s.",
		"The error comes from the %s layer: the %s is closed before the response is written.",
		"This matches what the stack trace says; the nil pointer is the %s field of %s.",
		"Running the whole suite takes about forty seconds, most of it in the %s integration tests.",
		"I'll keep the public API of %s unchanged and only touch the internals of %s.",
		"Both call sites pass a %s, so the extra parameter on %s can go.",
		"The YAML sets replicas to three but the HPA overrides it; that is why %s scales to one at night.",
		"The lock file pins %s to an old minor version, and %s needs the newer one.",
		"I compared the two commits: only %s changed, and the %s test started failing right after.",
		"Let me know if you would rather keep %s as it is and fix the %s caller instead.",
		"The request id in the log lets us follow the %s through the %s and the worker.",
		"Caching the %s per tenant cuts the p99 of %s from 180 ms to about 40 ms in the benchmark.",
	}
	remarks = []string{
		"ok, go on", "Makes sense.", "Can you also check the tests?", "Hmm, that's not what I expected.",
		"Yes, keep going.", "Don't change the public API please.", "good catch",
		"That file is generated, don't edit it by hand.", "Try running only the billing tests.",
		"Looks right to me.", "Wait, why is that one failing now?", "Please keep the diff small.",
	}
)

func (g *gen) of(list []string) string { return list[g.r.IntN(len(list))] }

func (g *gen) ident() string {
	n := g.of(nouns)
	return g.of(verbs) + strings.ToUpper(n[:1]) + n[1:]
}

func (g *gen) typeName() string {
	n := g.of(nouns)
	return strings.ToUpper(n[:1]) + n[1:]
}

func (g *gen) uuid() string {
	h := pick(g.r, hexd, 32)
	return h[:8] + "-" + h[8:12] + "-4" + h[13:16] + "-" + string("89ab"[g.r.IntN(4)]) + h[17:20] + "-" + h[20:]
}

func (g *gen) path(rel string) string { return "/home/dev/" + g.repo + "/" + rel }

// sentence returns one sentence of agent prose.
func (g *gen) sentence() string {
	s := g.of(sentences)
	args := make([]any, strings.Count(s, "%s"))
	for i := range args {
		if g.r.IntN(2) == 0 {
			args[i] = g.of(nouns)
		} else {
			args[i] = "`" + g.ident() + "`"
		}
	}
	return fmt.Sprintf(s, args...)
}

// prose returns sentences of about n bytes in paragraphs.
func (g *gen) prose(n int) string {
	var b strings.Builder
	for b.Len() < n {
		b.WriteString(g.sentence())
		if g.r.IntN(4) == 0 {
			b.WriteString("\n\n")
		} else {
			b.WriteByte(' ')
		}
	}
	return strings.TrimSpace(b.String())
}

func (g *gen) systemPrompt(n int) string {
	return "You are an interactive CLI agent that helps users with software engineering tasks. " +
		"Use the tools available to you to read, search and edit files and to run commands. " +
		"Never guess file contents: read them first. Keep answers short.\n\n" +
		"<env>\nWorking directory: " + g.path("") + "\nIs directory a git repo: Yes\nPlatform: linux\n" +
		"Today's date: 2025-03-03\n</env>\n\n# Project notes\n\n" + g.prose(n)
}

// fill returns whole pieces from next until there are at least n bytes, cut back to
// the last line end at or before n when that leaves something.
func fill(n int, next func() string) string {
	n = max(n, 1)
	var b strings.Builder
	for b.Len() < n {
		b.WriteString(next())
	}
	s := b.String()
	if i := strings.LastIndexByte(s[:n], '\n'); i > 0 {
		return s[:i+1]
	}
	return s
}

// numbered formats file text as the Read tool returns it: right-aligned line numbers
// and an arrow.
func numbered(text string) string {
	var b strings.Builder
	for i, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		fmt.Fprintf(&b, "%6d→%s\n", i+1, line)
	}
	return b.String()
}

// turnKind is one kind of filler exchange: what the tool does and how big its result
// naturally is.
type turnKind struct {
	weight   int
	min, max int // natural result size in bytes
	make     func(g *gen, n int, say string) (a, u []byte)
}

// Indexes in turnKinds: grepKind is the smallest kind, used when little budget is left.
const (
	grepKind  = 7
	imageKind = 9
)

var turnKinds = []turnKind{
	{4, 2 << 10, 12 << 10, (*gen).readGo},
	{2, 2 << 10, 8 << 10, (*gen).readPython},
	{2, 1 << 10, 5 << 10, (*gen).readYAML},
	{1, 4 << 10, 16 << 10, (*gen).readLock},
	{2, 512, 4 << 10, (*gen).goTest},
	{1, 2 << 10, 8 << 10, (*gen).gitLog},
	{2, 2 << 10, 10 << 10, (*gen).dockerLogs},
	grepKind: {2, 512, 3 << 10, (*gen).grep},
	{2, 1 << 10, 4 << 10, (*gen).edit},
	imageKind: {1, 16 << 10, 60 << 10, (*gen).image},
}

var totalWeight = func() (n int) {
	for _, k := range turnKinds {
		n += k.weight
	}
	return n
}()

// turn returns one filler exchange of about want bytes (exactly want when fill is set,
// else the kind's natural size capped by want). When known is set, the assistant's
// text repeats the AWS secret in plain prose, where no pattern can match it.
func (g *gen) turn(want int, fill, known bool) (a, u []byte) {
	n := max(want-700, 200) * 7 / 8 // JSON escaping and line numbers add to the text
	k := g.kind()
	if g.next != nil {
		k, g.next = *g.next, nil
	}
	for try := 0; !fill && n < k.min/2; try++ {
		if try == 8 {
			k = turnKinds[grepKind]
			break
		}
		k = g.kind()
	}
	if !fill {
		n = min(n, k.min+g.r.IntN(k.max-k.min))
	}
	if want >= 4<<10 && g.r.IntN(10) < 3 {
		g.think = &thinkingBlock{"thinking", g.prose(200 + g.r.IntN(600)), base64.StdEncoding.EncodeToString(randBytes(g.r, 240+g.r.IntN(240)))}
		n = max(n-len(g.think.Thinking)-len(g.think.Signature), 200)
	}
	say := g.prose(60 + g.r.IntN(300))
	if known {
		say = "The key pair in .env.staging works from my machine; the CI runner still has the old one, so I'll leave " +
			g.sec.AWSSecret + " in place there until you rotate it. " + say
	}
	return k.make(g, n, say)
}

// kind picks a turn kind by weight.
func (g *gen) kind() turnKind {
	w := g.r.IntN(totalWeight)
	for _, k := range turnKinds {
		if w -= k.weight; w < 0 {
			return k
		}
	}
	return turnKinds[0]
}

func (g *gen) goFunc() string {
	t, f, col := g.typeName(), g.ident(), g.of(nouns)
	switch g.r.IntN(3) {
	case 0:
		return fmt.Sprintf("// %s returns the %s with the given id, or ErrNotFound.\n"+
			"func (s *Store) %s(ctx context.Context, id string) (*%s, error) {\n"+
			"\trow := s.db.QueryRowContext(ctx, `SELECT id, tenant_id, created_at FROM %ss WHERE id = $1`, id)\n"+
			"\tvar out %s\n"+
			"\tif err := row.Scan(&out.ID, &out.TenantID, &out.CreatedAt); err != nil {\n"+
			"\t\tif errors.Is(err, sql.ErrNoRows) {\n\t\t\treturn nil, ErrNotFound\n\t\t}\n"+
			"\t\treturn nil, fmt.Errorf(\"%s %%s: %%w\", id, err)\n\t}\n\treturn &out, nil\n}\n\n",
			f, col, f, t, col, t, f)
	case 1:
		return fmt.Sprintf("func (h *Handler) %s(w http.ResponseWriter, r *http.Request) {\n"+
			"\tctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)\n\tdefer cancel()\n"+
			"\titems, err := h.svc.%s(ctx, r.URL.Query().Get(\"cursor\"))\n"+
			"\tif err != nil {\n\t\th.log.Error(\"%s failed\", \"err\", err, \"path\", r.URL.Path)\n"+
			"\t\thttp.Error(w, \"internal error\", http.StatusInternalServerError)\n\t\treturn\n\t}\n"+
			"\tw.Header().Set(\"Content-Type\", \"application/json\")\n"+
			"\t_ = json.NewEncoder(w).Encode(map[string]any{\"data\": items, \"count\": len(items)})\n}\n\n",
			f, g.ident(), f)
	default:
		return fmt.Sprintf("// %s is one row of the %s table.\ntype %s struct {\n"+
			"\tID        string    `json:\"id\"`\n\tTenantID  string    `json:\"tenant_id\"`\n"+
			"\tAmount    int64     `json:\"amount\"` // in cents\n\tCreatedAt time.Time `json:\"created_at\"`\n}\n\n",
			t, col, t)
	}
}

func (g *gen) readGo(n int, say string) (a, u []byte) {
	pkg := g.of(pkgs)
	head := "package " + pkg + "\n\nimport (\n\t\"context\"\n\t\"database/sql\"\n\t\"encoding/json\"\n\t\"errors\"\n\t\"fmt\"\n\t\"net/http\"\n\t\"time\"\n)\n\n"
	src := fill(n, func() string { s := head + g.goFunc(); head = ""; return s })
	return g.exchange(say, "Read", readInput{FilePath: g.path("internal/" + pkg + "/" + g.of(nouns) + ".go")},
		numbered(src), g.of(remarks))
}

func (g *gen) readPython(n int, say string) (a, u []byte) {
	head := "import os\nimport logging\n\nimport requests\n\nAPI_URL = os.environ.get(\"ACME_API_URL\", \"https://api.acme.dev/v1\")\nlog = logging.getLogger(__name__)\n\n\n"
	src := fill(n, func() string {
		f, col := strings.ToLower(g.of(verbs)+"_"+g.of(nouns)), g.of(nouns)
		s := head + fmt.Sprintf("def %s(session: requests.Session, tenant_id: str, limit: int = 100) -> list[dict]:\n"+
			"    \"\"\"Return the %ss of tenant_id, newest first.\"\"\"\n"+
			"    resp = session.get(f\"{API_URL}/tenants/{tenant_id}/%ss\", params={\"limit\": limit}, timeout=30)\n"+
			"    if resp.status_code == 404:\n        log.warning(\"tenant %%s has no %ss\", tenant_id)\n        return []\n"+
			"    resp.raise_for_status()\n    return sorted(resp.json()[\"data\"], key=lambda x: x[\"created_at\"], reverse=True)\n\n\n",
			f, col, col, col)
		head = ""
		return s
	})
	return g.exchange(say, "Read", readInput{FilePath: g.path("scripts/" + g.of(nouns) + "_report.py")}, numbered(src), g.of(remarks))
}

func (g *gen) readYAML(n int, say string) (a, u []byte) {
	src := fill(n, func() string {
		name := g.repo + "-" + g.of(nouns)
		return fmt.Sprintf("---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: %s\n  labels:\n    app: %s\nspec:\n"+
			"  replicas: %d\n  selector:\n    matchLabels:\n      app: %s\n  template:\n    spec:\n      containers:\n"+
			"        - name: %s\n          image: ghcr.io/acme/%s:sha-%s\n          ports:\n            - containerPort: 8080\n"+
			"          env:\n            - name: DATABASE_URL\n              valueFrom:\n                secretKeyRef:\n"+
			"                  name: %s-db\n                  key: url\n            - name: LOG_LEVEL\n              value: info\n"+
			"          resources:\n            limits:\n              memory: 512Mi\n              cpu: 500m\n",
			name, name, 1+g.r.IntN(4), name, g.of(nouns), g.repo, pick(g.r, hexd, 7), name)
	})
	return g.exchange(say, "Read", readInput{FilePath: g.path("deploy/k8s/" + g.of(nouns) + ".yaml")}, numbered(src), g.of(remarks))
}

func (g *gen) readLock(n int, say string) (a, u []byte) {
	src := fill(n, func() string {
		p := g.of(npmPkgs)
		v := fmt.Sprintf("%d.%d.%d", g.r.IntN(9), g.r.IntN(30), g.r.IntN(20))
		base := p[strings.LastIndexByte(p, '/')+1:]
		return fmt.Sprintf("    \"node_modules/%s\": {\n      \"version\": \"%s\",\n"+
			"      \"resolved\": \"https://registry.npmjs.org/%s/-/%s-%s.tgz\",\n"+
			"      \"integrity\": \"sha512-%s\",\n      \"dev\": %v,\n      \"license\": \"MIT\"\n    },\n",
			p, v, p, base, v, base64.StdEncoding.EncodeToString(randBytes(g.r, 64)), g.r.IntN(2) == 0)
	})
	return g.exchange(say, "Read", readInput{FilePath: g.path("web/package-lock.json"), Offset: 1 + g.r.IntN(4000), Limit: 400},
		numbered(src), g.of(remarks))
}

func (g *gen) goTest(n int, say string) (a, u []byte) {
	out := fill(n, func() string {
		v := g.of(verbs)
		t := "Test" + g.typeName() + strings.ToUpper(v[:1]) + v[1:]
		if g.r.IntN(6) == 0 {
			return fmt.Sprintf("=== RUN   %s\n    %s_test.go:%d: got status 500, want 200\n--- FAIL: %s (0.%02ds)\n",
				t, g.of(nouns), 20+g.r.IntN(200), t, g.r.IntN(100))
		}
		return fmt.Sprintf("=== RUN   %s\n--- PASS: %s (0.%02ds)\n", t, t, g.r.IntN(100))
	}) + fmt.Sprintf("FAIL\nFAIL\tgithub.com/acme/%s/internal/%s\t%d.%03ds\nok  \tgithub.com/acme/%s/internal/%s\t0.%03ds\n",
		g.repo, g.of(pkgs), g.r.IntN(9), g.r.IntN(1000), g.repo, g.of(pkgs), g.r.IntN(1000))
	return g.exchange(say, "Bash", bashInput{"go test ./internal/... -count=1 -v 2>&1 | tail -200", "Run the internal tests"}, out, g.of(remarks))
}

func (g *gen) gitLog(n int, say string) (a, u []byte) {
	out := fill(n, func() string {
		files := 1 + g.r.IntN(3)
		ins, del := g.r.IntN(80), g.r.IntN(40)
		return fmt.Sprintf("commit %s\nAuthor: %s\nDate:   Mon Mar %d %02d:%02d:%02d 2025 +0100\n\n    %s(%s): %s %s\n\n"+
			" internal/%s/%s.go | %d %s\n %d files changed, %d insertions(+), %d deletions(-)\n\n",
			pick(g.r, hexd, 40), g.of(authors), 1+g.r.IntN(28), g.r.IntN(24), g.r.IntN(60), g.r.IntN(60),
			[]string{"fix", "feat", "chore", "refactor"}[g.r.IntN(4)], g.of(pkgs), g.of(verbs), g.of(nouns),
			g.of(pkgs), g.of(nouns), ins+del, strings.Repeat("+", min(ins, 30))+strings.Repeat("-", min(del, 20)), files, ins, del)
	})
	return g.exchange(say, "Bash", bashInput{"git log -n 30 --stat", "Show recent commits"}, out, g.of(remarks))
}

func (g *gen) dockerLogs(n int, say string) (a, u []byte) {
	out := fill(n, func() string {
		status := []int{200, 200, 200, 201, 204, 404, 500}[g.r.IntN(7)]
		return fmt.Sprintf("api-1  | 2025-03-03T14:%02d:%02d.%03dZ INFO request method=%s path=/v1/%ss/%s status=%d duration_ms=%d request_id=%s\n",
			g.r.IntN(60), g.r.IntN(60), g.r.IntN(1000), []string{"GET", "POST", "PATCH"}[g.r.IntN(3)],
			g.of(nouns), g.uuid(), status, 1+g.r.IntN(400), g.uuid())
	})
	return g.exchange(say, "Bash", bashInput{"docker compose logs api --tail 200", "Show the API container logs"}, out, g.of(remarks))
}

func (g *gen) grep(n int, say string) (a, u []byte) {
	word := g.ident()
	out := fill(n, func() string {
		return fmt.Sprintf("internal/%s/%s.go:%d:\titems, err := h.svc.%s(ctx, tenantID)\n", g.of(pkgs), g.of(nouns), 10+g.r.IntN(400), word)
	})
	return g.exchange(say, "Grep", grepInput{word + `\(`, g.path("internal"), "content"}, out, g.of(remarks))
}

func (g *gen) edit(n int, say string) (a, u []byte) {
	old := g.goFunc()
	neu := strings.Replace(old, "ctx", "ctx2", 1)
	file := g.path("internal/" + g.of(pkgs) + "/" + g.of(nouns) + ".go")
	snippet := fill(max(n-len(old)-len(neu), 200), g.goFunc)
	return g.exchange(say, "Edit", editInput{file, old, neu},
		"The file "+file+" has been updated. Here's the result of running `cat -n` on a snippet of the edited file:\n"+numbered(snippet),
		g.of(remarks))
}

// image returns a screenshot exchange: as a Read tool result, or pasted by the user
// next to the output of a build.
func (g *gen) image(n int, say string) ([]byte, []byte) {
	png := append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), randBytes(g.r, max(n*3/4, 64))...)
	img := imageBlock{"image", imageSource{"base64", "image/png", base64.StdEncoding.EncodeToString(png)}}
	if g.r.IntN(2) == 0 {
		return g.exchange(say, "Read", readInput{FilePath: g.path("docs/screenshots/" + g.of(nouns) + ".png")}, []any{img}, g.of(remarks))
	}
	return g.exchange(say, "Bash", bashInput{"npm run build --prefix web", "Build the web app"},
		"> web@0.1.0 build\n> vite build\n\nvite v5.4.2 building for production...\n✓ 412 modules transformed.\n✓ built in 3.81s\n",
		"The build passes but the page looks like this:", img)
}
