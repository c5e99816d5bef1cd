package redactlog

import (
	"bytes"
	"errors"
	"log/slog"
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
	var buf bytes.Buffer
	log := slog.New(New(slog.NewJSONHandler(&buf, nil), scan))
	log.With("pre", "x"+canary).WithGroup("g").Info("msg "+canary,
		"s", canary, "err", errors.New("failed: "+canary), "list", []string{canary},
		slog.Group("grp", "inner", canary+canary))
	out := buf.String()
	if strings.Contains(out, canary) {
		t.Fatalf("canary in log: %s", out)
	}
	if got := strings.Count(out, Replacement); got != 7 {
		t.Fatalf("got %d redactions, want 7: %s", got, out)
	}
}
