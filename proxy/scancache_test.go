package proxy_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/cloakroom/cloakroom/detect"
	"github.com/cloakroom/cloakroom/proxy"
)

// A resent conversation is not scanned again, yet a value learned after a string was
// cached is still replaced in it, and the cache never changes what is forwarded.
func TestScanCache(t *testing.T) {
	for _, entries := range []int{0, -1} { // cache on, cache off: same upstream bytes
		h := newHarness(t, harnessOpts{cfg: proxy.Config{ScanCacheEntries: entries}})
		s := newSecrets(t)
		h.plant(s.all()...)
		filler := strings.Repeat("The build log says: compiling package cloakroom/proxy ... ok. ", 8)
		// Turn 1: the AWS secret sits in prose (no pattern matches there) in a long string
		// whose JSON literal has escapes (its findings are cached under its raw bytes).
		prose := filler + "\nI pasted " + s.AWSSecret + " above by mistake.\n" + filler // escaped in JSON
		body1 := anthropicBody(prose)
		if resp, got := post(t, h.client("alice"), anthropicURL, nil, body1); resp.StatusCode != 200 {
			t.Fatalf("turn 1: %d %s", resp.StatusCode, got)
		}
		if !bytes.Contains(h.up.Last().Body, []byte(s.AWSSecret)) {
			t.Fatal("turn 1: the bare value was caught without context; the test needs a value only known values catch")
		}
		h.up.Reset()
		// Turn 2: the same value with its key name: now a known value.
		if resp, _ := post(t, h.client("alice"), anthropicURL, nil, anthropicBody("AWS_SECRET_ACCESS_KEY="+s.AWSSecret)); resp.StatusCode != 200 {
			t.Fatal("turn 2 failed")
		}
		// Turn 3: turn 1 resent: its cached string must be rescanned for known values.
		if resp, _ := post(t, h.client("alice"), anthropicURL, nil, body1); resp.StatusCode != 200 {
			t.Fatal("turn 3 failed")
		}
		h.drain()
		if bytes.Contains(h.up.Last().Body, []byte(s.AWSSecret)) {
			t.Errorf("cache=%d: a value learned after the string was cached reached the upstream", entries)
		}
		want := h.up.Last().Body
		// Turn 4: the same again: a full cache hit, byte-identical output.
		if resp, _ := post(t, h.client("alice"), anthropicURL, nil, body1); resp.StatusCode != 200 {
			t.Fatal("turn 4 failed")
		}
		h.drain()
		if !bytes.Equal(h.up.Last().Body, want) {
			t.Errorf("cache=%d: a resent body was forwarded differently", entries)
		}
		// A long string with nothing in it, twice: the second time it is not even decoded.
		for range 2 {
			if resp, _ := post(t, h.client("alice"), anthropicURL, nil, anthropicBody(filler+"\n\t"+filler)); resp.StatusCode != 200 {
				t.Fatal("clean turn failed")
			}
		}
		clean := metricValue(t, h, "cloakroom_scan_cache_lookups_total", map[string]string{"result": "clean"})
		if entries == 0 && clean < 1 {
			t.Errorf("cache on: a resent clean string was scanned again")
		}
		if entries < 0 && clean != 0 {
			t.Errorf("cache off: got %v clean skips", clean)
		}
		hits := metricValue(t, h, "cloakroom_scan_cache_lookups_total", map[string]string{"result": "hit"})
		rescans := metricValue(t, h, "cloakroom_scan_cache_lookups_total", map[string]string{"result": "known_rescan"})
		if entries == 0 && (hits < 1 || rescans < 1) {
			t.Errorf("cache on: got %v hits and %v known rescans, want both", hits, rescans)
		}
		if entries < 0 && hits+rescans != 0 {
			t.Errorf("cache off: got %v hits", hits+rescans)
		}
	}
}

// JSON paths the detector's allowlist names are forwarded untouched: never decoded,
// never scanned. Everything else still is.
func TestAllowlistedPathsSkipped(t *testing.T) {
	h := newHarness(t, harnessOpts{det: detect.Config{Allowlist: detect.Allowlist{Paths: []string{"metadata.*"}}}})
	s := newSecrets(t)
	h.plant(s.AWSSecret)
	secret := "GITHUB_TOKEN=" + s.GitHub
	body := []byte(`{"model":"claude-sonnet-4-5","max_tokens":10,"metadata":{"user_id":` + q(secret) + `},"messages":[{"role":"user","content":` + q("AWS_SECRET_ACCESS_KEY="+s.AWSSecret) + `}]}`)
	if resp, got := post(t, h.client(""), anthropicURL, nil, body); resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, got)
	}
	fwd := h.up.Last().Body
	if !bytes.Contains(fwd, []byte(q(secret))) {
		t.Error("an allowlisted path was changed")
	}
}
