package main

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
)

// tb lets fakeapi.Start and bench.NewPathRig, which take a testing.TB, run outside
// go test. It implements the methods they call (and the other plain ones); the
// unexported method of testing.TB comes from the embedded nil interface, as would a
// method added to testing.TB later, so calling such a method panics. A fatal error
// runs the cleanups and exits with status 1. It is safe for concurrent use.
type tb struct {
	testing.TB
	name string

	mu       sync.Mutex
	cleanups []func()
	failed   bool
}

func (t *tb) Helper()      {}
func (t *tb) Name() string { return t.name }

func (t *tb) Cleanup(f func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cleanups = append(t.cleanups, f)
}

// runCleanups runs the cleanups, last registered first, once.
func (t *tb) runCleanups() {
	for {
		t.mu.Lock()
		if len(t.cleanups) == 0 {
			t.mu.Unlock()
			return
		}
		f := t.cleanups[len(t.cleanups)-1]
		t.cleanups = t.cleanups[:len(t.cleanups)-1]
		t.mu.Unlock()
		f()
	}
}

func (t *tb) Log(args ...any) { fmt.Fprintln(os.Stderr, append([]any{t.name + ":"}, args...)...) }
func (t *tb) Logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, t.name+": "+format+"\n", args...)
}

func (t *tb) Fail() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.failed = true
}

func (t *tb) Failed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.failed
}

func (t *tb) FailNow() {
	t.Fail()
	t.runCleanups()
	os.Exit(1)
}

func (t *tb) Error(args ...any)                 { t.Log(args...); t.Fail() }
func (t *tb) Errorf(format string, args ...any) { t.Logf(format, args...); t.Fail() }
func (t *tb) Fatal(args ...any)                 { t.Log(args...); t.FailNow() }
func (t *tb) Fatalf(format string, args ...any) { t.Logf(format, args...); t.FailNow() }

func (t *tb) Context() context.Context { return context.Background() }

// TempDir returns a new temporary directory, removed by the cleanups.
func (t *tb) TempDir() string {
	dir, err := os.MkdirTemp("", "pathbench-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}
