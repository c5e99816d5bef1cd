package bench

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/cloakroom/cloakroom/detect"
)

// Secrets are the fake secrets planted in a corpus, generated from its seed. Each is
// in the context that makes the detector fire: the AWS pair and the postgres URI in an
// .env file, the GitHub token in `gh auth status` output, the PEM key in `cat` output.
type Secrets struct {
	AWSKeyID   string // AWS_ACCESS_KEY_ID in the .env file
	AWSSecret  string // AWS_SECRET_ACCESS_KEY in the .env file, and later in plain prose
	GitHub     string // classic token with a valid CRC32 checksum
	PGPassword string // password of the DATABASE_URL postgres URI
	PEM        string // an EC private key block, BEGIN to END line
}

// All returns the planted values.
func (s Secrets) All() []string {
	return []string{s.AWSKeyID, s.AWSSecret, s.GitHub, s.PGPassword, s.PEM}
}

// Corpus generates Anthropic Messages request bodies of a coding-agent session. Its
// output depends only on Seed and the arguments. A Corpus is safe for concurrent use.
type Corpus struct {
	// Seed fixes the generated text and Secrets.
	Seed uint64
	// Secrets are the values planted in every body.
	Secrets Secrets
}

// New returns the corpus of seed.
func New(seed uint64) *Corpus {
	return &Corpus{Seed: seed, Secrets: newSecrets(rand.New(rand.NewPCG(seed, 0x5ec2e75)))}
}

// Request returns one request body of about size bytes (a few hundred bytes either
// way, more for bodies under 8 KB): the system prompt and tools, the planted turns,
// then filler turns of mixed kinds. Its last message is a user message with a short
// text block, so the fake upstream's echo stays small.
func (c *Corpus) Request(size int, stream bool) []byte {
	g := c.gen()
	head := g.header(size, stream)
	msgs := g.opening()
	total := len(head) + msgsLen(msgs) + len(tail)
	// Past a quarter of a body of 64 KB or more comes a screenshot; past half, the AWS
	// secret comes back in prose.
	img, known := size >= 64<<10, size >= 64<<10
	for size-total > minTurn {
		late := known && total >= size/2
		if img && total >= size/4 {
			g.next, img = &turnKinds[imageKind], false
		}
		a, u := g.turn(size-total, false, late)
		known = known && !late
		msgs = append(msgs, a, u)
		total += len(a) + len(u) + 2
	}
	return join(head, msgs)
}

// Session returns the bodies of a session of turns requests: each resends the
// previous one's messages plus one more exchange (an assistant tool call and the user
// message with its result), as agents do. The last body is about size bytes. The
// planted secrets are in the first three exchanges, and the AWS secret comes back in
// plain prose halfway through.
func (c *Corpus) Session(turns, size int, stream bool) [][]byte {
	g := c.gen()
	head := g.header(size, stream)
	msgs := g.opening()
	out := make([][]byte, 0, turns)
	// The opening is the task plus three exchanges: bodies 1 to 3.
	for k := 1; k <= min(3, turns); k++ {
		out = append(out, join(head, msgs[:1+2*k]))
	}
	msgs = msgs[:1+2*len(out)]
	total := len(head) + msgsLen(msgs) + len(tail)
	for k := len(out); k < turns; k++ {
		want := (size - total) / (turns - k)
		a, u := g.turn(want, true, k == turns/2)
		msgs = append(msgs, a, u)
		total += len(a) + len(u) + 2
		out = append(out, join(head, msgs))
	}
	return out
}

// minTurn is the smallest remaining budget worth another exchange.
const minTurn = 600

const tail = "]}"

func (c *Corpus) gen() *gen {
	return &gen{r: rand.New(rand.NewPCG(c.Seed, 0xb0d1e5)), sec: c.Secrets, repo: "acme-api"}
}

func msgsLen(msgs [][]byte) int {
	n := 0
	for _, m := range msgs {
		n += len(m) + 1
	}
	return n
}

func join(head []byte, msgs [][]byte) []byte {
	b := make([]byte, 0, len(head)+msgsLen(msgs)+len(tail))
	b = append(b, head...)
	for i, m := range msgs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, m...)
	}
	return append(b, tail...)
}

// Alphabets of generated values.
const (
	alnum  = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	b64    = alnum + "+/"
	hexd   = "0123456789abcdef"
	akid   = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
)

func pick(r *rand.Rand, alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

func randBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func newSecrets(r *rand.Rand) Secrets {
	body := pick(r, base62, 30)
	// An EC private key's DER starts with the same bytes whatever the key; the rest
	// is random, so this is no key at all.
	der := append([]byte{0x30, 0x77, 0x02, 0x01, 0x01, 0x04, 0x20}, randBytes(r, 114)...)
	return Secrets{
		AWSKeyID:   "AKIA" + pick(r, akid, 16),
		AWSSecret:  pick(r, b64, 40),
		GitHub:     "ghp_" + body + detect.GitHubChecksum(body),
		PGPassword: pick(r, alnum, 20),
		PEM:        strings.TrimSpace(string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))),
	}
}

// Message and block shapes of the Anthropic Messages API, fields in the API's order.
type (
	message struct {
		Role    string `json:"role"`
		Content []any  `json:"content"`
	}
	textBlock struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	cachedText struct {
		Type         string       `json:"type"`
		Text         string       `json:"text"`
		CacheControl cacheControl `json:"cache_control"`
	}
	cacheControl struct {
		Type string `json:"type"`
	}
	thinkingBlock struct {
		Type      string `json:"type"`
		Thinking  string `json:"thinking"`
		Signature string `json:"signature"`
	}
	toolUseBlock struct {
		Type  string `json:"type"`
		ID    string `json:"id"`
		Name  string `json:"name"`
		Input any    `json:"input"`
	}
	toolResultBlock struct {
		Type      string `json:"type"`
		ToolUseID string `json:"tool_use_id"`
		Content   any    `json:"content"`
	}
	imageBlock struct {
		Type   string      `json:"type"`
		Source imageSource `json:"source"`
	}
	imageSource struct {
		Type      string `json:"type"`
		MediaType string `json:"media_type"`
		Data      string `json:"data"`
	}
	readInput struct {
		FilePath string `json:"file_path"`
		Offset   int    `json:"offset,omitempty"`
		Limit    int    `json:"limit,omitempty"`
	}
	bashInput struct {
		Command     string `json:"command"`
		Description string `json:"description"`
	}
	grepInput struct {
		Pattern    string `json:"pattern"`
		Path       string `json:"path"`
		OutputMode string `json:"output_mode"`
	}
	editInput struct {
		FilePath  string `json:"file_path"`
		OldString string `json:"old_string"`
		NewString string `json:"new_string"`
	}
	tool struct {
		Name        string `json:"name"`
		Description string `json:"description"`
		InputSchema schema `json:"input_schema"`
	}
	schema struct {
		Type       string              `json:"type"`
		Properties map[string]property `json:"properties"`
		Required   []string            `json:"required"`
	}
	property struct {
		Type        string `json:"type"`
		Description string `json:"description"`
	}
)

// encode marshals v as compact JSON without HTML escaping, as agents' SDKs send it.
// The values are built here from strings and numbers, so it cannot fail.
func encode(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return []byte("null")
	}
	return bytes.TrimSuffix(b.Bytes(), []byte{'\n'})
}

var tools = []tool{
	{"Read", "Reads a file from the local filesystem. The file_path must be absolute. Lines are numbered; long files can be read in parts with offset and limit. Images are returned as image blocks.",
		schema{"object", map[string]property{
			"file_path": {"string", "The absolute path to the file to read"},
			"offset":    {"number", "The line number to start reading from"},
			"limit":     {"number", "The number of lines to read"},
		}, []string{"file_path"}}},
	{"Edit", "Performs exact string replacements in files. old_string must match the file exactly, including indentation, and be unique in the file.",
		schema{"object", map[string]property{
			"file_path":  {"string", "The absolute path to the file to modify"},
			"old_string": {"string", "The text to replace"},
			"new_string": {"string", "The text to replace it with"},
		}, []string{"file_path", "old_string", "new_string"}}},
	{"Bash", "Executes a bash command in a persistent shell session with an optional timeout. Quote paths that contain spaces. Prefer the dedicated tools for reading and searching files.",
		schema{"object", map[string]property{
			"command":     {"string", "The command to execute"},
			"description": {"string", "Clear, concise description of what this command does in 5-10 words"},
		}, []string{"command"}}},
	{"Grep", "Searches file contents with ripgrep. Supports full regex syntax, glob filters and three output modes.",
		schema{"object", map[string]property{
			"pattern":     {"string", "The regular expression pattern to search for"},
			"path":        {"string", "File or directory to search in"},
			"output_mode": {"string", "content, files_with_matches or count"},
		}, []string{"pattern"}}},
}

// header returns the body up to the opening bracket of "messages".
func (g *gen) header(size int, stream bool) []byte {
	sys := g.systemPrompt(min(max(size/8, 1500), 24<<10))
	var b bytes.Buffer
	b.WriteString(`{"model":"claude-sonnet-4-5-20250929","max_tokens":32000,"system":`)
	b.Write(encode([]any{cachedText{"text", sys, cacheControl{"ephemeral"}}}))
	b.WriteString(`,"tools":`)
	b.Write(encode(tools))
	b.WriteString(`,"metadata":{"user_id":"user_` + pick(g.r, hexd, 64) + `_account_` + g.uuid() + `_session_` + g.uuid() + `"}`)
	b.WriteString(`,"stream":` + strconv.FormatBool(stream) + `,"messages":[`)
	return b.Bytes()
}

// opening returns the task and the three exchanges that plant the secrets.
func (g *gen) opening() [][]byte {
	s := g.sec
	task := encode(message{"user", []any{textBlock{"text",
		"The staging deploy of " + g.repo + " fails: the API pods crash-loop with \"password authentication failed for user acme_app\" " +
			"and the S3 uploads return 403. Can you check the config and fix whatever is wrong? Don't push anything yet."}}})
	env := strings.Join([]string{
		"# staging",
		"NODE_ENV=staging",
		"PORT=8080",
		"LOG_LEVEL=debug",
		"AWS_REGION=eu-west-1",
		"AWS_ACCESS_KEY_ID=" + s.AWSKeyID,
		"AWS_SECRET_ACCESS_KEY=" + s.AWSSecret,
		"S3_BUCKET=acme-staging-uploads",
		"DATABASE_URL=postgres://acme_app:" + s.PGPassword + "@db.staging.internal:5432/acme?sslmode=require",
		"REDIS_URL=redis://redis.staging.internal:6379/0",
		"SENTRY_ENVIRONMENT=staging",
		"FEATURE_NEW_BILLING=true",
	}, "\n")
	gh := "github.com\n" +
		"  ✓ Logged in to github.com account dev-acme (keyring)\n" +
		"  - Active account: true\n" +
		"  - Git operations protocol: https\n" +
		"  - Token: " + s.GitHub + "\n" +
		"  - Token scopes: 'gist', 'read:org', 'repo', 'workflow'\n"
	out := [][]byte{task}
	a1, u1 := g.exchange("I'll start with the environment file the staging container is built from.",
		"Read", readInput{FilePath: g.path(".env.staging")}, numbered(env),
		"The password was rotated last week, maybe that's it.")
	a2, u2 := g.exchange("Let me check which GitHub account the deploy script pushes images with.",
		"Bash", bashInput{"gh auth status -t", "Show GitHub CLI auth status"}, gh,
		"That's my personal account, fine for now.")
	a3, u3 := g.exchange("The deploy script also signs the release manifest; let me look at the key it uses.",
		"Bash", bashInput{"cat deploy/staging/release-signing.pem", "Show the release signing key"}, s.PEM+"\n",
		"Yes, that key is only used for staging.")
	return append(out, a1, u1, a2, u2, a3, u3)
}

// exchange returns an assistant message calling one tool (after g.think, if set, which
// it clears) and the user message with its result, any extra blocks (a pasted image) and a
// short remark.
func (g *gen) exchange(say, name string, input any, result any, remark string, extra ...any) (a, u []byte) {
	id := "toolu_01" + pick(g.r, base62, 22)
	var content []any
	if g.think != nil {
		content = append(content, *g.think)
		g.think = nil
	}
	content = append(content, textBlock{"text", say}, toolUseBlock{"tool_use", id, name, input})
	a = encode(message{"assistant", content})
	blocks := append([]any{toolResultBlock{"tool_result", id, result}}, extra...)
	u = encode(message{"user", append(blocks, textBlock{"text", remark})})
	return a, u
}
