package walk

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unsafe"
)

// callLog is a RedactRawFunc that replaces every "SECRET1" (names included) and logs
// what it was called with, and a SkipFunc that skips literals holding "SKIPME".
type callLog struct {
	calls []string
}

func (c *callLog) fn(f Field, _, s []byte) ([]Replacement, error) {
	c.calls = append(c.calls, fmt.Sprintf("%q %q %v %q %q", f.Path, f.Key, f.Name, f.MediaType, s))
	var reps []Replacement
	for i := 0; ; {
		j := bytes.Index(s[i:], []byte("SECRET1"))
		if j < 0 {
			return reps, nil
		}
		reps = append(reps, Replacement{Start: i + j, End: i + j + 7, With: tokA})
		i += j + 7
	}
}

func (c *callLog) skip(_ Field, raw []byte) bool { return bytes.Contains(raw, []byte("SKIPME")) }

// walkResult is one redaction with checkpoints: its output, the fn calls made, and
// each checkpoint with the replacements and the number of calls before it.
type walkResult struct {
	out   []byte
	err   error
	calls []string
	cps   []Checkpoint
	reps  [][]Replacement
	ncall []int
}

func redactLogged(body []byte, from *Checkpoint, before []Replacement, gap int) walkResult {
	return redactLoggedOpt(body, from, before, gap, false)
}

// redactLoggedOpt is redactLogged, writing the output over a copy of body with room
// to grow if inPlace is set.
func redactLoggedOpt(body []byte, from *Checkpoint, before []Replacement, gap int, inPlace bool) walkResult {
	var c callLog
	var r walkResult
	if inPlace {
		body = append(make([]byte, 0, len(body)+64), body...)
	}
	r.out, r.err = RedactResume(body, c.fn, ResumeOptions{Skip: c.skip, From: from, Before: before, Gap: gap, InPlace: inPlace,
		OnCheckpoint: func(cp Checkpoint, reps []Replacement) {
			r.cps = append(r.cps, cp)
			r.reps = append(r.reps, slices.Clone(reps))
			r.ncall = append(r.ncall, len(c.calls))
		}})
	r.calls = c.calls
	return r
}

// resumeBodies are bodies whose checkpoints the tests resume at.
func resumeBodies(t *testing.T) map[string][]byte {
	t.Helper()
	bodies := map[string][]byte{
		"escapes":      []byte(`{"system":"SECRET1 \u00e9\"","messages":[{"role":"user","content":"a\nSECRET1\u0053ECRET1"},{"role":"user","content":[{"type":"text","text":"b \ud83d\ude00 SECRET1"}]},{"x\u0041":["SECRET1",{"arguments":"{\"k\":\"SECRET1\",\"SECRET1\":[1,2]}"}]}],"z":1}`),
		"renamed name": []byte(`{"SECRET1":[{"a":"x SECRET1"},{"b":"y"},"SECRET1"],"messages":[{"c":"SECRET1"},{"d":"e"}],"after":"SECRET1 z"}`),
		"opaque later": []byte(`{"messages":[{"role":"user","content":"SECRET1"},{"content":"SECRET1 b","x":[1,"SECRET1"],"type":"thinking"},{"content":"SECRET1"}],"tail":"SECRET1"}`),
		"media later":  []byte(`{"messages":[{"source":{"x":["SECRET1"],"data":"SECRET1 data","y":2,"media_type":"image/png"}},{"source":{"data":"SECRET1","z":["SECRET1"],"mime_type":"text/plain"}}],"u":"SKIPME SECRET1"}`),
		"top array":    []byte(`[{"a":"SECRET1"}, [ "SECRET1" , {"b":[{"c":"SECRET1"}]} ] ,"SECRET1", 1.5e3, null, true]`),
		"agent":        bytes.ReplaceAll(agentBody(30<<10), []byte(benchSecret), []byte("SECRET1")),
	}
	files, err := filepath.Glob("testdata/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("testdata: %v", err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		bodies[filepath.Base(f)] = bytes.ReplaceAll(b, []byte("AKIAIOSFODNN7EXAMPLE"), []byte("SECRET1"))
	}
	return bodies
}

// checkResumed fails unless resuming b at cp (taken on a body with the same bytes
// before it, after nBefore calls and with the replacements before) does what a whole
// walk of b does after the checkpoint. It reports whether the walk resumed.
func checkResumed(t *testing.T, b []byte, cp Checkpoint, before []Replacement, nBefore int, full walkResult) bool {
	t.Helper()
	got := redactLoggedOpt(b, &cp, before, 1, cp.Offset%2 == 0)
	switch {
	case full.err != nil:
		if got.err == nil {
			t.Fatalf("resumed at %d: got no error, want one (whole walk: %v)", cp.Offset, full.err)
		}
		return false
	case errors.Is(got.err, ErrCannotResume):
		return false
	case got.err != nil:
		t.Fatalf("resumed at %d: got %v, want no error", cp.Offset, got.err)
	}
	if !bytes.Equal(got.out, full.out) {
		t.Fatalf("resumed at %d: output differs\ngot  %s\nwant %s", cp.Offset, got.out, full.out)
	}
	if want := full.calls[nBefore:]; !slices.Equal(got.calls, want) {
		t.Fatalf("resumed at %d: calls differ\ngot  %q\nwant %q", cp.Offset, got.calls, want)
	}
	// The checkpoints after it are the whole walk's (Gap 1: every one there is).
	var want []Checkpoint
	for _, c := range full.cps {
		if c.Offset > cp.Offset {
			want = append(want, c)
		}
	}
	if len(got.cps) != len(want) {
		t.Fatalf("resumed at %d: got %d checkpoints after it, want %d", cp.Offset, len(got.cps), len(want))
	}
	for k := range want {
		if got.cps[k].Offset != want[k].Offset || got.cps[k].Reps != want[k].Reps {
			t.Fatalf("resumed at %d: checkpoint %d at %d after %d replacements, want %d after %d",
				cp.Offset, k, got.cps[k].Offset, got.cps[k].Reps, want[k].Offset, want[k].Reps)
		}
	}
	return true
}

// Resuming a body at any of its own checkpoints gives what the whole walk gives.
func TestResumeSameBody(t *testing.T) {
	for name, body := range resumeBodies(t) {
		t.Run(name, func(t *testing.T) {
			full := redactLogged(body, nil, nil, 1)
			if full.err != nil {
				t.Fatal(full.err)
			}
			plain, err := RedactSkip(body, (&callLog{}).fn, (&callLog{}).skip)
			if err != nil || !bytes.Equal(plain, full.out) {
				t.Fatalf("checkpoints changed the output (err %v)", err)
			}
			if len(full.cps) == 0 {
				t.Fatal("got no checkpoint")
			}
			for k, cp := range full.cps {
				if cp.Reps != len(full.reps[k]) {
					t.Fatalf("checkpoint %d: Reps %d, got %d replacements", k, cp.Reps, len(full.reps[k]))
				}
				for _, r := range full.reps[k] {
					if r.End > cp.Offset {
						t.Fatalf("checkpoint %d at %d: a replacement before it ends at %d", k, cp.Offset, r.End)
					}
				}
				if !checkResumed(t, body, cp, full.reps[k], full.ncall[k], full) {
					t.Fatalf("checkpoint %d at %d: could not resume on the same body", k, cp.Offset)
				}
			}
		})
	}
}

// Checkpoints are never taken where what follows changes the strings before them.
func TestCheckpointPlacement(t *testing.T) {
	bodies := resumeBodies(t)
	tests := []struct {
		name string
		body string
		none []string // no checkpoint may follow any of these prefixes' ends
	}{
		{"inside a renamed member", "renamed name", []string{`{"SECRET1":[{"a":"x SECRET1"}`, `{"SECRET1":[{"a":"x SECRET1"},{"b":"y"}`}},
		{"inside an object that turns opaque", "opaque later", []string{`{"messages":[{"role":"user","content":"SECRET1"},{"content":"SECRET1 b"`, `{"messages":[{"role":"user","content":"SECRET1"},{"content":"SECRET1 b","x":[1,"SECRET1"]`}},
		{"after a media object's data", "media later", []string{`{"messages":[{"source":{"x":["SECRET1"],"data":"SECRET1 data"`, `{"messages":[{"source":{"x":["SECRET1"],"data":"SECRET1 data","y":2`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			full := redactLogged(bodies[tt.body], nil, nil, 1)
			if full.err != nil {
				t.Fatal(full.err)
			}
			for _, p := range tt.none {
				if !bytes.HasPrefix(bodies[tt.body], []byte(p)) {
					t.Fatalf("%q is not a prefix of the body", p)
				}
				for _, cp := range full.cps {
					if cp.Offset == len(p) {
						t.Errorf("got a checkpoint at %d, after %q", cp.Offset, p)
					}
				}
			}
		})
	}
}

// An object around the checkpoint that turns out opaque after it makes the walk
// refuse to resume: the strings before it were redacted, and must not be.
func TestResumeOpaqueLater(t *testing.T) {
	a := []byte(`{"messages":[{"content":"SECRET1"},{"content":"b"}],"x":"y"}`)
	full := redactLogged(a, nil, nil, 1)
	var cp *Checkpoint
	for k := range full.cps {
		if bytes.HasSuffix(a[:full.cps[k].Offset], []byte(`{"content":"SECRET1"}`)) {
			cp = &full.cps[k]
			break
		}
	}
	if cp == nil {
		t.Fatal("no checkpoint after the first message")
	}
	b := []byte(`{"messages":[{"content":"SECRET1"},{"content":"b"}],"type":"thinking"}`)
	got := redactLogged(b, cp, full.reps[0][:cp.Reps], 1)
	if !errors.Is(got.err, ErrCannotResume) {
		t.Fatalf("got %v, want ErrCannotResume", got.err)
	}
	if len(got.calls) != 0 {
		t.Fatalf("got %d calls before the error, want none", len(got.calls))
	}
}

// Checkpoints and replacements that do not fit the body are refused.
func TestResumeMisfit(t *testing.T) {
	a := []byte(`{"messages":[{"content":"SECRET1"},{"content":"b"}],"x":"y"}`)
	full := redactLogged(a, nil, nil, 1)
	cp := full.cps[len(full.cps)-1]
	reps := full.reps[len(full.reps)-1]
	tests := []struct {
		name   string
		body   []byte
		cp     Checkpoint
		before []Replacement
	}{
		{"body shorter than the checkpoint", a[:cp.Offset-1], cp, reps},
		{"missing replacements", a, cp, nil},
		{"replacement past the checkpoint", a, cp, []Replacement{{Start: 0, End: cp.Offset + 1, With: "x"}}},
		{"zero checkpoint", a, Checkpoint{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "replacement past the checkpoint" {
				tt.cp.Reps = 1
			}
			_, err := RedactResume(tt.body, (&callLog{}).fn, ResumeOptions{From: &tt.cp, Before: tt.before})
			if !errors.Is(err, ErrCannotResume) {
				t.Fatalf("got %v, want ErrCannotResume", err)
			}
		})
	}
}

// snippets are what the randomized test inserts after a checkpoint.
var snippets = []string{`,"type":"thinking"`, `,"media_type":"image/png"`, `,"SECRET1":"x"`, `,{"a":"SECRET1"}`,
	`"SECRET1",`, `,"data":"SECRET1"`, `\u0053`, `\`, `"`, `]`, `}`, `,`, ` `, `{"type":"thinking","t":"SECRET1"},`}

// A body that shares the bytes before a checkpoint with the body it was taken on and
// differs after it in one random byte or snippet is redacted exactly as a whole walk
// redacts it: same output, same calls, same checkpoints, or the same error.
func TestResumeRandomTails(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	alphabet := []byte(`"\{}[],: aS1n0t/u`)
	resumed, total := 0, 0
	for name, body := range resumeBodies(t) {
		full := redactLogged(body, nil, nil, 1)
		if full.err != nil {
			t.Fatalf("%s: %v", name, full.err)
		}
		for range 150 {
			k := rng.IntN(len(full.cps))
			cp := full.cps[k]
			if cp.Offset >= len(body) {
				continue
			}
			pos := cp.Offset + rng.IntN(len(body)-cp.Offset)
			var b []byte
			if rng.IntN(2) == 0 {
				b = slices.Clone(body)
				b[pos] = alphabet[rng.IntN(len(alphabet))]
			} else {
				b = slices.Concat(body[:pos], []byte(snippets[rng.IntN(len(snippets))]), body[pos:])
			}
			total++
			if checkResumed(t, b, cp, full.reps[k], full.ncall[k], redactLogged(b, nil, nil, 1)) {
				resumed++
			}
		}
	}
	if resumed < total/4 {
		t.Errorf("resumed only %d of %d walks", resumed, total)
	}
}

// Checkpoints are at least Gap bytes apart.
func TestCheckpointGap(t *testing.T) {
	body := resumeBodies(t)["agent"]
	full := redactLogged(body, nil, nil, 4096)
	if len(full.cps) < 3 {
		t.Fatalf("got %d checkpoints 4 KB apart in %d bytes, want more", len(full.cps), len(body))
	}
	last := 0
	for _, cp := range full.cps {
		if cp.Offset-last < 4096 {
			t.Errorf("checkpoint at %d only %d bytes after the last", cp.Offset, cp.Offset-last)
		}
		last = cp.Offset
	}
}

// FuzzResume: for two bodies, resuming the second at each checkpoint of the first
// before which they agree does what a whole walk of the second does.
func FuzzResume(f *testing.F) {
	for _, b := range resumeBodies(&testing.T{}) {
		if len(b) < 4<<10 {
			f.Add(b, slices.Concat(b[:len(b)/2], []byte(`,"SECRET1"`), b[len(b)/2:]))
		}
	}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		if len(a) > 8<<10 || len(b) > 8<<10 {
			return
		}
		first := redactLogged(a, nil, nil, 1)
		if first.err != nil {
			return
		}
		var whole *walkResult
		for k, cp := range first.cps {
			if cp.Offset > len(b) || !bytes.Equal(a[:cp.Offset], b[:cp.Offset]) {
				break
			}
			if whole == nil {
				r := redactLogged(b, nil, nil, 1)
				whole = &r
			}
			checkResumed(t, b, cp, first.reps[k], first.ncall[k], *whole)
		}
	})
}

// spliceInPlace gives what splice gives, whatever the replacements' sizes, or
// reports that the capacity is too small, and leaves nothing of the body outside
// its output.
func TestSpliceInPlace(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	inPlace := 0
	for it := range 3000 {
		n := rng.IntN(200)
		body := make([]byte, n, n+rng.IntN(40))
		for i := range body {
			body[i] = byte('a' + rng.IntN(26))
		}
		var reps []Replacement
		for at := 0; at < n; {
			start := at + rng.IntN(n-at)
			end := min(start+rng.IntN(30), n)
			reps = append(reps, Replacement{Start: start, End: end, With: strings.Repeat("X", rng.IntN(30))})
			at = end + 1
			if rng.IntN(4) == 0 {
				break
			}
		}
		want := Splice(slices.Clone(body), reps)
		got, ok := spliceInPlace(body, reps)
		if !ok {
			if len(want) <= cap(body) {
				t.Fatalf("%d: refused %d bytes in a capacity of %d", it, len(want), cap(body))
			}
			continue
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%d: got %q, want %q", it, got, want)
		}
		// Nothing of the body is left outside the output (its bytes are letters).
		buf := body[:cap(body)]
		o := 0
		if len(got) > 0 {
			o = int(uintptr(unsafe.Pointer(unsafe.SliceData(got))) - uintptr(unsafe.Pointer(unsafe.SliceData(buf))))
		}
		for i, c := range buf[:len(body)] {
			if (i < o || i >= o+len(got)) && c != 0 {
				t.Fatalf("%d: byte %d of the body (output at [%d,%d)) left as %q", it, i, o, o+len(got), c)
			}
		}
		inPlace++
	}
	if inPlace < 1000 {
		t.Errorf("only %d of 3000 spliced in place", inPlace)
	}
}
