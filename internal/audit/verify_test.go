package audit

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// tamperLog writes a 10-line log and returns its lines and the writer's head.
func tamperLog(t testing.TB) (ls [][]byte, head string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	w, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	writeN(t, w, 0, 10)
	_, _, head = w.Head()
	w.Close()
	return lines(t, path), head
}

func join(ls [][]byte) []byte {
	var b []byte
	for _, l := range ls {
		b = append(append(b, l...), '\n')
	}
	return b
}

// replace returns l with old replaced by new once, failing when old is absent.
func replace(t *testing.T, l []byte, old, new string) []byte {
	t.Helper()
	if !bytes.Contains(l, []byte(old)) {
		t.Fatalf("%q not in %s", old, l)
	}
	return bytes.Replace(l, []byte(old), []byte(new), 1)
}

func TestVerifyFindsTampering(t *testing.T) {
	tests := []struct {
		name     string
		tamper   func(t *testing.T, ls [][]byte) []byte
		partial  bool
		wantKind string
		wantLine int
		wantSeq  uint64
		wantText []string // in the problem's message
	}{
		{"edit a byte", func(t *testing.T, ls [][]byte) []byte {
			ls[3] = replace(t, ls[3], `"status":200`, `"status":201`)
			return join(ls)
		}, false, KindEdited, 4, 4, []string{"its hash is", "has prev", "seq 5"}},
		{"edit a byte that breaks the JSON", func(t *testing.T, ls [][]byte) []byte {
			ls[3][0] = '['
			return join(ls)
		}, false, KindEdited, 4, 0, []string{"does not parse"}},
		{"edit a prev", func(t *testing.T, ls [][]byte) []byte {
			h := headerOf(t, ls[4])
			ls[4] = replace(t, ls[4], h.Prev, strings.Repeat("a", 64))
			return join(ls)
		}, false, KindEdited, 4, 4, []string{"or that prev"}},
		{"edit a seq", func(t *testing.T, ls [][]byte) []byte {
			ls[3] = replace(t, ls[3], `"seq":4,`, `"seq":9,`)
			return join(ls)
		}, false, KindEdited, 4, 9, []string{"should be 4"}},
		{"damage the chain fields", func(t *testing.T, ls [][]byte) []byte {
			ls[3] = replace(t, ls[3], `"seq"`, `"sea"`)
			return join(ls)
		}, false, KindEdited, 4, 0, []string{"chain fields"}},
		{"delete a line", func(t *testing.T, ls [][]byte) []byte {
			return join(slices.Delete(ls, 3, 4))
		}, false, KindDeleted, 4, 5, []string{"seq 4 missing", ":3 (seq 3)"}},
		{"delete three lines", func(t *testing.T, ls [][]byte) []byte {
			return join(slices.Delete(ls, 3, 6))
		}, false, KindDeleted, 4, 7, []string{"seq 4-6 missing"}},
		{"swap two lines", func(t *testing.T, ls [][]byte) []byte {
			ls[3], ls[4] = ls[4], ls[3]
			return join(ls)
		}, false, KindReordered, 4, 5, []string{"seq 5 belongs after seq 4", ":5"}},
		{"move a line earlier", func(t *testing.T, ls [][]byte) []byte {
			l := ls[7]
			return join(slices.Insert(slices.Delete(ls, 7, 8), 2, l))
		}, false, KindReordered, 3, 8, []string{"seq 8 belongs after seq 7", ":8"}},
		{"move a line to the end", func(t *testing.T, ls [][]byte) []byte {
			l := ls[2]
			return join(append(slices.Delete(ls, 2, 3), l))
		}, false, KindReordered, 3, 4, []string{"seq 3 should follow seq 2", ":10"}},
		{"copy a line", func(t *testing.T, ls [][]byte) []byte {
			return join(slices.Insert(ls, 4, ls[3]))
		}, false, KindInserted, 5, 4, []string{"a copy of seq 4", ":4"}},
		{"insert a line without chain fields", func(t *testing.T, ls [][]byte) []byte {
			return join(slices.Insert(ls, 4, []byte(`{"type":"request","id":"forged"}`)))
		}, false, KindInserted, 5, 0, []string{"without chain fields"}},
		{"insert a forged line in the chain's place", func(t *testing.T, ls [][]byte) []byte {
			forged := replace(t, ls[4], `"status":200`, `"status":500`)
			forged = replace(t, forged, headerOf(t, forged).Prev, strings.Repeat("b", 64))
			return join(slices.Insert(ls, 4, forged))
		}, false, KindInserted, 5, 5, []string{"was added"}},
		{"insert a forged line ahead", func(t *testing.T, ls [][]byte) []byte {
			forged := replace(t, ls[4], `"seq":5,`, `"seq":50,`)
			return join(slices.Insert(ls, 4, forged))
		}, false, KindInserted, 5, 50, []string{"was added"}},
		{"insert a line of another chain", func(t *testing.T, ls [][]byte) []byte {
			other := replace(t, ls[4], headerOf(t, ls[4]).Chain, "0123456789abcdef")
			return join(slices.Insert(ls, 4, other))
		}, false, KindInserted, 5, 5, []string{"chain 0123456789abcdef"}},
		{"insert an empty line", func(t *testing.T, ls [][]byte) []byte {
			return join(slices.Insert(ls, 4, []byte{}))
		}, false, KindInserted, 5, 0, []string{"empty line"}},
		{"truncate mid-line", func(t *testing.T, ls [][]byte) []byte {
			b := join(ls)
			return b[:len(b)-len(ls[9])/2]
		}, false, KindTruncated, 10, 0, []string{"incomplete"}},
		{"truncate the head", func(t *testing.T, ls [][]byte) []byte {
			return join(ls[3:])
		}, false, KindDeleted, 1, 4, []string{"begins at seq 4", "no rotation"}},
		{"truncate the head, partial", func(t *testing.T, ls [][]byte) []byte {
			return join(ls[3:])
		}, true, "", 0, 0, nil},
		{"untouched", func(t *testing.T, ls [][]byte) []byte { return join(ls) }, false, "", 0, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ls, _ := tamperLog(t)
			path := filepath.Join(t.TempDir(), "audit.jsonl")
			if err := os.WriteFile(path, tt.tamper(t, ls), 0o600); err != nil {
				t.Fatal(err)
			}
			r, err := VerifyFiles([]string{path}, tt.partial)
			if err != nil {
				t.Fatal(err)
			}
			p := r.Problem
			if tt.wantKind == "" {
				if p != nil {
					t.Fatalf("got %v, want intact", p)
				}
				return
			}
			if p == nil {
				t.Fatalf("got intact (%d records), want %s", r.Records, tt.wantKind)
			}
			if p.Kind != tt.wantKind || p.Pos.Line != tt.wantLine || p.Seq != tt.wantSeq || p.Pos.Source != path {
				t.Errorf("got %s at line %d seq %d, want %s at line %d seq %d\n%v", p.Kind, p.Pos.Line, p.Seq, tt.wantKind, tt.wantLine, tt.wantSeq, p)
			}
			for _, w := range tt.wantText {
				if !strings.Contains(p.Error(), w) {
					t.Errorf("message %q: want %q in it", p.Error(), w)
				}
			}
		})
	}
}

// Cutting the newest lines at a line boundary, or editing the newest line, leaves
// a valid chain: only a head kept elsewhere shows it. Verify reports the head.
func TestVerifyHeadShowsACut(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(ls [][]byte) [][]byte
	}{
		{"last lines removed", func(ls [][]byte) [][]byte { return ls[:8] }},
		{"last line edited", func(ls [][]byte) [][]byte {
			ls[9] = bytes.Replace(ls[9], []byte(`"principal":"bob"`), []byte(`"principal":"eve"`), 1)
			return ls
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ls, head := tamperLog(t)
			r, err := VerifyReader(bytes.NewReader(join(ls)), "log", false)
			if err != nil || r.Problem != nil || len(r.Chains) != 1 || r.Chains[0].Head != head {
				t.Fatalf("untouched: got %+v, %v; want intact with head %s", r, err, head)
			}
			r, err = VerifyReader(bytes.NewReader(join(tt.tamper(ls))), "log", false)
			if err != nil || r.Problem != nil {
				t.Fatalf("got %v, %v; want a chain that verifies", r.Problem, err)
			}
			if r.Chains[0].Head == head {
				t.Error("the head did not change")
			}
		})
	}
}

func TestVerifyTwoChainsInOneFile(t *testing.T) {
	var buf bytes.Buffer
	writeN(t, New(&buf), 0, 3) // stdout of one process,
	writeN(t, New(&buf), 0, 3) // then of the next
	r, err := VerifyReader(&buf, "stdout", false)
	if err != nil || r.Problem != nil || len(r.Chains) != 2 || r.Records != 6 {
		t.Fatalf("got %+v, %v; want 2 intact chains of 6 records", r, err)
	}
	if !strings.Contains(strings.Join(r.Notes, "\n"), "a new chain") {
		t.Errorf("notes %q: want one about the new chain", r.Notes)
	}
}

func TestVerifyMissingFile(t *testing.T) {
	if _, err := VerifyFiles([]string{filepath.Join(t.TempDir(), "none")}, false); err == nil {
		t.Error("got nil error for a missing file")
	}
}

// FuzzVerify: verification never panics, whatever the lines.
func FuzzVerify(f *testing.F) {
	ls, _ := tamperLog(f)
	f.Add(join(ls))
	f.Add([]byte("{}\n\n{\"seq\":1}\n"))
	f.Add([]byte(`{"seq":1,"chain":"a","prev":"` + ZeroHash + `","type":"chain","event":"torn","torn_sha256":"x"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, partial := range []bool{false, true} {
			r, err := VerifyReader(bytes.NewReader(data), "fuzz", partial)
			if err != nil || r == nil {
				t.Fatalf("got %v, %v", r, err)
			}
		}
	})
}

// FuzzVerifyDetectsEdits: changing any byte of a log outside its last line breaks
// the chain.
func FuzzVerifyDetectsEdits(f *testing.F) {
	ls, _ := tamperLog(f)
	log := join(ls)
	body := len(log) - len(ls[9]) - 1 // the bytes before the last line
	f.Add(uint(0), byte('x'))
	f.Add(uint(100), byte('1'))
	f.Add(uint(len(ls[0])), byte(' '))
	f.Fuzz(func(t *testing.T, at uint, b byte) {
		i := int(at % uint(body))
		if log[i] == b {
			return
		}
		edited := bytes.Clone(log)
		edited[i] = b
		r, err := VerifyReader(bytes.NewReader(edited), "fuzz", false)
		if err != nil {
			t.Fatal(err)
		}
		if r.Problem == nil {
			t.Fatalf("byte %d changed from %q to %q: got intact, want a problem", i, log[i], b)
		}
	})
}
