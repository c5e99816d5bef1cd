package proxy

import (
	"regexp"
	"strings"
	"testing"

	"github.com/cloakroom/cloakroom/proxy/walk"
)

// modelName accepts exactly what its pattern does.
func TestModelName(t *testing.T) {
	spec := regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,127}$`)
	names := []string{
		"", "a", "claude-sonnet-4-5-20250929", "gpt-5", "models/gemini-2.5-pro", "o3@2025:x+y",
		"-x", ".x", "_x", "a b", "a\n", "a\"b", "é", "a_b", strings.Repeat("a", 128), strings.Repeat("a", 129),
		"cloak_secret_x", "a/b.c:d@e+f-g",
	}
	for c := 0; c < 256; c++ {
		names = append(names, string([]byte{byte(c)}), "a"+string([]byte{byte(c)}))
	}
	for _, m := range names {
		if got, want := modelName(m), spec.MatchString(m); got != want {
			t.Errorf("modelName(%q) = %v, want %v", m, got, want)
		}
	}
}

// KnownName accepts exactly what its pattern does.
func TestKnownName(t *testing.T) {
	spec := regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)
	names := []string{"", "A", "_", "9A", "GITHUB_TOKEN", "a-b", "a b", "é", strings.Repeat("a", 128), strings.Repeat("a", 129)}
	for c := 0; c < 256; c++ {
		names = append(names, string([]byte{byte(c)}), "A"+string([]byte{byte(c)}))
	}
	for _, n := range names {
		if got, want := KnownName(n), spec.MatchString(n); got != want {
			t.Errorf("KnownName(%q) = %v, want %v", n, got, want)
		}
	}
}

// mayBePayload takes every literal redactEncoded may decode: a media payload, or one
// that is, or may decode to, a data: URL.
func TestMayBePayload(t *testing.T) {
	for _, c := range []struct {
		mt, raw string
		want    bool
	}{
		{"text/plain", "aGVsbG8=", true},
		{"", "data:text/plain;base64,aGVsbG8=", true},
		{"", "DATA:text/plain;base64,aGVsbG8=", true},
		{"", `\u0064ata:text/plain;base64,aGVsbG8=`, true},
		{"", `d\u0041t\u0061:text/plain;base64,aGVsbG8=`, true},
		{"", "plain text about data: and more", false},
		{"", "dat", false},
		{"", strings.Repeat("x", 30) + `\n escaped after the head`, false},
	} {
		if got := mayBePayload(walk.Field{MediaType: c.mt}, []byte(c.raw)); got != c.want {
			t.Errorf("mayBePayload(%q, %q) = %v, want %v", c.mt, c.raw, got, c.want)
		}
	}
}
