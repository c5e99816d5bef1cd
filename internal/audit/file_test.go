package audit

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestRotation(t *testing.T) {
	tests := []struct {
		name      string
		keep      int
		wantFiles []string // besides audit.jsonl
	}{
		{"keep 2", 2, []string{"audit.jsonl.2", "audit.jsonl.1"}},
		{"keep 0", 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "audit.jsonl")
			const maxBytes = 3000
			w, err := OpenFile(path, Options{MaxBytes: maxBytes, Keep: tt.keep})
			if err != nil {
				t.Fatal(err)
			}
			writeN(t, w, 0, 60)
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			files, err := Files(path)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, f := range tt.wantFiles {
				want = append(want, filepath.Join(dir, f))
			}
			want = append(want, path)
			if !reflect.DeepEqual(files, want) {
				t.Fatalf("got files %v, want %v", files, want)
			}
			for _, f := range files {
				fi, err := os.Stat(f)
				if err != nil {
					t.Fatal(err)
				}
				if fi.Size() > maxBytes || fi.Mode().Perm() != 0o600 {
					t.Errorf("%s: got %d bytes, mode %v; want at most %d, 0600", f, fi.Size(), fi.Mode().Perm(), maxBytes)
				}
			}
			// Every file but the first (whose predecessor retention deleted) links to
			// the last line of the one before.
			for i := 1; i < len(files); i++ {
				before, first := lines(t, files[i-1]), lines(t, files[i])[0]
				h := headerOf(t, first)
				if h.Prev != hashOf(before[len(before)-1]) || h.Seq != headerOf(t, before[len(before)-1]).Seq+1 {
					t.Errorf("%s: first line does not continue %s", files[i], files[i-1])
				}
			}
			// The live file starts with a rotated event naming what retention deleted.
			var ev ChainEvent
			first := lines(t, path)[0]
			if err := json.Unmarshal(first, &ev); err != nil || ev.Type != TypeChain || ev.Event != EventRotated || ev.PrunedThrough == 0 {
				t.Fatalf("first line of the live file: got %s, want a rotated event with pruned_through", first)
			}
			oldest := lines(t, files[0])[0]
			if h := headerOf(t, oldest); h.Seq != ev.PrunedThrough+1 && len(files) > 1 {
				t.Errorf("oldest file begins at seq %d, want %d", h.Seq, ev.PrunedThrough+1)
			}
			r, err := VerifyFiles(files, false)
			if err != nil || r.Problem != nil {
				t.Fatalf("verify: got %v, %v; want intact", r.Problem, err)
			}
			if !strings.Contains(strings.Join(r.Notes, "\n"), "deleted by retention") {
				t.Errorf("notes %q: want one about retention", r.Notes)
			}

			// Reopening continues the chain after rotation.
			w, err = OpenFile(path, Options{MaxBytes: maxBytes, Keep: tt.keep})
			if err != nil {
				t.Fatal(err)
			}
			writeN(t, w, 100, 5)
			w.Close()
			files, _ = Files(path)
			if r, err := VerifyFiles(files, false); err != nil || r.Problem != nil {
				t.Fatalf("verify after reopening: got %v, %v; want intact", r.Problem, err)
			}

			// A file removed by hand is not retention.
			if len(files) > 1 {
				if err := os.Remove(files[0]); err != nil {
					t.Fatal(err)
				}
				files, _ = Files(path)
				r, err := VerifyFiles(files, false)
				if err != nil || r.Problem == nil || r.Problem.Kind != KindDeleted || r.Problem.Pos.Source != files[0] || r.Problem.Pos.Line != 1 {
					t.Fatalf("oldest file removed: got %v, %v; want deleted at %s:1", r.Problem, err, files[0])
				}
				if r, err := VerifyFiles(files, true); err != nil || r.Problem != nil {
					t.Errorf("oldest file removed, --partial: got %v, %v; want intact", r.Problem, err)
				}
			}
		})
	}
}

// A crash between rotation's renames and the new file: the chain goes on from path.1.
func TestOpenAfterRotationCrash(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	w, _ := Open(path)
	writeN(t, w, 0, 3)
	w.Close()
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	w, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	writeN(t, w, 3, 2)
	w.Close()
	checkChain(t, append(lines(t, path+".1"), lines(t, path)...), 1, ZeroHash)
}

func TestReadTail(t *testing.T) {
	long := strings.Repeat("x", 200<<10) // longer than a read chunk
	tests := []struct {
		name, content, last, frag string
	}{
		{"empty", "", "", ""},
		{"one line", "a\n", "a", ""},
		{"two lines", "a\nb\n", "b", ""},
		{"fragment only", "ab", "", "ab"},
		{"line and fragment", "a\nb", "a", "b"},
		{"long last line", "a\n" + long + "\n", long, ""},
		{"long fragment", "a\n" + long, "a", long},
		{"empty last line", "a\n\n", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "f")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			last, frag, err := readTail(path)
			if err != nil || string(last) != tt.last || string(frag) != tt.frag {
				t.Errorf("got %.20q, %.20q, %v; want %.20q, %.20q", last, frag, err, tt.last, tt.frag)
			}
		})
	}
}

func TestSortFiles(t *testing.T) {
	tests := []struct {
		name     string
		in, want []string
	}{
		{"glob order", []string{"a.jsonl", "a.jsonl.1", "a.jsonl.10", "a.jsonl.2"}, []string{"a.jsonl.10", "a.jsonl.2", "a.jsonl.1", "a.jsonl"}},
		{"two logs", []string{"b.log", "a.log.1", "b.log.1", "a.log"}, []string{"b.log.1", "b.log", "a.log.1", "a.log"}},
		{"one file", []string{"x"}, []string{"x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SortFiles(tt.in); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFilesIgnoresOthers(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"audit.jsonl", "audit.jsonl.1", "audit.jsonl.x", "audit.jsonl.01", "audit.jsonl.3", "other.jsonl.1"} {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	got, err := Files(filepath.Join(dir, "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range got {
		names = append(names, filepath.Base(g))
	}
	if want := []string{"audit.jsonl.3", "audit.jsonl.1", "audit.jsonl"}; !reflect.DeepEqual(names, want) {
		t.Errorf("got %v, want %v", names, want)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "audit.jsonl")); !bytes.Equal(b, nil) {
		t.Error("Files changed a file")
	}
}
