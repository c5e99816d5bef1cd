package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/cloakroom/cloakroom/detect"
	"github.com/cloakroom/cloakroom/proxy"
)

// jsonText is s as it appears inside a JSON string literal of the corpus.
func jsonText(s string) string {
	b := encode(s)
	return string(b[1 : len(b)-1])
}

func TestCorpusShape(t *testing.T) {
	c := New(seed)
	for _, tc := range []struct {
		name string
		size int
	}{{"10KB", 10 << 10}, {"100KB", 100 << 10}, {"1MB", 1 << 20}} {
		t.Run(tc.name, func(t *testing.T) {
			body := c.Request(tc.size, false)
			if lo, hi := tc.size*95/100, tc.size*105/100; len(body) < lo || len(body) > hi {
				t.Errorf("size: got %d bytes, want %d to %d", len(body), lo, hi)
			}
			if !json.Valid(body) {
				t.Fatal("body is not valid JSON")
			}
			if again := New(seed).Request(tc.size, false); !bytes.Equal(again, body) {
				t.Error("same seed and size gave a different body")
			}
			var req struct {
				Stream   bool `json:"stream"`
				Messages []struct {
					Role    string `json:"role"`
					Content []struct {
						Type string `json:"type"`
						Text string `json:"text"`
					} `json:"content"`
				} `json:"messages"`
			}
			if err := json.Unmarshal(body, &req); err != nil {
				t.Fatal(err)
			}
			lastMsg := req.Messages[len(req.Messages)-1]
			lastBlock := lastMsg.Content[len(lastMsg.Content)-1]
			if lastMsg.Role != "user" || lastBlock.Type != "text" || len(lastBlock.Text) > 200 {
				t.Errorf("last message: got %s %s of %d bytes, want a short user text", lastMsg.Role, lastBlock.Type, len(lastBlock.Text))
			}
			for i, s := range c.Secrets.All() {
				if !bytes.Contains(body, []byte(jsonText(s))) {
					t.Errorf("planted secret %d is missing", i)
				}
			}
		})
	}
	for i, k := range turnKinds {
		if k.make == nil || k.weight <= 0 || k.min >= k.max {
			t.Errorf("turnKinds[%d] is incomplete", i)
		}
	}
	if turnKinds[grepKind].min != 512 || turnKinds[imageKind].min != 16<<10 {
		t.Error("grepKind or imageKind does not index its kind")
	}
	if New(seed+1).Secrets == c.Secrets {
		t.Error("another seed gave the same secrets")
	}
}

func TestSessionShape(t *testing.T) {
	bodies := New(seed).Session(50, 1<<20, true)
	if len(bodies) != 50 {
		t.Fatalf("got %d bodies, want 50", len(bodies))
	}
	for i, b := range bodies {
		if !json.Valid(b) {
			t.Fatalf("body %d is not valid JSON", i)
		}
		if i > 0 && !bytes.HasPrefix(b, bodies[i-1][:len(bodies[i-1])-len(tail)]) {
			t.Fatalf("body %d does not resend body %d", i, i-1)
		}
	}
	if n := len(bodies[49]); n < 1000<<10 || n > 1100<<10 {
		t.Errorf("last body: got %d bytes, want about 1 MB", n)
	}
}

// TestPlantedSecretsDetected checks that the detector finds each planted secret where
// it was planted (the AWS secret's later prose occurrence has no pattern context and
// is for known-value matching).
func TestPlantedSecretsDetected(t *testing.T) {
	d, err := detect.New(detect.Config{})
	if err != nil {
		t.Fatal(err)
	}
	c := New(seed)
	body := c.Request(10<<10, false)
	found := d.Scan(body)
	for i, s := range c.Secrets.All() {
		esc := jsonText(s)
		at := bytes.Index(body, []byte(esc))
		want := detect.Finding{Start: at, End: at + len(esc)}
		ok := false
		for _, f := range found {
			ok = ok || f.Start == want.Start && f.End == want.End
		}
		if !ok {
			t.Errorf("planted secret %d at [%d:%d] not found; findings %+v", i, want.Start, want.End, found)
		}
	}
}

// TestProxyReplacesExactlyThePlanted sends corpus bodies through the real proxy and
// checks what the upstream received: the body with every occurrence of each planted
// secret replaced by its token and not one other byte changed. So the corpus holds no
// secret but the planted ones, as far as the detector is concerned, and the proxy
// benchmarks measure real redaction.
func TestProxyReplacesExactlyThePlanted(t *testing.T) {
	rg := newRig(t)
	c := New(seed)
	for _, tc := range []struct {
		name   string
		size   int
		stream bool
	}{{"10KB", 10 << 10, false}, {"100KB", 100 << 10, false}, {"100KB-stream", 100 << 10, true}, {"1MB", 1 << 20, false}} {
		t.Run(tc.name, func(t *testing.T) {
			body := c.Request(tc.size, tc.stream)
			if _, err := rg.send("proxy", body); err != nil {
				t.Fatal(err)
			}
			got := rg.fake.Last().Body
			want := body
			for i, s := range c.Secrets.All() {
				tok, err := rg.vault.Tokenize(context.Background(), []byte(s), "secret", "test", proxy.DefaultPrincipal)
				if err != nil {
					t.Fatal(err)
				}
				esc := []byte(jsonText(s))
				if tc.size >= 64<<10 && i == 1 && bytes.Count(want, esc) < 2 {
					t.Errorf("the AWS secret should come back in prose in a %s body", tc.name)
				}
				want = bytes.ReplaceAll(want, esc, []byte(tok))
			}
			if !bytes.Equal(got, want) {
				i := 0
				for i < min(len(got), len(want)) && got[i] == want[i] {
					i++
				}
				// Print only what precedes the difference: there, both are the body with
				// the planted secrets tokenized.
				t.Errorf("upstream body differs from the body with planted secrets tokenized, first at byte %d of %d "+
					"(token in what the upstream got: %v, in what we want: %v), after %q",
					i, len(want), bytes.HasPrefix(got[i:], []byte("cloak_")), bytes.HasPrefix(want[i:], []byte("cloak_")),
					want[max(i-60, 0):i])
			}
		})
	}
}
