package proxy_test

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/cloakroom/cloakroom/internal/audit"
	"github.com/cloakroom/cloakroom/tokenize"
)

// Prompt capture keeps each model request's body as it went upstream: tokens where
// the secrets were, and nothing of egress requests.
func TestPromptCapture(t *testing.T) {
	caps, err := audit.OpenCaptures(filepath.Join(t.TempDir(), "captures"), audit.CaptureOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, harnessOpts{captures: caps})
	s := newSecrets(t)
	h.plant(s.all()...)
	body, _ := json.Marshal(map[string]any{
		"model": "claude-sonnet-4-5", "max_tokens": 10,
		"messages": []any{map[string]any{"role": "user", "content": s.prompt()}},
	})
	clean := []byte(`{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"hello"}]}`)
	for _, b := range [][]byte{body, clean} {
		if resp, _ := post(t, h.client("alice"), "https://api.anthropic.com/v1/messages", nil, b); resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	recs := h.auditRecords()
	if len(recs) != 2 {
		t.Fatalf("got %d request records, want 2", len(recs))
	}
	for i, rec := range recs {
		got, ok := caps.Get(rec.ID)
		if !ok {
			t.Fatalf("request %d (%s): no capture", i, rec.ID)
		}
		upstream := h.up.Requests()[i].Body
		if !bytes.Equal(got, upstream) {
			t.Fatalf("request %d: the capture differs from what went upstream", i)
		}
		for _, v := range s.all() {
			for _, form := range leakForms(v) {
				if bytes.Contains(got, []byte(form)) {
					t.Fatalf("request %d: a secret is in the capture", i)
				}
			}
		}
	}
	if first, _ := caps.Get(recs[0].ID); len(tokenize.Find(first)) < len(s.all()) {
		t.Fatalf("the capture of the first request holds %d tokens, want at least %d", len(tokenize.Find(first)), len(s.all()))
	}
}
