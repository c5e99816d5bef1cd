package sse

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
)

// respDelta is a Responses delta event of type typ for item id.
func respDelta(typ, id, delta string) string {
	return `{"type":"` + typ + `","item_id":"` + id + `","output_index":0,"content_index":0,"delta":` + jsonStr(delta) + `}`
}

// pushAll pushes every message and then flushes, returning all the messages emitted.
func pushAll(t testing.TB, m *Messages, msgs []string) []string {
	t.Helper()
	var out []string
	for _, msg := range msgs {
		got, err := m.Push([]byte(msg))
		if err != nil {
			t.Fatalf("Push: %v", err)
		}
		for _, g := range got {
			out = append(out, string(g))
		}
	}
	for _, g := range m.Flush() {
		out = append(out, string(g))
	}
	return out
}

// asSSE wraps messages as data-only SSE events.
func asSSE(msgs []string) string {
	var b strings.Builder
	for _, m := range msgs {
		b.WriteString(sseEvent("", m))
	}
	return b.String()
}

func TestMessagesRestore(t *testing.T) {
	const (
		text = "key=" + tokAWS + " and pem " + tokPEM + " gone " + tokGone + " end"
		otd  = "response.output_text.delta"
		fcad = "response.function_call_arguments.delta"
	)
	args := `{"text":` + jsonStr(text) + `}`
	tests := []struct {
		name string
		typ  string
		src  string
		cuts []int // cut src into deltas at these offsets
		key  string
		want string
	}{
		{
			name: "output text, token cut across three messages",
			typ:  otd, src: text, cuts: cutsIn(text, tokAWS, 3), key: "rm",
			want: restored(text, false),
		},
		{
			name: "output text, every byte a message",
			typ:  otd, src: text, cuts: everyByte(len(text)), key: "rm",
			want: restored(text, false),
		},
		{
			name: "function call arguments are JSON-escaped",
			typ:  fcad, src: args, cuts: cutsIn(args, tokPEM, 4), key: "rm",
			want: restored(args, true),
		},
		{
			name: "function call arguments, escapes cut",
			typ:  fcad, src: args, cuts: everyByte(len(args)), key: "rm",
			want: restored(args, true),
		},
		{
			name: "reasoning is never touched",
			typ:  "response.reasoning_summary_text.delta", src: text, cuts: cutsIn(text, tokAWS, 3), key: "rm",
			want: text,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var msgs []string
			for _, p := range pieces(tc.src, tc.cuts...) {
				msgs = append(msgs, respDelta(tc.typ, "m", p))
			}
			msgs = append(msgs, `{"type":"response.completed","response":{"id":"r"}}`)
			out := pushAll(t, NewMessages(&fakeRestorer{}), msgs)
			for _, o := range out {
				if !json.Valid([]byte(o)) {
					t.Fatalf("message is not JSON: %q", o)
				}
			}
			if got := collect(t, []byte(asSSE(out)))[tc.key]; got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			if tc.typ == fcad {
				var doc struct{ Text string }
				if err := json.Unmarshal([]byte(collect(t, []byte(asSSE(out)))[tc.key]), &doc); err != nil {
					t.Fatalf("arguments: %v", err)
				}
				if want := restored(text, false); doc.Text != want {
					t.Errorf("decoded arguments: got %q, want %q", doc.Text, want)
				}
			}
			if last := out[len(out)-1]; last != msgs[len(msgs)-1] {
				t.Errorf("last message: got %q, want %q", last, msgs[len(msgs)-1])
			}
		})
	}
}

func everyByte(n int) []int {
	cuts := make([]int, 0, n)
	for i := 1; i < n; i++ {
		cuts = append(cuts, i)
	}
	return cuts
}

func TestMessagesReasoningUnchanged(t *testing.T) {
	rs := &fakeRestorer{}
	m := NewMessages(rs)
	msg := []byte(respDelta("response.reasoning_text.delta", "rs", "plan "+tokAWS))
	got, err := m.Push(msg)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !bytes.Equal(got[0], msg) {
		t.Fatalf("got %q, want the message unchanged", got)
	}
	if rs.texts+rs.jsons != 0 {
		t.Errorf("Restorer called %d times, want 0", rs.texts+rs.jsons)
	}
	if f := m.Flush(); len(f) != 0 {
		t.Errorf("Flush: got %q, want nothing", f)
	}
}

func TestMessagesFlush(t *testing.T) {
	m := NewMessages(&fakeRestorer{})
	first := respDelta("response.output_text.delta", "m", "see cloak_aw")
	got, err := m.Push([]byte(first))
	if err != nil {
		t.Fatal(err)
	}
	if want := respDelta("response.output_text.delta", "m", "see "); len(got) != 1 || string(got[0]) != want {
		t.Fatalf("Push: got %q, want [%q]", got, want)
	}
	f := m.Flush()
	if want := respDelta("response.output_text.delta", "m", "cloak_aw"); len(f) != 1 || string(f[0]) != want {
		t.Fatalf("Flush: got %q, want [%q]", f, want)
	}
	if f := m.Flush(); len(f) != 0 {
		t.Errorf("second Flush: got %q, want nothing", f)
	}
	// The stream goes on after a Flush.
	got, err = m.Push([]byte(respDelta("response.output_text.delta", "m", tokAWS)))
	if err != nil {
		t.Fatal(err)
	}
	if want := respDelta("response.output_text.delta", "m", valAWS); len(got) != 1 || string(got[0]) != want {
		t.Errorf("Push after Flush: got %q, want [%q]", got, want)
	}
}

func TestMessagesEndsKeys(t *testing.T) {
	// A non-delta message emits the held text first, as its own message.
	m := NewMessages(&fakeRestorer{})
	out := pushAll(t, m, []string{
		respDelta("response.output_text.delta", "m", "a cloak_a"),
		`{"type":"response.output_text.done","item_id":"m","text":"a cloak_a"}`,
	})
	want := []string{
		respDelta("response.output_text.delta", "m", "a "),
		respDelta("response.output_text.delta", "m", "cloak_a"),
		`{"type":"response.output_text.done","item_id":"m","text":"a cloak_a"}`,
	}
	if strings.Join(out, "\n") != strings.Join(want, "\n") {
		t.Errorf("got %q, want %q", out, want)
	}
}

func TestMessagesNoAliasing(t *testing.T) {
	m := NewMessages(&fakeRestorer{})
	var kept [][]byte
	var copies []string
	msgs := []string{
		respDelta("response.output_text.delta", "m", "x "+tokAWS[:12]),
		respDelta("response.output_text.delta", "m", tokAWS[12:]+" y cloak_"),
		`{"type":"response.done","note":"` + tokPass + `"}`,
		respDelta("response.output_text.delta", "n", "z"),
	}
	for _, msg := range msgs {
		buf := []byte(msg)
		got, err := m.Push(buf)
		if err != nil {
			t.Fatal(err)
		}
		for i := range buf {
			buf[i] = 'X' // the caller reuses its buffer
		}
		for _, g := range got {
			if len(g) > 0 && &g[0] == &buf[0] {
				continue // msg itself, passed on unchanged: the caller's own
			}
			kept = append(kept, g)
			copies = append(copies, string(g))
		}
	}
	for _, g := range m.Flush() {
		kept = append(kept, g)
		copies = append(copies, string(g))
	}
	if len(kept) < 3 {
		t.Fatalf("got %d rewritten messages, want at least 3", len(kept))
	}
	for i := range kept {
		if string(kept[i]) != copies[i] {
			t.Errorf("message %d changed after later calls: got %q, want %q", i, kept[i], copies[i])
		}
		if cap(kept[i]) != len(kept[i]) {
			t.Errorf("message %d: cap %d > len %d, appending would overwrite the next", i, cap(kept[i]), len(kept[i]))
		}
	}
}

func TestMessagesOther(t *testing.T) {
	tests := []struct {
		name string
		msg  string
		want string
	}{
		{name: "empty", msg: "", want: ""},
		{name: "not JSON", msg: "hello " + tokAWS, want: "hello " + tokAWS},
		{name: "pretty JSON keeps its newlines", msg: "{\n \"type\": \"response.created\",\n \"x\": \"" + tokAWS + "\"\n}",
			want: "{\n \"type\": \"response.created\",\n \"x\": \"" + valAWS + "\"\n}"},
		{name: "CR in whitespace", msg: "{\"type\":\"response.output_text.delta\",\r\n\"item_id\":\"m\",\"delta\":\"" + tokAWS + "\"}",
			want: "{\"type\":\"response.output_text.delta\",\r\n\"item_id\":\"m\",\"delta\":\"" + valAWS + "\"}"},
		{name: "anthropic event", msg: `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"` + tokAWS + `"}}`,
			want: `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"` + valAWS + `"}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := pushAll(t, NewMessages(&fakeRestorer{}), []string{tc.msg})
			if len(out) != 1 || out[0] != tc.want {
				t.Errorf("got %q, want [%q]", out, tc.want)
			}
		})
	}
}

func TestMessagesTooLarge(t *testing.T) {
	m := NewMessages(&fakeRestorer{})
	if _, err := m.Push([]byte(respDelta("response.output_text.delta", "m", "a cloak_"))); err != nil {
		t.Fatal(err)
	}
	got, err := m.Push(make([]byte, MaxEventSize+1))
	if !errors.Is(err, ErrEventTooLarge) || got != nil {
		t.Fatalf("got %d messages, %v; want none, ErrEventTooLarge", len(got), err)
	}
	if f := m.Flush(); len(f) != 1 {
		t.Errorf("Flush after the refused message: got %d messages, want 1 (state kept)", len(f))
	}
}

// messagesMatchReader checks that Messages emits exactly what the SSE reader emits for
// the same payloads sent as data-only events.
func messagesMatchReader(t *testing.T, msgs []string) {
	t.Helper()
	want, err := io.ReadAll(NewReader(io.NopCloser(strings.NewReader(asSSE(msgs))), &fakeRestorer{}))
	if err != nil {
		t.Fatal(err)
	}
	got := asSSE(pushAll(t, NewMessages(&fakeRestorer{}), msgs))
	if got != string(want) {
		t.Fatalf("messages and reader differ:\ngot  %q\nwant %q", got, want)
	}
}

func TestMessagesMatchReader(t *testing.T) {
	for mode := range byte(7) {
		t.Run(itoa(int(mode)), func(t *testing.T) {
			text := "a " + tokAWS + " b\n" + tokPEM + " c " + tokGone + " " + tokPass + " cloak_"
			sse, _, _ := fuzzStream(mode, text, []byte{5, 1, 17, 3})
			var msgs []string
			for _, ev := range parseEvents([]byte(sse)) {
				msgs = append(msgs, ev.data)
			}
			messagesMatchReader(t, msgs)
		})
	}
}

func FuzzMessages(f *testing.F) {
	f.Add(byte(4), "Here is |, and |.", []byte{3, 17, 5})
	f.Add(byte(5), `{"a":"|","b":"x|"}`, []byte{29, 1, 1})
	f.Add(byte(2), "clo|cloak_|c", []byte{0})
	f.Add(byte(0), "|\n\"\\", []byte{39})
	f.Add(byte(6), "é|ü|", []byte{2, 9})
	f.Fuzz(func(t *testing.T, mode byte, raw string, lens []byte) {
		text := strings.ToValidUTF8(raw, "?")
		ps := strings.Split(text, "|")
		var b strings.Builder
		for i, p := range ps {
			if i > 0 {
				b.WriteString(fuzzTokens[(i-1)%len(fuzzTokens)])
			}
			b.WriteString(p)
		}
		sse, _, _ := fuzzStream(mode, b.String(), lens)
		var msgs []string
		for _, ev := range parseEvents([]byte(sse)) {
			msgs = append(msgs, ev.data)
		}
		// Arbitrary payloads too: never a panic, and the same output as the reader
		// whenever they can travel as one SSE data line.
		if !strings.ContainsAny(raw, "\r\n") {
			msgs = append(msgs, raw)
		}
		messagesMatchReader(t, msgs)
	})
}

func BenchmarkMessages(b *testing.B) {
	for _, bc := range []struct {
		name  string
		every int
	}{{"no tokens", 0}, {"token every 100 deltas", 100}} {
		b.Run(strings.ReplaceAll(bc.name, " ", "_"), func(b *testing.B) {
			var msgs [][]byte
			size := 0
			for _, ev := range parseEvents(benchStream(1<<20, bc.every)) {
				msgs = append(msgs, []byte(ev.data))
				size += len(ev.data)
			}
			rs := &fakeRestorer{}
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				m := NewMessages(rs)
				for _, msg := range msgs {
					if _, err := m.Push(msg); err != nil {
						b.Fatal(err)
					}
				}
				m.Flush()
			}
		})
	}
}
