package redactlog

import (
	"bytes"
	"errors"
	"log/slog"
	"net/url"
	"strings"
	"testing"
)

func TestHandlerRedacts(t *testing.T) {
	const canary = "SECRETCANARY42"
	scan := func(s []byte) [][2]int {
		var out [][2]int
		for i := 0; ; {
			j := bytes.Index(s[i:], []byte(canary))
			if j < 0 {
				return out
			}
			out = append(out, [2]int{i + j, i + j + len(canary)})
			i += j + len(canary)
		}
	}
	u, _ := url.Parse("https://example.com/x?key=" + canary)
	for _, format := range []string{"json", "text"} {
		var buf bytes.Buffer
		var next slog.Handler = slog.NewJSONHandler(&buf, nil)
		if format == "text" {
			next = slog.NewTextHandler(&buf, nil)
		}
		log := slog.New(New(next, scan))
		log.With("pre", "x"+canary).WithGroup("g").Info("msg "+canary,
			"s", canary, "err", errors.New("failed: "+canary), "list", []string{canary},
			slog.Group("grp", "inner", canary+canary),
			"bytes", []byte(canary), "url", u, "map", map[string]string{"k": canary}, "any", []any{canary})
		out := buf.String()
		if strings.Contains(out, canary) {
			t.Fatalf("%s: canary in log: %s", format, out)
		}
		if got := strings.Count(out, Replacement); got != 11 {
			t.Fatalf("%s: got %d redactions, want 11: %s", format, got, out)
		}
	}
}
