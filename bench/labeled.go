package bench

import (
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/cloakroom/cloakroom/detect"
)

// Contexts a rule's true-positive sample is planted in. A sample with a Key (a Field
// rule's JSON member) goes into ContextMember and ContextNested only; any other
// sample into the first four, ContextRead only when its secret is on one line and its
// text has no line numbers of its own.
const (
	ContextBash   = "bash"   // Bash tool result, between lines of config
	ContextRead   = "read"   // Read tool result, every line numbered as Claude Code does
	ContextUser   = "user"   // user text block, between sentences
	ContextInput  = "input"  // Edit tool_use input (new_string), between lines of config
	ContextMember = "member" // member of a tool_use input object, under the sample's key
	ContextNested = "nested" // member of JSON text returned by a tool, under the sample's key
)

// Contexts lists the contexts in the order reports use.
var Contexts = []string{ContextBash, ContextRead, ContextUser, ContextInput, ContextMember, ContextNested}

// Hard-negative kinds: values that look random but are no secret, planted where agents
// meet them. None may be flagged.
const (
	NegGitSHA     = "git-sha"     // commit SHAs in git output, commands, URLs, packed-refs
	NegUUID       = "uuid"        // UUIDs in logs, Kubernetes YAML, API JSON, prose
	NegIntegrity  = "integrity"   // sha512/sha384 integrity hashes of npm, yarn, pnpm, SRI
	NegGoSum      = "go-sum"      // go.sum lines and `go mod download -json` sums
	NegDigest     = "digest"      // docker and OCI sha256 digests
	NegPNG        = "base64-png"  // base64 PNG: image blocks (skipped) and data: URLs in text
	NegMinifiedJS = "minified-js" // minified bundles and their inline source maps
	NegToolID     = "tool-id"     // tool-use, message, request and OpenAI call ids
	NegSignature  = "signature"   // thinking signatures: in thinking blocks (skipped) and transcripts
	NegExample    = "doc-example" // documented example values and placeholders
)

// NegativeKinds lists the hard-negative kinds in the order reports use.
var NegativeKinds = []string{NegGitSHA, NegUUID, NegIntegrity, NegGoSum, NegDigest, NegPNG,
	NegMinifiedJS, NegToolID, NegSignature, NegExample}

// Plant labels one string of a labeled body: a rule sample planted in it, or hard
// negatives.
type Plant struct {
	// Path is the walk.Field.Path of the string.
	Path string
	// Negative marks hard negatives; otherwise the string holds a rule's sample.
	Negative bool
	// Kind is the rule ID of a sample, or the hard-negative kind.
	Kind string
	// Class is the rule's class; "" for hard negatives.
	Class string
	// Sample is the index of the sample in the rule's TruePositives.
	Sample int
	// Context is where the sample or negatives sit (Context* for samples; a short
	// description for negatives).
	Context string
	// Secret is the sample's secret. It is a generated fake; still, never print it.
	Secret string
	// Lo and Hi bound the sample's text in the decoded string.
	Lo, Hi int
	// Values is how many hard-negative values the string holds.
	Values int
	// Skipped says the string is one the walker never scans (signed thinking, binary
	// media).
	Skipped bool
}

// LabeledBody is a request body and what was planted in it.
type LabeledBody struct {
	Body   []byte
	Plants []Plant
}

// Labeled returns request bodies of about size bytes that hold, between filler turns
// of the corpus, every true-positive sample of rules in each of its contexts and
// three rounds of every hard-negative kind, in an order fixed by the seed. The
// samples' secrets are the rules' own; everything else is generated.
func (c *Corpus) Labeled(rules []detect.Rule, size int) []LabeledBody {
	l := &labeler{g: c.gen(), size: size}
	var jobs []func()
	for _, r := range rules {
		for i, s := range r.TruePositives {
			for _, ctx := range sampleContexts(s) {
				jobs = append(jobs, func() { l.sample(r, i, s, ctx) })
			}
		}
	}
	for round := 0; round < 3; round++ {
		for _, neg := range negatives {
			for _, f := range neg {
				jobs = append(jobs, func() { f(l) })
			}
		}
	}
	l.g.r.Shuffle(len(jobs), func(i, j int) { jobs[i], jobs[j] = jobs[j], jobs[i] })
	l.start()
	for _, job := range jobs {
		job()
		if l.since++; l.since == 3 {
			l.since = 0
			a, u := l.g.turn(2<<10+l.g.r.IntN(6<<10), false, false)
			l.push(a, u)
		}
		if l.total >= l.size {
			l.flush()
		}
	}
	if len(l.plants) > 0 {
		l.flush()
	}
	return l.out
}

// sampleContexts returns the contexts sample s is planted in.
func sampleContexts(s detect.Sample) []string {
	if s.Key != "" {
		return []string{ContextMember, ContextNested}
	}
	// A secret over several lines would be cut by line numbers; a text that already
	// has them is a Read result already.
	if strings.ContainsAny(s.Secret, "\r\n") || strings.Contains(s.Text, "→") {
		return []string{ContextBash, ContextUser, ContextInput}
	}
	return []string{ContextBash, ContextRead, ContextUser, ContextInput}
}

// labeler builds labeled bodies one exchange at a time.
type labeler struct {
	g      *gen
	size   int
	head   []byte
	msgs   [][]byte
	total  int
	since  int // jobs since the last filler turn
	plants []Plant
	out    []LabeledBody
}

func (l *labeler) start() {
	l.head = l.g.header(l.size, false)
	task := encode(message{"user", []any{textBlock{"text",
		"Audit the config of " + l.g.repo + " before the release: read the env files, the deploy values and the scripts, " +
			"and tell me what looks wrong. Don't change anything yet."}}})
	l.msgs = [][]byte{task}
	l.total = len(l.head) + len(task) + len(tail)
	l.plants = nil
}

// next returns the indexes of the next assistant and user messages.
func (l *labeler) next() (a, u int) { return len(l.msgs), len(l.msgs) + 1 }

func (l *labeler) push(a, u []byte, ps ...Plant) {
	l.msgs = append(l.msgs, a, u)
	l.total += len(a) + len(u) + 2
	l.plants = append(l.plants, ps...)
}

func (l *labeler) flush() {
	l.out = append(l.out, LabeledBody{Body: join(l.head, l.msgs), Plants: l.plants})
	l.start()
}

// Paths of the strings an exchange (see gen.exchange, no thinking block) holds.
func resultPath(u int) string        { return fmt.Sprintf("messages[%d].content[0].content", u) }
func remarkPath(u, extra int) string { return fmt.Sprintf("messages[%d].content[%d].text", u, 1+extra) }
func inputPath(a int, key string) string {
	return fmt.Sprintf("messages[%d].content[1].input.%s", a, key)
}

// Lines of config around planted samples.
var configLines = []string{
	"# staging overrides", "LOG_LEVEL=debug", "PORT=8080", "AWS_REGION=eu-west-1",
	"FEATURE_NEW_BILLING=true", "WORKERS=4", "CACHE_TTL_SECONDS=300", "S3_BUCKET=acme-staging-uploads",
	"SENTRY_ENVIRONMENT=staging", "REQUEST_TIMEOUT=30s", "# keep in sync with deploy/values.yaml",
}

var sampleFiles = []string{"config/staging.env", "deploy/values.yaml", "scripts/setup.sh", ".npmrc",
	"docker-compose.override.yml", "notes/ops.md", "src/settings.py", "internal/config/config.go"}

var userIntros = []string{
	"I found this in %s, is it still used?",
	"This is what %s has on the staging box:",
	"Careful, the old %s had this:",
	"Can you check whether this line from %s is what breaks the deploy?",
}

func (l *labeler) config(n int) string {
	lines := make([]string, n)
	for i := range lines {
		lines[i] = l.g.of(configLines)
	}
	return strings.Join(lines, "\n")
}

// sample plants rule r's true positive i in context ctx.
func (l *labeler) sample(r detect.Rule, i int, s detect.Sample, ctx string) {
	p := Plant{Kind: r.ID, Class: r.Class, Sample: i, Context: ctx, Secret: s.Secret}
	ai, ui := l.next()
	file := l.g.path(l.g.of(sampleFiles))
	var a, u []byte
	switch ctx {
	case ContextBash:
		pre := l.config(1+l.g.r.IntN(3)) + "\n"
		text := pre + s.Text + "\n" + l.config(1+l.g.r.IntN(3)) + "\n"
		p.Path, p.Lo, p.Hi = resultPath(ui), len(pre), len(pre)+len(s.Text)
		a, u = l.g.exchange("Let me look at the file.", "Bash", bashInput{"cat " + file, "Show the file"}, text, l.g.of(remarks))
	case ContextRead:
		pre := l.config(1+l.g.r.IntN(3)) + "\n"
		text, lo, hi := numberedSpan(pre, s.Text, "\n"+l.config(1+l.g.r.IntN(3))+"\n")
		p.Path, p.Lo, p.Hi = resultPath(ui), lo, hi
		a, u = l.g.exchange("Reading the file.", "Read", readInput{FilePath: file}, text, l.g.of(remarks))
	case ContextUser:
		intro := fmt.Sprintf(l.g.of(userIntros), file) + "\n\n"
		text := intro + s.Text + "\n\n" + l.g.sentence()
		p.Path, p.Lo, p.Hi = remarkPath(ui, 0), len(intro), len(intro)+len(s.Text)
		a, u = l.g.exchange("Let me list the config directory.", "Bash", bashInput{"ls config", "List config files"},
			"production.env\nstaging.env\nvalues.yaml\n", text)
	case ContextInput:
		pre := l.config(1+l.g.r.IntN(3)) + "\n"
		neu := pre + s.Text + "\n" + l.config(1+l.g.r.IntN(2))
		p.Path, p.Lo, p.Hi = inputPath(ai, "new_string"), len(pre), len(pre)+len(s.Text)
		a, u = l.g.exchange("I'll put the value where the loader expects it.", "Edit",
			editInput{file, "LOG_LEVEL=info", neu}, "The file "+file+" has been updated.", l.g.of(remarks))
	case ContextMember:
		p.Path, p.Lo, p.Hi = inputPath(ai, s.Key), 0, len(s.Text)
		a, u = l.g.exchange("I'll store it in the staging vault.", "mcp__vault__put",
			map[string]any{"environment": "staging", s.Key: s.Text}, "stored (version 3)", l.g.of(remarks))
	case ContextNested:
		p.Path, p.Lo, p.Hi = resultPath(ui)+"#."+s.Key, 0, len(s.Text)
		out := encode(map[string]any{"environment": "staging", "enabled": true, s.Key: s.Text})
		a, u = l.g.exchange("Let me fetch the service config.", "mcp__config__get",
			map[string]any{"service": "billing"}, string(out), l.g.of(remarks))
	}
	l.push(a, u, p)
}

// numberedSpan numbers the lines of pre+text+post as the Read tool does and returns
// the result with the span of text in it.
func numberedSpan(pre, text, post string) (out string, lo, hi int) {
	const width = len("     1→") // numbers stay under a million lines
	full := pre + text + post
	at := func(off int) int { // position in out of byte off of full
		return off + (strings.Count(full[:off], "\n")+1)*width
	}
	return numbered(full), at(len(pre)), at(len(pre)+len(text)-1) + 1
}

// negative returns a hard-negative plant.
func negative(kind, context, path string, values int) Plant {
	return Plant{Negative: true, Kind: kind, Context: context, Path: path, Values: values}
}

// negatives lists, per hard-negative kind, the exchanges that plant it.
var negatives = [][]func(l *labeler){
	{(*labeler).gitLog, (*labeler).gitRevParse, (*labeler).gitShow, (*labeler).commitURL, (*labeler).packedRefs},
	{(*labeler).uuidLogs, (*labeler).uuidYAML, (*labeler).uuidJSON, (*labeler).uuidProse},
	{(*labeler).npmLock, (*labeler).yarnLock, (*labeler).sri, (*labeler).pnpmLock},
	{(*labeler).goSum, (*labeler).goModJSON},
	{(*labeler).dockerImages, (*labeler).dockerPull, (*labeler).imageRef, (*labeler).ociManifest},
	{(*labeler).imageRead, (*labeler).imagePasted, (*labeler).dataURLHTML, (*labeler).dataURLMarkdown},
	{(*labeler).minifiedRead, (*labeler).minifiedHead},
	{(*labeler).idProse, (*labeler).idHeaders, (*labeler).idTranscript, (*labeler).idJSON},
	{(*labeler).thinking, (*labeler).redactedThinking, (*labeler).signatureTranscript, (*labeler).signatureJQ},
	{(*labeler).awsDocs, (*labeler).envExample, (*labeler).exampleProse, (*labeler).exampleEdit},
}

func (l *labeler) sha() string { return pick(l.g.r, hexd, 40) }

// result pushes an exchange whose tool result (a string) holds values hard negatives.
func (l *labeler) result(kind, context string, values int, tool string, input any, text string) {
	_, ui := l.next()
	a, u := l.g.exchange(l.g.prose(80), tool, input, text, l.g.of(remarks))
	l.push(a, u, negative(kind, context, resultPath(ui), values))
}

// prose pushes an exchange whose user remark holds values hard negatives.
func (l *labeler) prose(kind string, values int, text string) {
	_, ui := l.next()
	a, u := l.g.exchange("Let me check the recent deploys.", "Bash", bashInput{"kubectl rollout history deploy/api", "Show rollout history"},
		"REVISION  CHANGE-CAUSE\n11        <none>\n12        <none>\n", text)
	l.push(a, u, negative(kind, "user text", remarkPath(ui, 0), values))
}

func (l *labeler) gitLog() {
	var b strings.Builder
	for i := 0; i < 8; i++ {
		fmt.Fprintf(&b, "%s %s %s(%s): %s %s\n", l.sha(), strings.Fields(l.g.of(authors))[0],
			[]string{"fix", "feat", "chore"}[l.g.r.IntN(3)], l.g.of(pkgs), l.g.of(verbs), l.g.of(nouns))
	}
	l.result(NegGitSHA, "git log --format", 8, "Bash", bashInput{"git log -n 8 --format='%H %an %s'", "Show recent commits"}, b.String())
}

func (l *labeler) gitRevParse() {
	l.result(NegGitSHA, "git rev-parse", 2, "Bash", bashInput{"git rev-parse HEAD origin/main", "Show the two heads"},
		l.sha()+"\n"+l.sha()+"\n")
}

func (l *labeler) gitShow() {
	ai, _ := l.next()
	a, u := l.g.exchange("Let me see what that commit touched.", "Bash",
		bashInput{"git show --stat " + l.sha(), "Show the commit"}, " internal/api/handler.go | 12 +++++++-----\n 1 file changed, 7 insertions(+), 5 deletions(-)\n", l.g.of(remarks))
	l.push(a, u, negative(NegGitSHA, "command", inputPath(ai, "command"), 1))
}

func (l *labeler) commitURL() {
	sha := l.sha()
	l.prose(NegGitSHA, 2, "It started with https://github.com/acme/"+l.g.repo+"/commit/"+sha+
		", can you check what changed? The last good deploy was "+sha[:7]+".")
}

func (l *labeler) packedRefs() {
	text := "# pack-refs with: peeled fully-peeled sorted\n" + l.sha() + " refs/remotes/origin/main\n" +
		l.sha() + " refs/tags/v1.4.2\n^" + l.sha() + "\n"
	l.result(NegGitSHA, "packed-refs (Read)", 3, "Read", readInput{FilePath: l.g.path(".git/packed-refs")}, numbered(text))
}

func (l *labeler) uuidLogs() {
	var b strings.Builder
	for i := 0; i < 6; i++ {
		fmt.Fprintf(&b, "api-1  | 2025-03-03T14:%02d:%02d.%03dZ WARN retry tenant=%s request_id=%s attempt=%d\n",
			l.g.r.IntN(60), l.g.r.IntN(60), l.g.r.IntN(1000), l.g.uuid(), l.g.uuid(), 1+l.g.r.IntN(3))
	}
	l.result(NegUUID, "docker logs", 12, "Bash", bashInput{"docker compose logs api --tail 6", "Show the API logs"}, b.String())
}

func (l *labeler) uuidYAML() {
	text := "apiVersion: v1\nkind: Pod\nmetadata:\n  name: api-7d9f8c6b5-x2k4q\n  uid: " + l.g.uuid() +
		"\n  ownerReferences:\n  - kind: ReplicaSet\n    name: api-7d9f8c6b5\n    uid: " + l.g.uuid() + "\n"
	l.result(NegUUID, "kubectl YAML", 2, "Bash", bashInput{"kubectl get pod api-7d9f8c6b5-x2k4q -o yaml | head -9", "Show the pod"}, text)
}

func (l *labeler) uuidJSON() {
	_, ui := l.next()
	out := `{"id":"` + l.g.uuid() + `","tenant_id":"` + l.g.uuid() + `","status":"active","plan":"pro"}`
	a, u := l.g.exchange("Let me fetch the tenant.", "Bash", bashInput{"curl -s localhost:8080/v1/tenants/current", "Fetch the tenant"}, out, l.g.of(remarks))
	l.push(a, u, negative(NegUUID, "API JSON", resultPath(ui)+"#.id", 1), negative(NegUUID, "API JSON", resultPath(ui)+"#.tenant_id", 1))
}

func (l *labeler) uuidProse() {
	l.prose(NegUUID, 1, "Tenant "+l.g.uuid()+" reports 500s since this morning.")
}

func (l *labeler) b64(n int) string { return base64.StdEncoding.EncodeToString(randBytes(l.g.r, n)) }

func (l *labeler) npmLock() {
	var b strings.Builder
	for i := 0; i < 4; i++ {
		p := l.g.of(npmPkgs)
		fmt.Fprintf(&b, "    \"node_modules/%s\": {\n      \"version\": \"1.%d.0\",\n      \"integrity\": \"sha512-%s\"\n    },\n", p, l.g.r.IntN(20), l.b64(64))
	}
	l.result(NegIntegrity, "package-lock.json (Read)", 4, "Read", readInput{FilePath: l.g.path("package-lock.json")}, numbered(b.String()))
}

func (l *labeler) yarnLock() {
	var b strings.Builder
	for i := 0; i < 3; i++ {
		p := l.g.of(npmPkgs)
		fmt.Fprintf(&b, "\"%s@^2.%d.0\":\n  version \"2.%d.1\"\n  resolved \"https://registry.yarnpkg.com/%s/-/x.tgz#%s\"\n  integrity sha512-%s\n\n",
			p, i, i, p, pick(l.g.r, hexd, 40), l.b64(64))
	}
	l.result(NegIntegrity, "yarn.lock", 6, "Bash", bashInput{"sed -n 1,15p yarn.lock", "Show the lock file"}, b.String())
}

func (l *labeler) sri() {
	text := `<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/bootstrap@5.3.3/dist/css/bootstrap.min.css" integrity="sha384-` + l.b64(48) + `" crossorigin="anonymous">` +
		"\n" + `<script src="https://cdn.jsdelivr.net/npm/bootstrap@5.3.3/dist/js/bootstrap.bundle.min.js" integrity="sha384-` + l.b64(48) + `" crossorigin="anonymous"></script>` + "\n"
	l.result(NegIntegrity, "SRI in HTML (Read)", 2, "Read", readInput{FilePath: l.g.path("web/index.html")}, numbered(text))
}

func (l *labeler) pnpmLock() {
	var b strings.Builder
	for i := 0; i < 3; i++ {
		fmt.Fprintf(&b, "  /%s@3.%d.0:\n    resolution: {integrity: sha512-%s}\n    dev: false\n", l.g.of(npmPkgs), i, l.b64(64))
	}
	l.result(NegIntegrity, "pnpm-lock.yaml", 3, "Bash", bashInput{"grep -A2 integrity pnpm-lock.yaml | head", "Show integrity lines"}, b.String())
}

var goModules = []string{"github.com/jackc/pgx/v5", "golang.org/x/net", "github.com/redis/go-redis/v9",
	"go.uber.org/zap", "github.com/stretchr/testify", "google.golang.org/grpc", "github.com/google/uuid"}

func (l *labeler) goSum() {
	var b strings.Builder
	for i := 0; i < 6; i++ {
		m, v := l.g.of(goModules), fmt.Sprintf("v1.%d.%d", l.g.r.IntN(30), l.g.r.IntN(10))
		fmt.Fprintf(&b, "%s %s h1:%s\n%s %s/go.mod h1:%s\n", m, v, l.b64(32), m, v, l.b64(32))
	}
	l.result(NegGoSum, "go.sum (Read)", 12, "Read", readInput{FilePath: l.g.path("go.sum")}, numbered(b.String()))
}

func (l *labeler) goModJSON() {
	_, ui := l.next()
	m := l.g.of(goModules)
	out := "{\n\t\"Path\": \"" + m + "\",\n\t\"Version\": \"v1.8.0\",\n\t\"Info\": \"/root/go/pkg/mod/cache/download/" + m + "/@v/v1.8.0.info\",\n" +
		"\t\"Sum\": \"h1:" + l.b64(32) + "\",\n\t\"GoModSum\": \"h1:" + l.b64(32) + "\"\n}\n"
	a, u := l.g.exchange("Let me check the module sum.", "Bash", bashInput{"go mod download -json " + m, "Download the module"}, out, l.g.of(remarks))
	l.push(a, u, negative(NegGoSum, "go mod download -json", resultPath(ui)+"#.Sum", 1),
		negative(NegGoSum, "go mod download -json", resultPath(ui)+"#.GoModSum", 1))
}

func (l *labeler) digest() string { return "sha256:" + pick(l.g.r, hexd, 64) }

func (l *labeler) dockerImages() {
	var b strings.Builder
	b.WriteString("REPOSITORY          TAG           DIGEST                                                                    IMAGE ID       CREATED        SIZE\n")
	for i := 0; i < 3; i++ {
		fmt.Fprintf(&b, "ghcr.io/acme/api    sha-%s   %s   %s   %d days ago     145MB\n", pick(l.g.r, hexd, 7), l.digest(), pick(l.g.r, hexd, 12), 1+i)
	}
	l.result(NegDigest, "docker images --digests", 3, "Bash", bashInput{"docker images --digests ghcr.io/acme/api", "List images"}, b.String())
}

func (l *labeler) dockerPull() {
	text := "sha-4f2c9e1: Pulling from acme/api\nDigest: " + l.digest() + "\nStatus: Downloaded newer image for ghcr.io/acme/api:sha-4f2c9e1\n"
	l.result(NegDigest, "docker pull", 1, "Bash", bashInput{"docker pull ghcr.io/acme/api:sha-4f2c9e1", "Pull the image"}, text)
}

func (l *labeler) imageRef() {
	text := "      containers:\n        - name: api\n          image: ghcr.io/acme/api@" + l.digest() +
		"\n      initContainers:\n        - name: migrate\n          image: ghcr.io/acme/migrate@" + l.digest() + "\n"
	l.result(NegDigest, "pinned images (Read)", 2, "Read", readInput{FilePath: l.g.path("deploy/k8s/api.yaml")}, numbered(text))
}

func (l *labeler) ociManifest() {
	_, ui := l.next()
	out := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` +
		l.digest() + `","size":7023},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"` + l.digest() + `","size":32654}]}`
	a, u := l.g.exchange("Let me look at the manifest.", "Bash", bashInput{"crane manifest ghcr.io/acme/api:sha-4f2c9e1", "Show the manifest"}, out, l.g.of(remarks))
	p := resultPath(ui) + "#."
	l.push(a, u, negative(NegDigest, "OCI manifest JSON", p+"config.digest", 1), negative(NegDigest, "OCI manifest JSON", p+"layers[0].digest", 1))
}

func (l *labeler) png(n int) string {
	return base64.StdEncoding.EncodeToString(append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), randBytes(l.g.r, n)...))
}

func (l *labeler) imageRead() {
	_, ui := l.next()
	img := imageBlock{"image", imageSource{"base64", "image/png", l.png(3000)}}
	a, u := l.g.exchange("Let me look at the screenshot.", "Read", readInput{FilePath: l.g.path("docs/error.png")}, []any{img}, l.g.of(remarks))
	p := negative(NegPNG, "image block (Read)", resultPath(ui)+"[0].source.data", 1)
	p.Skipped = true
	l.push(a, u, p)
}

func (l *labeler) imagePasted() {
	_, ui := l.next()
	img := imageBlock{"image", imageSource{"base64", "image/png", l.png(3000)}}
	a, u := l.g.exchange("Building the web app.", "Bash", bashInput{"npm run build --prefix web", "Build the web app"},
		"✓ built in 3.81s\n", "The page looks like this:", img)
	p := negative(NegPNG, "pasted image block", fmt.Sprintf("messages[%d].content[1].source.data", ui), 1)
	p.Skipped = true
	l.push(a, u, p)
}

func (l *labeler) dataURLHTML() {
	text := "<header class=\"nav\">\n  <img alt=\"Acme\" width=\"32\" src=\"data:image/png;base64," + l.png(1200) + "\">\n</header>\n"
	l.result(NegPNG, "data: URL in HTML (Read)", 1, "Read", readInput{FilePath: l.g.path("web/src/header.html")}, numbered(text))
}

func (l *labeler) dataURLMarkdown() {
	text := "# Architecture\n\n![request flow](data:image/png;base64," + l.png(1500) + ")\n\nThe proxy sits in front of the API.\n"
	l.result(NegPNG, "data: URL in Markdown", 1, "Bash", bashInput{"cat docs/architecture.md", "Show the doc"}, text)
}

// minified returns about n bytes of minified JavaScript.
func (l *labeler) minified(n int) string {
	var b strings.Builder
	b.WriteString(`(function(){"use strict";var e=Object.defineProperty,t=(n,r)=>e(n,"name",{value:r,configurable:!0});`)
	v := func() string { return string("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"[l.g.r.IntN(52)]) }
	for b.Len() < n {
		switch l.g.r.IntN(5) {
		case 0:
			fmt.Fprintf(&b, "function %s%s(%s,%s){return %s.%s(%s)||%s.%s}", v(), v(), v(), v(), v(), l.g.ident(), v(), v(), l.g.of(nouns))
		case 1:
			fmt.Fprintf(&b, `const %s=%q,%s="#%s";`, v(), "css-"+pick(l.g.r, "abcdefghijklmnopqrstuvwxyz0123456789", 7), v(), pick(l.g.r, hexd, 6))
		case 2:
			fmt.Fprintf(&b, `import("./chunk-%s.js").then(%s=>%s.default);`, pick(l.g.r, alnum, 8), v(), v())
		case 3:
			fmt.Fprintf(&b, `%s.prototype.%s=function(%s){this.%s=%s|0x%s};`, v(), l.g.ident(), v(), l.g.of(nouns), v(), pick(l.g.r, hexd, 8))
		default:
			fmt.Fprintf(&b, `if(!%s)throw new Error("%s failed: "+%s.status);`, v(), l.g.ident(), v())
		}
	}
	b.WriteString("})();")
	return b.String()
}

func (l *labeler) minifiedRead() {
	smap := base64.StdEncoding.EncodeToString([]byte(`{"version":3,"sources":["../src/main.ts","../src/api.ts"],"names":["e","t","n"],"mappings":"` +
		pick(l.g.r, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/;,", 900) + `"}`))
	text := l.minified(3000) + "\n//# sourceMappingURL=data:application/json;charset=utf-8;base64," + smap + "\n"
	l.result(NegMinifiedJS, "bundle with inline source map (Read)", 2, "Read",
		readInput{FilePath: l.g.path("web/dist/assets/index-" + pick(l.g.r, alnum, 8) + ".js")}, numbered(text))
}

func (l *labeler) minifiedHead() {
	l.result(NegMinifiedJS, "head of a vendor chunk", 1, "Bash", bashInput{"head -c 2000 web/dist/assets/vendor.js", "Show the vendor chunk"}, l.minified(2000))
}

func (l *labeler) toolu() string { return "toolu_01" + pick(l.g.r, base62, 22) }
func (l *labeler) msgID() string { return "msg_01" + pick(l.g.r, base62, 22) }
func (l *labeler) reqID() string { return "req_011C" + pick(l.g.r, base62, 20) }
func (l *labeler) callID() string {
	return "call_" + pick(l.g.r, alnum, 24)
}

func (l *labeler) idProse() {
	l.prose(NegToolID, 3, "The tool call "+l.toolu()+" timed out, and "+l.msgID()+" ended with stop_reason tool_use (request "+l.reqID()+").")
}

func (l *labeler) idHeaders() {
	text := "HTTP/2 200\ncontent-type: application/json\nrequest-id: " + l.reqID() + "\nanthropic-organization-id: " + l.g.uuid() +
		"\n\n{\"id\":\"" + l.msgID() + "\",\"type\":\"message\",\"role\":\"assistant\",\"stop_reason\":\"end_turn\"}\n"
	l.result(NegToolID, "curl -i output", 3, "Bash", bashInput{"curl -si https://api.anthropic.com/v1/messages -d @req.json", "Replay the request"}, text)
}

func (l *labeler) idTranscript() {
	text := `{"type":"assistant","message":{"id":"` + l.msgID() + `","content":[{"type":"tool_use","id":"` + l.toolu() + `","name":"Bash"}]}}` + "\n" +
		`{"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"` + l.toolu() + `","content":"ok"}]}}` + "\n" +
		`{"type":"response.output_item.done","item":{"type":"function_call","call_id":"` + l.callID() + `","name":"shell"}}` + "\n"
	l.result(NegToolID, "session transcript (Read)", 4, "Read", readInput{FilePath: "/home/dev/.claude/projects/acme-api/session.jsonl"}, numbered(text))
}

func (l *labeler) idJSON() {
	_, ui := l.next()
	out := "{\n  \"id\": \"chatcmpl-" + pick(l.g.r, alnum, 29) + "\",\n  \"object\": \"chat.completion\",\n  \"tool_calls\": [\n    {\n      \"id\": \"" +
		l.callID() + "\",\n      \"type\": \"function\"\n    }\n  ]\n}\n"
	a, u := l.g.exchange("Let me look at the logged completion.", "Bash", bashInput{"jq '.choices[0].message' last.json", "Show the completion"}, out, l.g.of(remarks))
	p := resultPath(ui) + "#."
	l.push(a, u, negative(NegToolID, "OpenAI ids in JSON", p+"id", 1), negative(NegToolID, "OpenAI ids in JSON", p+"tool_calls[0].id", 1))
}

func (l *labeler) signature() string { return l.b64(240 + l.g.r.IntN(240)) }

func (l *labeler) thinking() {
	ai, _ := l.next()
	l.g.think = &thinkingBlock{"thinking", l.g.prose(200), l.signature()}
	a, u := l.g.exchange("Let me check the service status.", "Bash", bashInput{"systemctl status api", "Show the service"},
		"● api.service - Acme API\n     Active: active (running)\n", l.g.of(remarks))
	p := negative(NegSignature, "thinking block", fmt.Sprintf("messages[%d].content[0].signature", ai), 1)
	p.Skipped = true
	l.push(a, u, p)
}

// redactedBlock is an Anthropic redacted_thinking block.
type redactedBlock struct {
	Type string `json:"type"`
	Data string `json:"data"`
}

func (l *labeler) redactedThinking() {
	ai, _ := l.next()
	id := l.toolu()
	a := encode(message{"assistant", []any{redactedBlock{"redacted_thinking", l.signature()}, textBlock{"text", "Checking the queue depth."},
		toolUseBlock{"tool_use", id, "Bash", bashInput{"redis-cli llen jobs", "Queue depth"}}}})
	u := encode(message{"user", []any{toolResultBlock{"tool_result", id, "(integer) 42\n"}, textBlock{"text", l.g.of(remarks)}}})
	p := negative(NegSignature, "redacted_thinking block", fmt.Sprintf("messages[%d].content[0].data", ai), 1)
	p.Skipped = true
	l.push(a, u, p)
}

func (l *labeler) signatureTranscript() {
	text := `{"type":"assistant","message":{"content":[{"type":"thinking","thinking":"The tests fail on the billing path.","signature":"` + l.signature() + `"}]}}` + "\n" +
		`{"type":"assistant","message":{"content":[{"type":"thinking","thinking":"Check the migration first.","signature":"` + l.signature() + `"}]}}` + "\n"
	l.result(NegSignature, "session transcript (Read)", 2, "Read", readInput{FilePath: "/home/dev/.claude/projects/acme-api/session.jsonl"}, numbered(text))
}

func (l *labeler) signatureJQ() {
	_, ui := l.next()
	out := "{\n  \"type\": \"thinking\",\n  \"thinking\": \"The retry loop never backs off.\",\n  \"signature\": \"" + l.signature() + "\"\n}\n"
	a, u := l.g.exchange("Let me look at the first block of that turn.", "Bash",
		bashInput{"jq '.message.content[0]' turn.json", "Show the block"}, out, l.g.of(remarks))
	l.push(a, u, negative(NegSignature, "jq of a transcript", resultPath(ui)+"#.signature", 1))
}

func (l *labeler) awsDocs() {
	text := "## Credentials\n\nPut them in `~/.aws/credentials`:\n\n```ini\n[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\n" +
		"aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n```\n"
	l.result(NegExample, "AWS documentation keys (Read)", 2, "Read", readInput{FilePath: l.g.path("README.md")}, numbered(text))
}

func (l *labeler) envExample() {
	text := "# copy to .env and fill in\nOPENAI_API_KEY=your-openai-api-key\nANTHROPIC_API_KEY=<your-anthropic-key>\n" +
		"STRIPE_SECRET_KEY=sk_live_xxxxxxxxxxxxxxxxxxxxxxxx\nGITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n" +
		"DATABASE_URL=postgres://${DB_USER}:${DB_PASSWORD}@localhost:5432/app\nSLACK_WEBHOOK_URL=https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX\n" +
		"JWT_SECRET=your_jwt_secret_here\nDB_PASSWORD=changeme\n"
	l.result(NegExample, ".env.example (Read)", 8, "Read", readInput{FilePath: l.g.path(".env.example")}, numbered(text))
}

func (l *labeler) exampleProse() {
	l.prose(NegExample, 2, "The AWS guide says to run `aws configure` with AKIAI44QH8DHBEXAMPLE and je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY; is that what the CI uses?")
}

func (l *labeler) exampleEdit() {
	ai, _ := l.next()
	neu := "api_key: <YOUR_API_KEY>\npassword: \"${DB_PASSWORD}\"\ntoken: {{ .Values.token }}\nclient_secret: \"********\"\n"
	a, u := l.g.exchange("I'll template the secrets.", "Edit", editInput{l.g.path("deploy/values.example.yaml"), "api_key: TODO", neu},
		"The file has been updated.", l.g.of(remarks))
	l.push(a, u, negative(NegExample, "templated values (Edit)", inputPath(ai, "new_string"), 4))
}
