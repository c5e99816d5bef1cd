package proxy_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/cloakroom/cloakroom/internal/fakeapi"
	"github.com/cloakroom/cloakroom/proxy"
	"github.com/cloakroom/cloakroom/tokenize"
)

// coldPair is a proxy with its scan cache on (warm: resent history resumes) and one
// with it off (cold: every body walked and scanned whole), fed the same requests.
type coldPair struct {
	t          *testing.T
	warm, cold *harness
}

func newColdPair(t *testing.T) *coldPair {
	up := fakeapi.Options{Chunk: 4096, WholeWrites: true} // echoes of long messages in few events
	return &coldPair{t: t, warm: newHarness(t, harnessOpts{up: up}), cold: newHarness(t, harnessOpts{up: up, cfg: proxy.Config{ScanCacheEntries: -1}})}
}

// send posts body as principal to both proxies and fails unless both answer the
// same and forward the same bytes.
func (p *coldPair) send(step, principal string, body []byte) {
	p.t.Helper()
	var status [2]int
	var fwd [2][]byte
	for k, h := range []*harness{p.warm, p.cold} {
		h.up.Reset()
		resp, _ := post(p.t, h.client(principal), anthropicURL, nil, body)
		status[k] = resp.StatusCode
		if resp.StatusCode == http.StatusOK {
			fwd[k] = h.up.Last().Body
		} else {
			fwd[k] = []byte(resp.Header.Get("X-Cloakroom-Error"))
		}
	}
	if status[0] != status[1] {
		p.t.Fatalf("%s: warm status %d, cold %d", step, status[0], status[1])
	}
	if string(fwd[0]) != string(fwd[1]) {
		p.t.Fatalf("%s: warm forwarded other bytes than cold (%d and %d bytes, first difference at %d)", step, len(fwd[0]), len(fwd[1]), firstDiff(fwd[0], fwd[1]))
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// checkAudit fails unless both proxies wrote the same detections for every request,
// and returns how many requests the warm one resumed.
func (p *coldPair) checkAudit() float64 {
	p.t.Helper()
	w, c := p.warm.auditRecords(), p.cold.auditRecords()
	if len(w) != len(c) {
		p.t.Fatalf("got %d warm audit records, %d cold", len(w), len(c))
	}
	for i := range w {
		if !slices.Equal(w[i].Detections, c[i].Detections) || w[i].Decision != c[i].Decision || w[i].Error != c[i].Error {
			p.t.Fatalf("request %d: warm audit %+v %s %s, cold %+v %s %s", i, w[i].Detections, w[i].Decision, w[i].Error, c[i].Detections, c[i].Decision, c[i].Error)
		}
	}
	resumed := metricValue(p.t, p.warm, "cloakroom_scan_cache_lookups_total", map[string]string{"result": "resumed"})
	if cold := metricValue(p.t, p.cold, "cloakroom_scan_cache_lookups_total", map[string]string{"result": "resumed"}); cold != 0 {
		p.t.Fatalf("the cold proxy resumed %v walks", cold)
	}
	for _, name := range []string{"cloakroom_detections_total", "cloakroom_tokens_minted_total"} {
		if w, c := counterSeries(p.t, p.warm, name), counterSeries(p.t, p.cold, name); !maps.Equal(w, c) {
			p.t.Fatalf("%s: warm %v, cold %v", name, w, c)
		}
	}
	return resumed
}

// counterSeries returns the values of a counter's series, by their labels.
func counterSeries(t *testing.T, h *harness, name string) map[string]float64 {
	t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			out[strings.Join(labels, ",")] = m.GetCounter().GetValue()
		}
	}
	return out
}

// session is an Anthropic Messages body cut where checkpoints fall: the members
// before "messages", its elements, and the members after it.
type session struct {
	head []string // members before "messages", each `"name":value`
	msgs []string // message objects
	tail []string // members after "messages"
}

func (s session) body() []byte {
	var b strings.Builder
	b.WriteString("{")
	for _, m := range s.head {
		b.WriteString(m + ",")
	}
	b.WriteString(`"messages":[` + strings.Join(s.msgs, ",") + "]")
	for _, m := range s.tail {
		b.WriteString("," + m)
	}
	b.WriteString("}")
	return []byte(b.String())
}

func (s session) clone() session {
	return session{head: slices.Clone(s.head), msgs: slices.Clone(s.msgs), tail: slices.Clone(s.tail)}
}

// prose returns about n bytes of varied agent text with the characters JSON escapes
// (quotes, backslashes, tabs, newlines, non-ASCII), as a JSON string literal.
func prose(seed, n int) string {
	r := rand.New(rand.NewPCG(uint64(seed), 7))
	words := []string{"func", "return", "err", "ctx", "\"quoted\"", "path\\to\\file", "naïve", "→", "\t", "\n", "😀", "if", "nil", "{", "}", "[ok]", "</tag>", "x := 1"}
	var b strings.Builder
	for b.Len() < n {
		b.WriteString(words[r.IntN(len(words))])
		b.WriteByte(' ')
		if r.IntN(9) == 0 {
			fmt.Fprintf(&b, "line %d\n", r.IntN(1000))
		}
	}
	return q(b.String())
}

func userMsg(text string) string { return `{"role":"user","content":` + text + `}` }

func toolExchange(i int, result string) []string {
	return []string{
		fmt.Sprintf(`{"role":"assistant","content":[{"type":"text","text":"Reading file %d."},{"type":"tool_use","id":"toolu_%03d","name":"Read","input":{"file_path":"/src/f%d.go"}}]}`, i, i, i),
		fmt.Sprintf(`{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_%03d","content":%s}]}`, i, result),
	}
}

// baseSession is a history of about 60 KB with a thinking block, an image, escaped
// member names, a member named by a secret holding an array (before "messages"), and
// the AWS secret bare in prose (which only the known-value set catches).
func baseSession(s secrets) session {
	ses := session{
		head: []string{
			`"model":"claude-sonnet-4-5"`, `"max_tokens":1024`,
			`"system":[{"type":"text","text":` + prose(1, 3000) + `}]`,
			q(s.GitHub) + `:[` + prose(2, 1500) + `,` + prose(3, 1500) + `]`,
		},
		tail: []string{`"stream":false`},
	}
	ses.msgs = append(ses.msgs, userMsg(prose(4, 2000)))
	for i := range 6 {
		ses.msgs = append(ses.msgs, toolExchange(i, prose(10+i, 4000))...)
	}
	ses.msgs = append(ses.msgs,
		`{"role":"assistant","content":[{"type":"thinking","thinking":"the key was AKIA in the env","signature":"EqQBCkYIARgCIkDxyz+/=="},{"type":"text","text":`+prose(20, 2000)+`}]}`,
		`{"r\u006fle":"user","c\u006fntent":`+prose(21, 3000)+`,"x\u0041":"note"}`,
		`{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkIMAGIMAGECANARYAAAABJRU5ErkJggg=="}},{"type":"text","text":`+prose(22, 1000)+`}]}`,
		userMsg(q("I pasted "+s.AWSSecret+" above by mistake, ignore it. ")),
		userMsg(prose(23, 3000)),
	)
	return ses
}

// A resent history with changes at every kind of place is forwarded byte for byte
// as a cold scan forwards it, with the same audit detections, and the walks that
// can resume do.
func TestResumeMatchesColdScan(t *testing.T) {
	p := newColdPair(t)
	s := newSecrets(t)
	base := baseSession(s)
	step := func(name, principal string, ses session) {
		t.Helper()
		p.send(name, principal, ses.body())
	}
	step("first turn", "alice", base)
	cur := base.clone()
	cur.msgs = append(cur.msgs, toolExchange(7, prose(30, 4000))...)
	step("appended exchange", "alice", cur)
	step("the same body again", "alice", cur)

	cur = cur.clone()
	cur.msgs[3] = userMsg(prose(31, 4000))
	step("changed element inside the prefix", "alice", cur)

	cur = cur.clone()
	cur.head[3] = q(s.GitHub) + `:[` + prose(2, 1500) + `,` + q("AWS_ACCESS_KEY_ID="+s.AWSKeyID+"\n") + `]`
	step("changed inside a member named by a secret", "alice", cur)

	cur = cur.clone()
	cur.tail = []string{`"stream":true`, `"metadata":{"user_id":"u-1"}`}
	step("changed members after the history", "alice", cur)

	cur = cur.clone()
	cur.msgs[1] = userMsg(q("GITHUB_TOKEN=" + s.GitHub + "\n" + strings.Repeat("build ok\n", 200)))
	step("new secret in an old element", "alice", cur)

	cur = cur.clone()
	cur.msgs = append(cur.msgs, userMsg(q("AWS_SECRET_ACCESS_KEY="+s.AWSSecret+"\n"+strings.Repeat("deploy\n", 100))))
	step("a value learned from the new element", "alice", cur)
	cur = cur.clone()
	cur.msgs = append(cur.msgs, userMsg(prose(32, 2000)))
	step("resent after learning: the old prose occurrence is replaced", "alice", cur)

	step("another principal", "bob", cur)

	cur = cur.clone()
	i := slices.IndexFunc(cur.msgs, func(m string) bool { return strings.HasPrefix(m, `{"r\u006fle"`) })
	cur.msgs[i] = strings.Replace(cur.msgs[i], `"x\u0041":"note"`, `"x\u0041":"AWS_ACCESS_KEY_ID=`+s.AWSKeyID+`"`, 1)
	step("secret after a member with an escaped name", "alice", cur)

	cur = cur.clone()
	akid := s.AWSKeyID[:6] + `\u00` + fmt.Sprintf("%x", s.AWSKeyID[6]) + s.AWSKeyID[7:]
	cur.msgs = append(cur.msgs, userMsg(`"\u00e9\n aws_access_key_id = `+akid+`\ud83d\ude00 `+strings.Repeat(`\"x\"\t`, 300)+`"`))
	step("escapes in a new element, one inside a secret", "alice", cur)
	cur = cur.clone()
	last := cur.msgs[len(cur.msgs)-1]
	cur.msgs[len(cur.msgs)-1] = `{"role":"user","content":"\u00ea` + last[len(`{"role":"user","content":"\u00e9`):]
	step("escape changed just after a checkpoint", "alice", cur)

	cur = cur.clone()
	cur.msgs = append(cur.msgs, `{"role":"assistant","content":[{"type":"text","text":"x"}],"type":"thinking"}`)
	step("an element that is opaque", "alice", cur)

	p.send("not JSON after the checkpoint", "alice", append(cur.body()[:len(cur.body())-1:len(cur.body())-1], ",}"...))

	if resumed := p.checkAudit(); resumed < 6 {
		t.Errorf("got %v resumed walks, want at least 6", resumed)
	}
}

// A resent body with one byte changed at a random place, or a snippet inserted, is
// forwarded exactly as a cold scan forwards it, or refused the same way.
func TestResumeRandomMutations(t *testing.T) {
	p := newColdPair(t)
	s := newSecrets(t)
	base := baseSession(s)
	base.msgs = append(base.msgs, userMsg(q(s.prompt())))
	body := base.body()
	p.send("base", "alice", body)
	rng := rand.New(rand.NewPCG(11, 12))
	alphabet := []byte(`"\{}[],: aAK1n0t/u`)
	snippets := []string{`,"type":"thinking"`, `\u0041`, `AKIA`, `,{"role":"user","content":"x"}`, `"` + s.GitHub + `",`, `"`, `\`}
	for it := range 16 {
		ext := base.clone()
		ext.msgs = append(ext.msgs, userMsg(prose(100+it, 1500)))
		b := ext.body()
		p.send(fmt.Sprintf("iteration %d, resent", it), "alice", b)
		pos := rng.IntN(len(b))
		if rng.IntN(2) == 0 {
			b[pos] = alphabet[rng.IntN(len(alphabet))]
		} else {
			b = slices.Concat(b[:pos], []byte(snippets[rng.IntN(len(snippets))]), b[pos:])
		}
		p.send(fmt.Sprintf("iteration %d, changed at %d", it, pos), "alice", b)
	}
	if resumed := p.checkAudit(); resumed < 8 {
		t.Errorf("got %v resumed walks, want at least 8", resumed)
	}
}

// Reused detections are this principal's: another principal's identical body is
// scanned for itself and recorded as its submission in the vault.
func TestResumePerPrincipal(t *testing.T) {
	h := newHarness(t, harnessOpts{up: fakeapi.Options{Chunk: 4096, WholeWrites: true}})
	s := newSecrets(t)
	h.plant(s.GitHub)
	ses := baseSession(s)
	ses.msgs = append(ses.msgs, userMsg(q("GITHUB_TOKEN="+s.GitHub)))
	for _, who := range []string{"alice", "alice", "alice", "bob"} {
		if resp, got := post(t, h.client(who), anthropicURL, nil, ses.body()); resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", who, resp.StatusCode, got)
		}
	}
	recs := h.auditRecords()
	if len(recs) != 4 {
		t.Fatalf("got %d audit records, want 4", len(recs))
	}
	for i := 1; i < 4; i++ {
		if !slices.Equal(recs[i].Detections, recs[0].Detections) || len(recs[i].Detections) == 0 {
			t.Fatalf("request %d: got detections %v, want %v", i, recs[i].Detections, recs[0].Detections)
		}
	}
	// The first body learned values, so the second is walked whole; the third
	// resumes; bob's has no entry of his own.
	if got := metricValue(t, h, "cloakroom_scan_cache_lookups_total", map[string]string{"result": "resumed"}); got != 1 {
		t.Errorf("got %v resumed walks, want 1", got)
	}
	tok, ok := tokenize.Parse(recs[3].Detections[len(recs[3].Detections)-1].Token)
	if !ok {
		t.Fatal("the detection holds no token")
	}
	e, err := h.vault.Lookup(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	e.Value.Zero()
	if !slices.Contains(e.Submitters, "bob") || !slices.Contains(e.Submitters, "alice") {
		t.Errorf("got submitters %v, want alice and bob", e.Submitters)
	}
}

// Concurrent sessions of one principal (subagents) each resume their own history,
// and forward what a cold scan forwards.
func TestResumeConcurrentSessions(t *testing.T) {
	p := newColdPair(t)
	s := newSecrets(t)
	const sessions, turns = 4, 3
	var bodies [][]byte
	for i := range sessions {
		ses := baseSession(s)
		ses.msgs[0] = userMsg(q(fmt.Sprintf("session %d: ", i)))
		for k := range turns {
			ses = ses.clone()
			ses.msgs = append(ses.msgs, toolExchange(50+k, prose(1000*i+k, 3000))...)
			bodies = append(bodies, ses.body())
		}
	}
	// Teach the known values first, so that the sessions' entries stay valid.
	p.send("warm-up", "alice", bodies[0])
	p.warm.up.Reset()
	errs := make(chan error, sessions)
	for i := range sessions {
		go func() {
			c := p.warm.client("alice")
			for _, b := range bodies[i*turns : (i+1)*turns] {
				resp, err := c.Post(anthropicURL, "application/json", bytes.NewReader(b))
				if err != nil {
					errs <- err
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					errs <- fmt.Errorf("status %d", resp.StatusCode)
					return
				}
			}
			errs <- nil
		}()
	}
	for range sessions {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	var warm, cold []string
	for _, r := range p.warm.up.Requests() {
		warm = append(warm, string(r.Body))
	}
	p.cold.up.Reset()
	for _, b := range bodies {
		if resp, got := post(t, p.cold.client("alice"), anthropicURL, nil, b); resp.StatusCode != http.StatusOK {
			t.Fatalf("cold: %d %s", resp.StatusCode, got)
		}
		cold = append(cold, string(p.cold.up.Last().Body))
	}
	slices.Sort(warm)
	slices.Sort(cold)
	if !slices.Equal(warm, cold) {
		t.Fatalf("the concurrent sessions forwarded other bodies than a cold scan (%d and %d bodies)", len(warm), len(cold))
	}
	if resumed := metricValue(t, p.warm, "cloakroom_scan_cache_lookups_total", map[string]string{"result": "resumed"}); resumed < sessions*(turns-1) {
		t.Errorf("got %v resumed walks, want at least %d", resumed, sessions*(turns-1))
	}
}

// A value learned after a resume entry was made is looked for in the prefix the
// entry covers. Where it may occur there (as it is, with a letter written as a \u
// escape, in JSON nested in a string whose backslash is written as one, or inside
// a base64 text payload), the body is walked whole and the occurrence replaced, as a
// cold scan does; where it cannot, the walk still resumes.
func TestResumeAfterLearning(t *testing.T) {
	s := newSecrets(t)
	v := s.AWSSecret // bare in prose, no rule takes it: only the known-value set does
	// A letter or digit in the middle of the value's longest run of them, escaped:
	// the run no longer shows as it is.
	alnum := func(c byte) bool { return c < 128 && (unicode.IsLetter(rune(c)) || unicode.IsDigit(rune(c))) }
	runStart, runEnd := 0, 0
	for a := 0; a < len(v); a++ {
		b := a
		for b < len(v) && alnum(v[b]) {
			b++
		}
		if b-a > runEnd-runStart {
			runStart, runEnd = a, b
		}
	}
	i := (runStart + runEnd) / 2
	escaped := v[:i] + fmt.Sprintf(`\u%04x`, v[i]) + v[i+1:]
	doc := base64.StdEncoding.EncodeToString([]byte("notes.txt\nI pasted " + v + " by mistake\n"))
	cases := []struct {
		name   string
		held   string // a message of the prefix holding v (or not)
		resume bool   // whether the turn after the one that learns v resumes
	}{
		{"absent", userMsg(q("nothing to see here")), true},
		{"as it is", userMsg(q("I pasted " + v + " by mistake")), false},
		{"a letter escaped", userMsg(`"I pasted ` + escaped + ` by mistake"`), false},
		{"nested, its backslash escaped", userMsg(`"{\"note\":\"I pasted ` + strings.Replace(escaped, `\`, `\u005C`, 1) + ` by mistake\"}"`), false},
		{"in a base64 text payload", `{"role":"user","content":[{"type":"document","source":{"type":"base64","media_type":"text/plain","data":"` + doc + `"}}]}`, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := newColdPair(t)
			ses := session{head: []string{`"model":"claude-sonnet-4-5"`, `"max_tokens":1024`}}
			for k := range 8 {
				ses.msgs = append(ses.msgs, userMsg(prose(40+k, 5000)))
			}
			ses.msgs = append(ses.msgs, c.held, userMsg(prose(50, 2000)))
			p.send("first turn", "alice", ses.body())
			ses.msgs = append(ses.msgs, userMsg(q("AWS_SECRET_ACCESS_KEY="+v+"\n")))
			p.send("the turn that learns the value", "alice", ses.body())
			before := metricValue(t, p.warm, "cloakroom_scan_cache_lookups_total", map[string]string{"result": "resumed"})
			ses.msgs = append(ses.msgs, userMsg(prose(51, 2000)))
			p.send("the turn after", "alice", ses.body())
			resumed := metricValue(t, p.warm, "cloakroom_scan_cache_lookups_total", map[string]string{"result": "resumed"}) > before
			if resumed != c.resume {
				t.Errorf("the turn after learning resumed: %v, want %v", resumed, c.resume)
			}
			if !c.resume && bytes.Contains(p.warm.up.Last().Body, []byte(v)) {
				t.Error("the value reached the upstream")
			}
			p.checkAudit()
		})
	}
}

// A base64 text payload that a walk skipped as clean (its text scanned in an earlier
// request) counts as one decoded before the points after it: once a value is learned,
// a prefix holding it is walked whole and the payload redacted, as a cold scan does.
func TestResumeAfterLearningCleanPayload(t *testing.T) {
	s := newSecrets(t)
	v := s.AWSSecret
	doc := base64.StdEncoding.EncodeToString([]byte("notes.txt\n" + strings.Repeat("a line of the notes file\n", 12) + "I pasted " + v + " by mistake\n"))
	p := newColdPair(t)
	ses := session{head: []string{`"model":"claude-sonnet-4-5"`, `"max_tokens":1024`}}
	ses.msgs = append(ses.msgs, `{"role":"user","content":[{"type":"document","source":{"type":"base64","media_type":"text/plain","data":"`+doc+`"}}]}`, userMsg(prose(1, 2000)))
	p.send("a small turn, which marks the payload clean", "alice", ses.body())
	for k := range 8 {
		ses.msgs = append(ses.msgs, userMsg(prose(40+k, 5000)))
	}
	p.send("a large turn walked whole, the payload skipped as clean", "alice", ses.body())
	ses.msgs = append(ses.msgs, userMsg(q("AWS_SECRET_ACCESS_KEY="+v+"\n")))
	p.send("the turn that learns the value", "alice", ses.body())
	ses.msgs = append(ses.msgs, userMsg(prose(51, 2000)))
	p.send("the turn after", "alice", ses.body())
	if bytes.Contains(p.warm.up.Last().Body, []byte(doc)) {
		t.Error("the payload holding the value reached the upstream")
	}
	if clean := metricValue(t, p.warm, "cloakroom_scan_cache_lookups_total", map[string]string{"result": "clean"}); clean < 1 {
		t.Error("the payload was never skipped as clean: the test does not test that")
	}
	p.checkAudit()
}
