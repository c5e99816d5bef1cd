package audit

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestWriterAppendsLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	w, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.Write(Record{ID: "r", Status: i, Detections: []Detection{{Rule: "x", Class: "aws", Token: "t"}}}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("got mode %v, want 0600", fi.Mode().Perm())
	}
	f, _ := os.Open(path)
	defer f.Close()
	n := 0
	for sc := bufio.NewScanner(f); sc.Scan(); n++ {
		var r Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("line %d: %v", n, err)
		}
	}
	if n != 50 {
		t.Fatalf("got %d lines, want 50", n)
	}
}

func TestRecordTypes(t *testing.T) {
	var buf strings.Builder
	w := New(&buf)
	if err := w.Write(Record{ID: "req_1"}); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteDecision(Decision{Event: "allow", Token: "cloak_pw_x", Effect: "allow", Policy: "sha256:ab"}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want 2", len(lines))
	}
	for i, want := range []string{TypeRequest, TypeDecision} {
		var v struct {
			Type string    `json:"type"`
			Time time.Time `json:"time"`
		}
		if err := json.Unmarshal([]byte(lines[i]), &v); err != nil {
			t.Fatal(err)
		}
		if v.Type != want {
			t.Fatalf("line %d: got type %q, want %q", i, v.Type, want)
		}
		if i == 1 && v.Time.IsZero() {
			t.Fatal("decision record without a time")
		}
	}
}
