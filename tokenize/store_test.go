package tokenize

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloakroom/cloakroom/internal/testutil"
)

// testRecord returns a record for a made-up value, sealed under k.
func testRecord(t testing.TB, k *Keys, value, class string) Record {
	t.Helper()
	id := k.ID([]byte(value))
	sealed, err := k.Seal(id, []byte(value))
	if err != nil {
		t.Fatal(err)
	}
	return Record{ID: id, Class: class, Rule: class + "-rule", Sealed: sealed, FirstSeen: time.Unix(1700000000, 123456789)}
}

// testStoreConformance runs the Store contract against stores made by open.
func testStoreConformance(t *testing.T, open func(t *testing.T) Store) {
	ctx := context.Background()
	k := testKeys(t, 1)

	t.Run("put then get", func(t *testing.T) {
		s := open(t)
		rec := testRecord(t, k, "value-1", "aws")
		got, err := s.Put(ctx, rec, "alice")
		if err != nil {
			t.Fatal(err)
		}
		want := rec
		want.Submitters = []string{"alice"}
		assertRecord(t, "Put", got, want)
		got, err = s.Get(ctx, rec.ID)
		if err != nil {
			t.Fatal(err)
		}
		assertRecord(t, "Get", got, want)
	})

	t.Run("first record wins, submitters accumulate", func(t *testing.T) {
		s := open(t)
		first := testRecord(t, k, "value-2", "aws")
		second := testRecord(t, k, "value-2", "password")
		second.FirstSeen = first.FirstSeen.Add(time.Hour)
		want := first
		for _, step := range []struct {
			rec       Record
			principal string
			wantSubs  []string
		}{
			{first, "bob", []string{"bob"}},
			{second, "carol", []string{"bob", "carol"}},
			{first, "alice", []string{"alice", "bob", "carol"}},
			{second, "bob", []string{"alice", "bob", "carol"}},
		} {
			got, err := s.Put(ctx, step.rec, step.principal)
			if err != nil {
				t.Fatal(err)
			}
			want.Submitters = step.wantSubs
			assertRecord(t, "Put "+step.rec.Class+" by "+step.principal, got, want)
		}
		got, err := s.Get(ctx, first.ID)
		if err != nil {
			t.Fatal(err)
		}
		assertRecord(t, "Get", got, want)
	})

	t.Run("get missing", func(t *testing.T) {
		s := open(t)
		_, err := s.Get(ctx, k.ID([]byte("never stored")))
		if !errors.Is(err, ErrNotFound) {
			t.Fatalf("got %v, want ErrNotFound", err)
		}
	})

	t.Run("each sees all", func(t *testing.T) {
		s := open(t)
		const n = 300 // more than one BoltStore page
		want := map[string]bool{}
		for i := range n {
			rec := testRecord(t, k, fmt.Sprintf("value-%d", i), "pw")
			if _, err := s.Put(ctx, rec, "p"); err != nil {
				t.Fatal(err)
			}
			want[rec.ID] = true
		}
		got := map[string]bool{}
		err := s.Each(ctx, func(r Record) error {
			if got[r.ID] {
				t.Errorf("record %s seen twice", r.ID)
			}
			if r.Class != "pw" || !slices.Equal(r.Submitters, []string{"p"}) {
				t.Errorf("record %s: got class %q submitters %v, want pw [p]", r.ID, r.Class, r.Submitters)
			}
			got[r.ID] = true
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("got %d records, want %d", len(got), len(want))
		}
		for id := range want {
			if !got[id] {
				t.Fatalf("record %s missing", id)
			}
		}
		stop := errors.New("stop")
		calls := 0
		err = s.Each(ctx, func(Record) error { calls++; return stop })
		if !errors.Is(err, stop) || calls != 1 {
			t.Fatalf("fn error: got %v after %d calls, want stop after 1", err, calls)
		}
	})

	t.Run("concurrent puts", func(t *testing.T) {
		s := open(t)
		const workers, values = 6, 10
		recs := make([]Record, values)
		for i := range recs {
			recs[i] = testRecord(t, k, fmt.Sprintf("shared-%d", i), "pw")
		}
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for _, rec := range recs {
					if _, err := s.Put(ctx, rec, fmt.Sprintf("p%d", w)); err != nil {
						t.Error(err)
						return
					}
					if _, err := s.Get(ctx, rec.ID); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		var wantSubs []string
		for w := range workers {
			wantSubs = append(wantSubs, fmt.Sprintf("p%d", w))
		}
		for _, rec := range recs {
			got, err := s.Get(ctx, rec.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.Submitters, wantSubs) {
				t.Fatalf("record %s: got submitters %v, want %v", rec.ID, got.Submitters, wantSubs)
			}
		}
	})

	t.Run("ping", func(t *testing.T) {
		if err := open(t).Ping(ctx); err != nil {
			t.Fatalf("got %v, want nil", err)
		}
	})
}

func assertRecord(t *testing.T, what string, got, want Record) {
	t.Helper()
	if got.ID != want.ID || got.Class != want.Class || got.Rule != want.Rule ||
		!bytes.Equal(got.Sealed, want.Sealed) || !got.FirstSeen.Equal(want.FirstSeen) ||
		!slices.Equal(got.Submitters, want.Submitters) {
		t.Fatalf("%s: got %+v, want %+v", what, got, want)
	}
}

func openTestBolt(t *testing.T) *BoltStore {
	t.Helper()
	s, err := OpenBolt(filepath.Join(t.TempDir(), "vault.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestBoltStoreConformance(t *testing.T) {
	testStoreConformance(t, func(t *testing.T) Store { return openTestBolt(t) })
}

func TestRedisStoreConformance(t *testing.T) {
	testStoreConformance(t, func(t *testing.T) Store {
		c, prefix := testutil.Redis(t)
		return NewRedisStore(c, prefix)
	})
}

func TestMemStoreConformance(t *testing.T) {
	testStoreConformance(t, func(*testing.T) Store { return newMemStore() })
}

// canaryForms returns the canary and the encodings of it a careless store might keep.
func canaryForms(canary string) []string {
	sum := sha256.Sum256([]byte(canary))
	return []string{
		canary,
		hex.EncodeToString([]byte(canary)),
		strings.ToUpper(hex.EncodeToString([]byte(canary))),
		base64.StdEncoding.EncodeToString([]byte(canary)),
		base64.RawURLEncoding.EncodeToString([]byte(canary)),
		hex.EncodeToString(sum[:]),
		hex.EncodeToString(sum[:8]),
	}
}

func assertNoCanary(t *testing.T, where string, data []byte, canary string) {
	t.Helper()
	for _, f := range canaryForms(canary) {
		if bytes.Contains(data, []byte(f)) {
			t.Fatalf("%s holds the canary (as %q)", where, f)
		}
	}
}

const canary = "canary-Sup3rS3cret-9f8e7d6c5b4a"

func TestRedisNoSecretAtRest(t *testing.T) {
	ctx := context.Background()
	c, prefix := testutil.Redis(t)
	v := newTestVault(t, NewRedisStore(c, prefix))
	tok, err := v.Tokenize(ctx, []byte(canary), "password", "generic-password", "alice")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	iter := c.Scan(ctx, 0, prefix+"*", 100).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || !strings.Contains(keys[0], "{"+tok[len(tok)-IDLen:]+"}") {
		t.Fatalf("got keys %q, want one key holding the id of %s in braces", keys, tok)
	}
	var dump bytes.Buffer
	for _, k := range keys {
		dump.WriteString(k + "\n")
		h, err := c.HGetAll(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		for f, val := range h {
			dump.WriteString(f + "=" + val + "\n")
		}
	}
	if !strings.Contains(dump.String(), "sub:alice") {
		t.Fatalf("dump %q lacks the submitter field; the scan saw nothing", dump.String())
	}
	assertNoCanary(t, "redis", dump.Bytes(), canary)
}

func TestBoltNoSecretAtRest(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "vault.db")
	s, err := OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	v := newTestVault(t, s)
	if _, err := v.Tokenize(ctx, []byte(canary), "password", "generic-password", "alice"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(raw, []byte("alice")) {
		t.Fatal("db file lacks the submitter; the record was not written")
	}
	assertNoCanary(t, "bolt file", raw, canary)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Fatalf("got file mode %o, want 600", perm)
	}
}

func TestBoltSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	k := testKeys(t, 1)
	path := filepath.Join(t.TempDir(), "vault.db")
	s, err := OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	rec := testRecord(t, k, "persist me", "pw")
	if _, err := s.Put(ctx, rec, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.Get(ctx, rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := rec
	want.Submitters = []string{"alice"}
	assertRecord(t, "Get after reopen", got, want)
}

func TestBoltLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vault.db")
	s, err := OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	done := make(chan error, 1)
	go func() {
		s2, err := OpenBolt(path)
		if err == nil {
			_ = s2.Close()
		}
		done <- err
	}()
	select {
	case err = <-done:
	case <-time.After(30 * time.Second): // a hang, not a timing assertion
		t.Fatal("second OpenBolt hangs")
	}
	if !errors.Is(err, ErrStoreLocked) || !strings.Contains(err.Error(), "store locked by another process") {
		t.Fatalf("got %v, want ErrStoreLocked", err)
	}
}

func TestBoltRecordEncoding(t *testing.T) {
	rec := Record{ID: "id", Class: "aws", Rule: "r", Sealed: []byte{1, 2, 3}, FirstSeen: time.Unix(5, 6), Submitters: []string{"a", "b"}}
	enc := encodeBoltRecord(rec)
	got, err := decodeBoltRecord("id", enc)
	if err != nil {
		t.Fatal(err)
	}
	assertRecord(t, "decode", got, rec)
	for i := range enc {
		if _, err := decodeBoltRecord("id", enc[:i]); err == nil {
			t.Fatalf("truncated to %d bytes: got nil error, want corrupt", i)
		}
	}
	if _, err := decodeBoltRecord("id", append(bytes.Clone(enc), 0)); err == nil {
		t.Fatal("trailing byte: got nil error, want corrupt")
	}
}

func TestRedisStoreTTL(t *testing.T) {
	ctx := context.Background()
	c, prefix := testutil.Redis(t)
	s := NewRedisStore(c, prefix)
	s.TTL = time.Hour
	rec := testRecord(t, testKeys(t, 1), "expiring", "pw")
	if _, err := s.Put(ctx, rec, "alice"); err != nil {
		t.Fatal(err)
	}
	key := prefix + "tok:{" + rec.ID + "}"
	if ttl := c.PTTL(ctx, key).Val(); ttl <= 0 || ttl > time.Hour {
		t.Fatalf("after Put: got PTTL %v, want in (0, 1h]", ttl)
	}
	if err := c.Persist(ctx, key).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, rec.ID); err != nil {
		t.Fatal(err)
	}
	if ttl := c.PTTL(ctx, key).Val(); ttl <= 0 || ttl > time.Hour {
		t.Fatalf("after Get: got PTTL %v, want in (0, 1h]", ttl)
	}
}

func TestRedisDefaultPrefixAndGlob(t *testing.T) {
	tests := []struct {
		name, prefix, want string
	}{
		{name: "default", prefix: "", want: DefaultRedisPrefix + "tok:{x}"},
		{name: "custom", prefix: "a:", want: "a:tok:{x}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NewRedisStore(nil, tt.prefix).key("x"); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
	if got, want := globEscape(`a*b?[c]\`), `a\*b\?\[c\]\\`; got != want {
		t.Fatalf("globEscape: got %q, want %q", got, want)
	}
}

func TestRedisEachIgnoresOtherKeys(t *testing.T) {
	ctx := context.Background()
	c, prefix := testutil.Redis(t)
	s := NewRedisStore(c, prefix+"*[") // glob characters in the prefix must match literally
	rec := testRecord(t, testKeys(t, 1), "one", "pw")
	if _, err := s.Put(ctx, rec, "p"); err != nil {
		t.Fatal(err)
	}
	// Keys a careless MATCH would also pick up.
	for _, k := range []string{prefix + "x[tok:{abc}", prefix + "*[other"} {
		if err := c.HSet(ctx, k, "class", "pw").Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Set(ctx, prefix+"*[tok:noid", "x", 0).Err(); err != nil {
		t.Fatal(err)
	}
	var ids []string
	if err := s.Each(ctx, func(r Record) error { ids = append(ids, r.ID); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids, []string{rec.ID}) {
		t.Fatalf("got ids %v, want [%s]", ids, rec.ID)
	}
}

func BenchmarkBoltPut(b *testing.B) {
	ctx := context.Background()
	s, err := OpenBolt(filepath.Join(b.TempDir(), "vault.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	k := testKeys(b, 1)
	rec := testRecord(b, k, "benchmark value", "pw")
	b.ReportAllocs()
	b.SetBytes(int64(len(rec.Sealed)))
	i := 0
	for b.Loop() {
		rec.ID = k.ID(fmt.Appendf(nil, "v%d", i))
		i++
		if _, err := s.Put(ctx, rec, "alice"); err != nil {
			b.Fatal(err)
		}
	}
}
