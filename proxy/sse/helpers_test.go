package sse

import (
	"bytes"
	"encoding/json"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/cloakroom/cloakroom/tokenize"
)

// Tokens and the values the fake vault holds for them.
const (
	tokAWS  = "cloak_aws_abcdefghijklmnopqrst"
	tokPEM  = "cloak_privatekey_a2b3c4d5e6f7g2h3i4j5"
	tokPass = "cloak_password_zzzzzzzzzzzzzzzzzzz7"
	tokGone = "cloak_github_qqqqqqqqqqqqqqqqqqqq" // not in the vault: stays a token
	valAWS  = "AKIAIOSFODNN7EXAMPLE"
	valPEM  = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\"quoted\"\\slash\t\n-----END RSA PRIVATE KEY-----\n"
	valPass = "pässwörd<&>\u2028"
)

var vault = map[string]string{tokAWS: valAWS, tokPEM: valPEM, tokPass: valPass}

// fakeRestorer restores the tokens of vault; it counts its calls.
type fakeRestorer struct {
	texts, jsons int
}

func (f *fakeRestorer) Text(frag []byte, jsonText bool) []byte {
	f.texts++
	return replaceTokens(frag, jsonText)
}

func (f *fakeRestorer) JSON(doc []byte) []byte {
	f.jsons++
	return replaceTokens(doc, true) // tokens only occur inside strings here
}

func replaceTokens(b []byte, escape bool) []byte {
	spans := tokenize.Find(b)
	if len(spans) == 0 {
		return b
	}
	var out []byte
	pos := 0
	for _, s := range spans {
		v, ok := vault[string(b[s.Start:s.End])]
		if !ok {
			continue
		}
		out = append(out, b[pos:s.Start]...)
		if escape {
			out = append(out, jsonBody(v)...)
		} else {
			out = append(out, v...)
		}
		pos = s.End
	}
	if out == nil {
		return b
	}
	return append(out, b[pos:]...)
}

// restored is s with every vault token replaced by its value; escape JSON-escapes them.
func restored(s string, escape bool) string { return string(replaceTokens([]byte(s), escape)) }

// jsonBody is s encoded as a JSON string literal, without the quotes.
func jsonBody(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		panic(err)
	}
	out := strings.TrimSuffix(b.String(), "\n")
	return out[1 : len(out)-1]
}

// jsonStr is s as a JSON string literal.
func jsonStr(s string) string { return `"` + jsonBody(s) + `"` }

// chopReader returns 1 to max bytes per Read.
type chopReader struct {
	b   []byte
	rng *rand.Rand
	max int
}

func (c *chopReader) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	n := 1 + c.rng.IntN(c.max)
	n = min(n, len(c.b), len(p))
	copy(p, c.b[:n])
	c.b = c.b[n:]
	return n, nil
}

func (c *chopReader) Close() error { return nil }

func chop(s string, seed uint64) io.ReadCloser {
	return &chopReader{b: []byte(s), rng: rand.New(rand.NewPCG(seed, 7)), max: 7}
}

// run restores src through a reader and returns everything it emits.
func run(t testing.TB, src io.ReadCloser, rs Restorer) []byte {
	t.Helper()
	out, err := io.ReadAll(NewReader(src, rs))
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return out
}

// tev is an event as the test's own SSE parser sees it.
type tev struct {
	name, data string
	raw        string
}

// parseEvents is an independent, simple WHATWG SSE parser.
func parseEvents(b []byte) []tev {
	var evs []tev
	var cur tev
	var data []string
	hasData := false
	start := 0
	for i := 0; i < len(b); {
		j := i
		for j < len(b) && b[j] != '\n' && b[j] != '\r' {
			j++
		}
		if j == len(b) {
			break // incomplete line
		}
		lineEnd := j + 1
		if b[j] == '\r' && j+1 < len(b) && b[j+1] == '\n' {
			lineEnd++
		}
		ln := string(b[i:j])
		i = lineEnd
		if ln == "" {
			if hasData || cur.name != "" {
				cur.data = strings.Join(data, "\n")
				cur.raw = string(b[start:i])
				if hasData {
					evs = append(evs, cur)
				}
			}
			cur, data, hasData, start = tev{}, nil, false, i
			continue
		}
		if ln[0] == ':' {
			continue
		}
		name, val, found := strings.Cut(ln, ":")
		if found {
			val = strings.TrimPrefix(val, " ")
		}
		switch name {
		case "event":
			cur.name = val
		case "data":
			data = append(data, val)
			hasData = true
		}
	}
	return evs
}

// collect concatenates the deltas of each stream key found in out, for all four APIs.
// Keys: "a<i>" (Anthropic, thinking as "a<i>.thinking"/".signature"), "c<i>.content",
// "c<i>.tool<j>", "r<item_id>", "g<c>" (Gemini text parts, thoughts as "g<c>.thought").
func collect(t testing.TB, out []byte) map[string]string {
	t.Helper()
	got := map[string]string{}
	for _, ev := range parseEvents(out) {
		if ev.data == "[DONE]" {
			continue
		}
		var d struct {
			Type   string `json:"type"`
			Object string `json:"object"`
			Index  int    `json:"index"`
			Delta  json.RawMessage
			ItemID string `json:"item_id"`
			Choice []struct {
				Index int `json:"index"`
				Delta struct {
					Content   *string `json:"content"`
					Reasoning *string `json:"reasoning_content"`
					ToolCalls []struct {
						Index    int `json:"index"`
						Function struct {
							Arguments string `json:"arguments"`
						} `json:"function"`
					} `json:"tool_calls"`
				} `json:"delta"`
			} `json:"choices"`
			Candidates []struct {
				Index   int `json:"index"`
				Content struct {
					Parts []struct {
						Text    *string `json:"text"`
						Thought bool    `json:"thought"`
					} `json:"parts"`
				} `json:"content"`
			} `json:"candidates"`
		}
		if err := json.Unmarshal([]byte(ev.data), &d); err != nil {
			t.Fatalf("event data is not JSON: %v: %q", err, ev.data)
		}
		switch {
		case d.Type == "content_block_delta":
			var raw map[string]string
			if err := json.Unmarshal(d.Delta, &raw); err != nil {
				t.Fatalf("delta: %v", err)
			}
			k := "a" + itoa(d.Index)
			switch raw["type"] {
			case "text_delta":
				got[k] += raw["text"]
			case "input_json_delta":
				got[k] += raw["partial_json"]
			case "thinking_delta":
				got[k+".thinking"] += raw["thinking"]
			case "signature_delta":
				got[k+".signature"] += raw["signature"]
			}
		case strings.HasPrefix(d.Type, "response.") && strings.HasSuffix(d.Type, ".delta"):
			var s string
			if err := json.Unmarshal(d.Delta, &s); err != nil {
				t.Fatalf("responses delta: %v", err)
			}
			got["r"+d.ItemID] += s
		case d.Object == "chat.completion.chunk":
			for _, c := range d.Choice {
				k := "c" + itoa(c.Index)
				if c.Delta.Content != nil {
					got[k+".content"] += *c.Delta.Content
				}
				if c.Delta.Reasoning != nil {
					got[k+".reasoning"] += *c.Delta.Reasoning
				}
				for _, tc := range c.Delta.ToolCalls {
					got[k+".tool"+itoa(tc.Index)] += tc.Function.Arguments
				}
			}
		case d.Candidates != nil:
			for _, c := range d.Candidates {
				for _, p := range c.Content.Parts {
					if p.Text == nil {
						continue
					}
					if p.Thought {
						got["g"+itoa(c.Index)+".thought"] += *p.Text
					} else {
						got["g"+itoa(c.Index)] += *p.Text
					}
				}
			}
		}
	}
	return got
}

func itoa(n int) string { return string(appendInt(nil, n)) }

// pieces cuts s at the given offsets.
func pieces(s string, cuts ...int) []string {
	var out []string
	prev := 0
	for _, c := range cuts {
		out = append(out, s[prev:c])
		prev = c
	}
	return append(out, s[prev:])
}

// cutsIn returns offsets that cut tok (found in s) into n pieces, plus the offsets of
// extra cuts outside it.
func cutsIn(s, tok string, n int) []int {
	i := strings.Index(s, tok)
	if i < 0 {
		panic("token not in text")
	}
	var cuts []int
	for k := 1; k < n; k++ {
		cuts = append(cuts, i+k*len(tok)/n)
	}
	return cuts
}

// withEndings rewrites the line endings of an LF stream (its data holds no newline).
func withEndings(s, eol string) string { return strings.ReplaceAll(s, "\n", eol) }

// sseEvent formats one event with LF endings.
func sseEvent(name, data string) string {
	if name == "" {
		return "data: " + data + "\n\n"
	}
	return "event: " + name + "\ndata: " + data + "\n\n"
}

// isSubsequence reports whether every one of want occurs among got's raw events, in order.
func isSubsequence(want []string, got []tev) (string, bool) {
	j := 0
	for _, w := range want {
		for j < len(got) && got[j].raw != w {
			j++
		}
		if j == len(got) {
			return w, false
		}
		j++
	}
	return "", true
}
