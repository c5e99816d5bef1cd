package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// record returns the i-th test record.
func record(i int) Record {
	return Record{Time: time.Date(2026, 3, 1, 10, 0, i, 0, time.UTC), ID: fmt.Sprintf("req_%d", i),
		Principal: []string{"alice", "bob"}[i%2], Host: "api.anthropic.com", Method: "POST", Path: "/v1/messages",
		Status: 200, Decision: "forwarded", Detections: []Detection{{Rule: "aws-access-key", Class: "aws", Token: "cloak_aws_x"}}}
}

// writeN appends n records (request and decision records alternating) to w.
func writeN(t testing.TB, w *Writer, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		var err error
		if i%3 == 2 {
			err = w.WriteDecision(Decision{Event: "allow", Principal: "alice", Token: "cloak_aws_x", Rule: "aws-access-key"})
		} else {
			err = w.Write(record(i))
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// lines returns the lines of the file at path, without their newlines.
func lines(t testing.TB, path string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n"))
}

func headerOf(t testing.TB, line []byte) header {
	t.Helper()
	h, ok := parseHeader(line)
	if !ok {
		t.Fatalf("not a chain line: %s", line)
	}
	return h
}

func hashOf(line []byte) string {
	s := sha256.Sum256(line)
	return hex.EncodeToString(s[:])
}

// checkChain asserts that ls is one chain from seq first, each prev the hash of
// the line before (the first's prev being prev0).
func checkChain(t *testing.T, ls [][]byte, first uint64, prev0 string) {
	t.Helper()
	chain := headerOf(t, ls[0]).Chain
	prev := prev0
	for i, l := range ls {
		h := headerOf(t, l)
		if h.Seq != first+uint64(i) || h.Chain != chain || h.Prev != prev {
			t.Fatalf("line %d: got seq %d chain %s prev %s, want seq %d chain %s prev %s", i+1, h.Seq, h.Chain, h.Prev, first+uint64(i), chain, prev)
		}
		prev = hashOf(l)
	}
}

func TestChainFields(t *testing.T) {
	var buf bytes.Buffer
	w := New(&buf)
	writeN(t, w, 0, 5)
	if err := w.WriteEvent(struct {
		Type string `json:"type"`
	}{"custom"}); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteEvent(struct{}{}); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteEvent(42); err == nil {
		t.Error("WriteEvent(42): got nil error, want one (not an object)")
	}
	ls := bytes.Split(bytes.TrimSuffix(buf.Bytes(), []byte("\n")), []byte("\n"))
	if len(ls) != 7 {
		t.Fatalf("got %d lines, want 7", len(ls))
	}
	checkChain(t, ls, 1, ZeroHash)
	if !bytes.HasPrefix(ls[0], []byte(`{"seq":1,"chain":"`)) {
		t.Errorf("got line %s, want it to start with seq and chain", ls[0])
	}
	if !json.Valid(ls[6]) || !bytes.HasSuffix(ls[6], []byte(`"}`)) {
		t.Errorf("empty object: got %s, want a valid line ending with the prev", ls[6])
	}
	chain, seq, head := w.Head()
	if chain != headerOf(t, ls[0]).Chain || seq != 7 || head != hashOf(ls[6]) {
		t.Errorf("Head: got %s %d %s, want the last line's", chain, seq, head)
	}
	if r, err := VerifyReader(&buf, "buf", false); err != nil || r.Problem != nil || r.Records != 7 {
		t.Errorf("verify: got %+v, %v; want 7 intact records", r, err)
	}
	if New(&buf).chain == w.chain {
		t.Error("two writers got the same chain id")
	}
}

func TestConcurrentWritesKeepTheChain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	w, err := OpenFile(path, Options{MaxBytes: 4 << 10, Keep: 100})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() { writeN(t, w, g*25, 25) })
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	files, err := Files(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 3 {
		t.Fatalf("got %d files, want rotation to have made several", len(files))
	}
	r, err := VerifyFiles(files, false)
	if err != nil || r.Problem != nil {
		t.Fatalf("verify: got %v, %v; want intact", r.Problem, err)
	}
	if want := 200 + len(files) - 1; r.Records != want { // one rotated event per new file
		t.Errorf("got %d records, want %d", r.Records, want)
	}
	if err := w.Write(record(1)); err == nil {
		t.Error("write after Close: got nil error")
	}
}

func TestOpenContinuesTheChain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	for range 3 {
		w, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		writeN(t, w, 0, 4)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	ls := lines(t, path)
	if len(ls) != 12 {
		t.Fatalf("got %d lines, want 12", len(ls))
	}
	checkChain(t, ls, 1, ZeroHash)
}

// A last line without its newline: a crash mid-write.
func TestOpenTornTail(t *testing.T) {
	tests := []struct {
		name     string
		cut      func(last []byte) []byte // what remains of the last line
		wantTorn bool
	}{
		{"cut mid-record", func(l []byte) []byte { return l[:len(l)/2] }, true},
		{"one byte", func(l []byte) []byte { return l[:1] }, true},
		{"only the newline missing", func(l []byte) []byte { return l }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "audit.jsonl")
			w, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			writeN(t, w, 0, 4)
			w.Close()
			ls := lines(t, path)
			frag := tt.cut(ls[3])
			var b []byte
			for _, l := range ls[:3] {
				b = append(append(b, l...), '\n')
			}
			b = append(b, frag...)
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
			r, err := VerifyFiles([]string{path}, false)
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantTorn && (r.Problem == nil || r.Problem.Kind != KindTruncated || r.Problem.Pos.Line != 4) {
				t.Errorf("before reopening: got %v, want truncated at line 4", r.Problem)
			}

			w, err = Open(path)
			if err != nil {
				t.Fatal(err)
			}
			writeN(t, w, 10, 2)
			w.Close()
			ls = lines(t, path)
			if !bytes.Equal(ls[3], frag) {
				t.Fatalf("line 4: got %q, want the fragment kept as it was", ls[3])
			}
			if tt.wantTorn {
				if len(ls) != 7 {
					t.Fatalf("got %d lines, want 7 (3, the torn line, the torn event, 2)", len(ls))
				}
				var ev ChainEvent
				if err := json.Unmarshal(ls[4], &ev); err != nil || ev.Event != EventTorn || ev.TornSHA256 != hashOf(frag) || ev.TornBytes != len(frag) {
					t.Fatalf("line 5: got %s, want a torn event naming line 4", ls[4])
				}
				checkChain(t, append(ls[:3:3], ls[4:]...), 1, ZeroHash)
			} else {
				if len(ls) != 6 {
					t.Fatalf("got %d lines, want 6", len(ls))
				}
				checkChain(t, ls, 1, ZeroHash)
			}
			r, err = VerifyFiles([]string{path}, false)
			if err != nil || r.Problem != nil {
				t.Fatalf("verify: got %v, %v; want intact", r.Problem, err)
			}
			if tt.wantTorn && !strings.Contains(strings.Join(r.Notes, "\n"), "torn") {
				t.Errorf("notes %q: want one about the torn line", r.Notes)
			}
		})
	}
}

func TestOpenOlderLogStartsAChain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	old := `{"type":"request","id":"a"}` + "\n" + `{"type":"request","id":"b"}` + "\n"
	if err := os.WriteFile(path, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	w, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	writeN(t, w, 0, 3)
	w.Close()
	ls := lines(t, path)
	checkChain(t, ls[2:], 1, ZeroHash)
	r, err := VerifyFiles([]string{path}, false)
	if err != nil || r.Problem != nil || r.Records != 3 {
		t.Fatalf("verify: got %+v, %v; want 3 intact records", r, err)
	}
	if !strings.Contains(strings.Join(r.Notes, "\n"), "2 lines before the chain") {
		t.Errorf("notes %q: want the 2 older lines counted", r.Notes)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("got mode %v, want 0600", fi.Mode().Perm())
	}
}

// failingWriter writes everything until fail is set, then writes part of the next
// call and fails it.
type failingWriter struct {
	buf  bytes.Buffer
	part int // bytes of the failing write that land
	fail bool
}

func (f *failingWriter) Write(p []byte) (int, error) {
	if f.fail {
		n := min(f.part, len(p))
		f.buf.Write(p[:n])
		f.fail = false
		return n, errors.New("disk full")
	}
	return f.buf.Write(p)
}

func TestFailedWriteIsRepaired(t *testing.T) {
	tests := []struct {
		name     string
		part     int // bytes of the failed line written; -1: all but the newline
		wantTorn bool
	}{
		{"nothing written", 0, false},
		{"half written", 40, true},
		{"all but the newline", -1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fw := &failingWriter{}
			w := New(fw)
			writeN(t, w, 0, 2)
			fw.fail, fw.part = true, tt.part
			if tt.part < 0 {
				r := record(5)
				r.Type = TypeRequest
				rec, _ := json.Marshal(r)
				fw.part = len(w.build(rec)) - 1
			}
			if err := w.Write(record(5)); err == nil {
				t.Fatal("got nil error from a failed write")
			}
			writeN(t, w, 6, 2)
			r, err := VerifyReader(bytes.NewReader(fw.buf.Bytes()), "buf", false)
			if err != nil || r.Problem != nil {
				t.Fatalf("verify: got %v, %v; want intact\n%s", r.Problem, err, fw.buf.Bytes())
			}
			torn := bytes.Contains(fw.buf.Bytes(), []byte(`"event":"torn"`))
			if torn != tt.wantTorn {
				t.Errorf("got torn event %v, want %v\n%s", torn, tt.wantTorn, fw.buf.Bytes())
			}
		})
	}
}

func TestDiscard(t *testing.T) {
	for _, w := range []*Writer{Discard(), New(io.Discard)} {
		if err := w.Write(record(1)); err != nil {
			t.Fatal(err)
		}
		if err := w.WriteDecision(Decision{Event: "allow"}); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func BenchmarkWrite(b *testing.B) {
	w := New(&discardCounter{})
	rec := record(1)
	line, _ := json.Marshal(rec)
	b.ReportAllocs()
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		if err := w.Write(rec); err != nil {
			b.Fatal(err)
		}
	}
}

// discardCounter is an io.Writer that is not io.Discard (which skips the chain).
type discardCounter struct{ n int }

func (d *discardCounter) Write(p []byte) (int, error) { d.n += len(p); return len(p), nil }
