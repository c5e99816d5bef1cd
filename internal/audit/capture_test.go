package audit

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// clock is a settable time for Captures.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func ids(infos []CaptureInfo) []string {
	var out []string
	for _, i := range infos {
		out = append(out, i.ID)
	}
	return out
}

func TestCapturesPutGetList(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "captures")
	clk := &clock{t: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}
	c, err := OpenCaptures(dir, CaptureOptions{Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := c.Put(fmt.Sprintf("req_%d", i), []byte(fmt.Sprintf(`{"n":%d}`, i))); err != nil {
			t.Fatal(err)
		}
		clk.add(time.Second)
	}
	if got, ok := c.Get("req_1"); !ok || string(got) != `{"n":1}` {
		t.Errorf("Get(req_1): got %q, %v", got, ok)
	}
	if _, ok := c.Get("req_9"); ok {
		t.Error("Get(req_9): got a capture that was never put")
	}
	if got, want := ids(c.List()), []string{"req_2", "req_1", "req_0"}; !slices.Equal(got, want) {
		t.Errorf("List: got %v, want %v (newest first)", got, want)
	}
	// Replacing a capture keeps one entry and the right total.
	if err := c.Put("req_0", []byte("replaced")); err != nil {
		t.Fatal(err)
	}
	if got := ids(c.List()); !slices.Equal(got, []string{"req_0", "req_2", "req_1"}) {
		t.Errorf("after replacing: got %v", got)
	}
	if got, want := c.Size(), int64(len("replaced")+2*len(`{"n":1}`)); got != want {
		t.Errorf("Size: got %d, want %d", got, want)
	}
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("directory: got %v, %v; want mode 0700", fi.Mode().Perm(), err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 3 {
		t.Errorf("got %d files, want 3", len(entries))
	}
	for _, e := range entries {
		if fi, _ := e.Info(); fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: got mode %v, want 0600", e.Name(), fi.Mode().Perm())
		}
	}

	// Reopening finds them again, and cleans up what a crash left.
	if err := os.WriteFile(filepath.Join(dir, captureTemp+"123"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	c2, err := OpenCaptures(dir, CaptureOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(c2.List()); got != 3 {
		t.Errorf("reopened: got %d captures, want 3", got)
	}
	if _, err := os.Stat(filepath.Join(dir, captureTemp+"123")); !errors.Is(err, os.ErrNotExist) {
		t.Error("a temporary file survived reopening")
	}
}

func TestCapturesRetention(t *testing.T) {
	tests := []struct {
		name string
		opts CaptureOptions
		puts []int         // body sizes, one second apart
		wait time.Duration // after the puts
		want []string      // List
	}{
		{"by size, oldest first", CaptureOptions{MaxBytes: 250}, []int{100, 100, 100}, 0, []string{"c2", "c1"}},
		{"a body that fills it alone", CaptureOptions{MaxBytes: 100}, []int{50, 100}, 0, []string{"c1"}},
		{"by age", CaptureOptions{MaxAge: 90 * time.Second}, []int{10, 10, 10}, 0, []string{"c2", "c1"}},
		{"by age, when read", CaptureOptions{MaxAge: time.Minute}, []int{10, 10}, time.Hour, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			clk := &clock{t: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}
			tt.opts.Now = clk.now
			c, err := OpenCaptures(dir, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			for i, n := range tt.puts {
				if i > 0 {
					clk.add(time.Minute)
				}
				if err := c.Put(fmt.Sprintf("c%d", i), bytes.Repeat([]byte("a"), n)); err != nil {
					t.Fatal(err)
				}
			}
			clk.add(tt.wait)
			if got := ids(c.List()); !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
			for i := range tt.puts {
				id := fmt.Sprintf("c%d", i)
				_, ok := c.Get(id)
				if want := slices.Contains(tt.want, id); ok != want {
					t.Errorf("Get(%s): got %v, want %v", id, ok, want)
				}
			}
			if tt.wait == 0 { // pruned on write: the files are gone too
				entries, _ := os.ReadDir(dir)
				if len(entries) != len(tt.want) {
					t.Errorf("got %d files, want %d", len(entries), len(tt.want))
				}
			}
		})
	}
}

func TestCapturesRefuse(t *testing.T) {
	dir := t.TempDir()
	c, err := OpenCaptures(filepath.Join(dir, "captures"), CaptureOptions{MaxBytes: 10})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"", "../x", "a/b", ".hidden", "x y", strings.Repeat("a", 129), "é"} {
		if err := c.Put(id, []byte("x")); !errors.Is(err, ErrCaptureID) {
			t.Errorf("Put(%q): got %v, want ErrCaptureID", id, err)
		}
		if _, ok := c.Get(id); ok {
			t.Errorf("Get(%q): got a capture", id)
		}
	}
	if err := c.Put("big", make([]byte, 11)); err == nil {
		t.Error("Put of a body over the size limit: got nil error")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("got %d entries next to captures/, want none", len(entries)-1)
	}
}

func TestCapturesConcurrent(t *testing.T) {
	c, err := OpenCaptures(t.TempDir(), CaptureOptions{MaxBytes: 500})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 20 {
				id := fmt.Sprintf("g%d_%d", g, i)
				if err := c.Put(id, bytes.Repeat([]byte("x"), 20)); err != nil {
					t.Error(err)
				}
				c.Get(id)
				c.List()
			}
		})
	}
	wg.Wait()
	if got := c.Size(); got > 500 {
		t.Errorf("got %d bytes kept, want at most 500", got)
	}
	var sum int64
	for _, i := range c.List() {
		sum += i.Size
	}
	if sum != c.Size() {
		t.Errorf("List sizes add up to %d, Size says %d", sum, c.Size())
	}
}
