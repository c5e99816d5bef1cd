package secret

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestValueNeverPrints(t *testing.T) {
	const canary = "canary-s3cr3t-value-123456"
	v := New([]byte(canary))
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("x", "v", v)
	j, err := json.Marshal(struct{ V Value }{v})
	if err != nil {
		t.Fatal(err)
	}
	outs := []string{
		fmt.Sprint(v), fmt.Sprintf("%v %+v %#v %s %q %x", v, v, v, v, v, v),
		fmt.Sprintf("%v", []Value{v}), logs.String(), string(j),
	}
	for _, out := range outs {
		if strings.Contains(out, canary) || strings.Contains(out, fmt.Sprintf("%x", canary)) {
			t.Errorf("secret printed: %q", out)
		}
		if !strings.Contains(out, Redacted) {
			t.Errorf("got %q, want it to contain %q", out, Redacted)
		}
	}
	if string(v.Bytes()) != canary {
		t.Fatalf("Bytes: got wrong value")
	}
	b := v.Bytes()
	v.Zero()
	if v.Len() != 0 || strings.Contains(string(b), "canary") {
		t.Fatalf("Zero did not clear the value")
	}
}
