package walk

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// benchSecret is planted in the agent bodies, one in about every twenty tool results.
const benchSecret = "AKIAIOSFODNN7EXAMPLE"

// codeLines are the kind of text tool results carry: source with quotes, tabs and
// newlines, all of which JSON escapes.
var codeLines = []string{
	`package server`,
	``,
	`import (`,
	"\t\"context\"",
	"\t\"fmt\"",
	"\t\"net/http\"",
	`)`,
	`// Handler serves the "/v1/items" endpoint and returns <json> & friends.`,
	"func (s *Server) Handler(w http.ResponseWriter, r *http.Request) {",
	"\tctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)",
	"\tdefer cancel()",
	"\titems, err := s.store.List(ctx, r.URL.Query().Get(\"q\"))",
	"\tif err != nil {",
	"\t\thttp.Error(w, fmt.Sprintf(\"list: %v\", err), http.StatusInternalServerError)",
	"\t\treturn",
	"\t}",
	"\tfor i, it := range items { fmt.Fprintf(w, \"%d\\t%s — %q\\n\", i, it.Name, it.Tags) }",
	"}",
}

func codeText(n int) string {
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		b.WriteString(codeLines[i%len(codeLines)])
		b.WriteByte('\n')
	}
	return b.String()
}

// agentBody returns a Claude Code style Anthropic Messages request body of about size
// bytes: system prompt, tools, and a history of thinking, tool calls and tool results.
func agentBody(size int) []byte {
	type m = map[string]any
	tools := []any{}
	for i := range 12 {
		tools = append(tools, m{
			"name":        fmt.Sprintf("Tool%d", i),
			"description": strings.Repeat("Use this tool to do things with files and commands. ", 8),
			"input_schema": m{"type": "object", "properties": m{
				"file_path": m{"type": "string", "description": "The absolute path to the file"},
				"content":   m{"type": "string"},
			}, "required": []string{"file_path"}},
		})
	}
	msgs := []any{m{"role": "user", "content": []any{m{"type": "text", "text": "Please fix the failing handler tests."}}}}
	body := m{
		"model":      "claude-sonnet-4-5-20250929",
		"max_tokens": 32000,
		"system":     []any{m{"type": "text", "text": codeText(min(size/10, 12000)), "cache_control": m{"type": "ephemeral"}}},
		"tools":      tools,
		"messages":   nil,
		"stream":     true,
	}
	encode := func() []byte {
		body["messages"] = msgs
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(body); err != nil {
			panic(err)
		}
		return bytes.TrimSpace(buf.Bytes())
	}
	for turn := 0; ; turn++ {
		id := fmt.Sprintf("toolu_%024d", turn)
		result := codeText(2000 + turn%7*600)
		if turn%20 == 3 {
			result += "aws_access_key_id = " + benchSecret + "\n"
		}
		msgs = append(msgs,
			m{"role": "assistant", "content": []any{
				m{"type": "thinking", "thinking": "Let me read the handler file to see why the test fails.", "signature": strings.Repeat("EqQBCkgIBRABGAIiQL3a", 12)},
				m{"type": "text", "text": "I'll read the file."},
				m{"type": "tool_use", "id": id, "name": "Read", "input": m{"file_path": fmt.Sprintf("/home/dev/app/server/handler_%d.go", turn)}},
			}},
			m{"role": "user", "content": []any{m{"type": "tool_result", "tool_use_id": id, "content": result}}},
		)
		if b := encode(); len(b) >= size {
			return b
		}
	}
}

var benchSizes = []struct {
	name string
	size int
}{{"10KB", 10 << 10}, {"1MB", 1 << 20}}

func benchRedactFunc(_ Field, s []byte) ([]Replacement, error) {
	if i := bytes.Index(s, []byte(benchSecret)); i >= 0 {
		return []Replacement{{Start: i, End: i + len(benchSecret), With: "cloak_aws_abcdefghijklmnopqrst"}}, nil
	}
	return nil, nil
}

func BenchmarkRedact(b *testing.B) {
	for _, sz := range benchSizes {
		body := agentBody(sz.size)
		b.Run(sz.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := Redact(body, benchRedactFunc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkRestore(b *testing.B) {
	for _, sz := range benchSizes {
		body, err := Redact(agentBody(sz.size), benchRedactFunc)
		if err != nil {
			b.Fatal(err)
		}
		if !bytes.Contains(body, []byte(marker)) {
			body = append(body[:len(body)-1:len(body)-1], `,"note":"cloak_aws_abcdefghijklmnopqrst"}`...)
		}
		fn := func(_ Field, s []byte) []byte {
			return bytes.ReplaceAll(s, []byte("cloak_aws_abcdefghijklmnopqrst"), []byte(benchSecret))
		}
		b.Run(sz.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := Restore(body, fn); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkValid is the encoding/json.Valid baseline on the same bodies.
func BenchmarkValid(b *testing.B) {
	for _, sz := range benchSizes {
		body := agentBody(sz.size)
		b.Run(sz.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if !json.Valid(body) {
					b.Fatal("invalid")
				}
			}
		})
	}
}

func BenchmarkModel(b *testing.B) {
	body := agentBody(1 << 20)
	b.ReportAllocs()
	for b.Loop() {
		if Model(body) == "" {
			b.Fatal("no model")
		}
	}
}

// BenchmarkRedactResume redacts a 1 MB body resumed at its last checkpoint at least
// 20 KB before its end (the previous turn's prefix), against the whole walk.
func BenchmarkRedactResume(b *testing.B) {
	body := agentBody(1 << 20)
	fn := func(f Field, _, s []byte) ([]Replacement, error) { return benchRedactFunc(f, s) }
	var from Checkpoint
	var before []Replacement
	if _, err := RedactResume(body, fn, ResumeOptions{Gap: 1 << 10, OnCheckpoint: func(cp Checkpoint, reps []Replacement) {
		if cp.Offset <= len(body)-20<<10 {
			from, before = cp, append(before[:0], reps...)
		}
	}}); err != nil || from.Offset == 0 {
		b.Fatalf("no checkpoint (%v)", err)
	}
	for _, resume := range []bool{false, true} {
		name, opt := "whole", ResumeOptions{}
		if resume {
			name, opt = "resumed", ResumeOptions{From: &from, Before: before}
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := RedactResume(body, fn, opt); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
