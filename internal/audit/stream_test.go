package audit

import (
	"bytes"
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cloakroom/cloakroom/internal/testutil"
)

// streamLines returns the lines in the stream at key.
func streamLines(t *testing.T, c *redis.Client, key string) []redis.XMessage {
	t.Helper()
	msgs, err := c.XRange(context.Background(), key, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

// Two replicas write one stream, each its own chain, and their files hold the
// same lines.
func TestStreamSharedByReplicas(t *testing.T) {
	client, prefix := testutil.Redis(t)
	key := prefix + "audit"
	ctx := context.Background()
	dir := t.TempDir()
	var writers []*Writer
	for i := range 2 {
		w, err := OpenFile(filepath.Join(dir, "audit"+string(rune('a'+i))+".jsonl"), Options{Stream: NewStream(client, key, StreamOptions{})})
		if err != nil {
			t.Fatal(err)
		}
		writers = append(writers, w)
	}
	var wg sync.WaitGroup
	for _, w := range writers {
		wg.Go(func() { writeN(t, w, 0, 30) })
	}
	wg.Wait()
	for _, w := range writers {
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	msgs := streamLines(t, client, key)
	if len(msgs) != 60 {
		t.Fatalf("got %d entries, want 60", len(msgs))
	}
	// The stream holds each file's exact lines, in order.
	for i := range 2 {
		file := lines(t, filepath.Join(dir, "audit"+string(rune('a'+i))+".jsonl"))
		chain := headerOf(t, file[0]).Chain
		var got [][]byte
		for _, m := range msgs {
			l := []byte(m.Values[StreamField].(string))
			if headerOf(t, l).Chain == chain {
				got = append(got, l)
			}
		}
		if !bytes.Equal(bytes.Join(got, []byte("\n")), bytes.Join(file, []byte("\n"))) {
			t.Errorf("replica %d: the stream's lines differ from the file's", i)
		}
	}
	r, err := VerifyStream(ctx, client, key)
	if err != nil || r.Problem != nil || r.Records != 60 || len(r.Chains) != 2 {
		t.Fatalf("verify: got %+v, %v; want 60 records in 2 intact chains", r, err)
	}

	// Tampering with the stream: delete an entry of one chain, then add a forged one.
	if err := client.XDel(ctx, key, msgs[10].ID).Err(); err != nil {
		t.Fatal(err)
	}
	r, err = VerifyStream(ctx, client, key)
	if err != nil || r.Problem == nil || r.Problem.Kind != KindDeleted {
		t.Fatalf("entry deleted: got %v, %v; want deleted", r.Problem, err)
	}
	deleted := headerOf(t, []byte(msgs[10].Values[StreamField].(string)))
	if r.Problem.Chain != deleted.Chain || !strings.Contains(r.Problem.Detail, "seq "+strconv.FormatUint(deleted.Seq, 10)+" missing") || r.Problem.Pos.ID == "" {
		t.Errorf("got %v, want chain %s seq %d missing, at a stream entry", r.Problem, deleted.Chain, deleted.Seq)
	}
}

func TestStreamForgedEntry(t *testing.T) {
	client, prefix := testutil.Redis(t)
	key := prefix + "audit"
	ctx := context.Background()
	w := NewWriter(&bytes.Buffer{}, Options{Stream: NewStream(client, key, StreamOptions{})})
	writeN(t, w, 0, 5)
	w.Close()
	for _, tt := range []struct {
		name, line, want string
	}{
		{"without chain fields", `{"type":"request","principal":"eve"}`, KindInserted},
		{"no line field", "", KindInserted},
	} {
		t.Run(tt.name, func(t *testing.T) {
			values := []any{StreamField, tt.line}
			if tt.line == "" {
				values = []any{"other", "x"}
			}
			id, err := client.XAdd(ctx, &redis.XAddArgs{Stream: key, Values: values}).Result()
			if err != nil {
				t.Fatal(err)
			}
			defer client.XDel(ctx, key, id)
			r, err := VerifyStream(ctx, client, key)
			if err != nil || r.Problem == nil || r.Problem.Kind != tt.want || r.Problem.Pos.ID != id {
				t.Fatalf("got %v, %v; want %s at entry %s", r.Problem, err, tt.want, id)
			}
		})
	}
}

// Lines written while Redis is down reach the stream once it is back; a stream
// trimmed by MAXLEN verifies from its oldest entry.
func TestStreamSurvivesAnOutage(t *testing.T) {
	srv, _, prefix := testutil.RedisServer(t)
	client := quickClient(t, srv.Addr())
	key := prefix + "audit"
	var mu sync.Mutex
	var reports []string
	s := NewStream(client, key, StreamOptions{MaxLen: 1000, OnError: func(err error) {
		mu.Lock()
		reports = append(reports, err.Error())
		mu.Unlock()
	}})
	w := NewWriter(&bytes.Buffer{}, Options{Stream: s})
	srv.Stop()
	writeN(t, w, 0, 5)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		n := len(reports)
		mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no XADD failure reported while Redis was down")
		}
	}
	srv.Start() // empty again: no persistence
	writeN(t, w, 5, 5)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(streamLines(t, client, key)); n != 10 {
		t.Fatalf("got %d entries, want 10", n)
	}
	r, err := VerifyStream(context.Background(), client, key)
	if err != nil || r.Problem != nil || r.Records != 10 {
		t.Fatalf("verify: got %+v, %v; want 10 intact records", r, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reports) == 0 || !strings.Contains(reports[0], "XADD failed") {
		t.Errorf("reports %q: want the failure reported", reports)
	}
}

func TestStreamTrimmed(t *testing.T) {
	client, prefix := testutil.Redis(t)
	key := prefix + "audit"
	ctx := context.Background()
	w := NewWriter(&bytes.Buffer{}, Options{Stream: NewStream(client, key, StreamOptions{})})
	writeN(t, w, 0, 20)
	w.Close()
	if err := client.XTrimMaxLen(ctx, key, 7).Err(); err != nil {
		t.Fatal(err)
	}
	r, err := VerifyStream(ctx, client, key)
	if err != nil || r.Problem != nil || r.Records != 7 || r.Chains[0].First != 14 {
		t.Fatalf("got %+v, %v; want 7 intact records from seq 14", r, err)
	}
}

// A full queue drops lines (counted) instead of holding up writes, and Close
// gives up on an unreachable Redis.
func TestStreamDropsWhenFull(t *testing.T) {
	defer func(d time.Duration) { streamCloseTime = d }(streamCloseTime)
	streamCloseTime = 200 * time.Millisecond
	srv, _, prefix := testutil.RedisServer(t)
	client := quickClient(t, srv.Addr())
	srv.Stop()
	s := NewStream(client, prefix+"audit", StreamOptions{Queue: 3})
	w := NewWriter(&bytes.Buffer{}, Options{Stream: s})
	writeN(t, w, 0, 50)
	if s.Dropped() == 0 {
		t.Error("got 0 dropped lines, want some")
	}
	if err := w.Close(); err == nil || !strings.Contains(err.Error(), "not sent") {
		t.Errorf("Close: got %v, want an error counting lines not sent", err)
	}
}

// quickClient is a client that gives up at once when Redis is down, as cloakroom's
// own clients do.
func quickClient(t *testing.T, addr string) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialerRetries: 1})
	t.Cleanup(func() { _ = c.Close() })
	return c
}
