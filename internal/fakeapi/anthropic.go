package fakeapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
)

// Fixed values of the Anthropic responses.
const (
	anthropicMsgID     = "msg_fake"
	anthropicToolID    = "toolu_01"
	anthropicSignature = "c2lnbmF0dXJl"
	thinkingPrefix     = "Echo plan for "
)

var errNoUser = errors.New("no user message with text")

// chatMessage is a message of Anthropic Messages and OpenAI Chat Completions.
type chatMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

type anthropicReq struct {
	Model     string        `json:"model"`
	MaxTokens int           `json:"max_tokens"`
	Messages  []chatMessage `json:"messages"`
	Stream    bool          `json:"stream"`
}

// lastUserText returns the text of the last user message, which must hold some.
func lastUserText(msgs []chatMessage) (string, error) {
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Role != "user" {
			continue
		}
		text, ok, err := contentText(msgs[i].Content, "text")
		if err != nil {
			return "", err
		}
		if ok {
			return text, nil
		}
		break
	}
	return "", errNoUser
}

// block is a content block of Anthropic, OpenAI Chat or Responses input.
type block struct {
	Type    string          `json:"type"`
	Text    string          `json:"text"`
	Content json.RawMessage `json:"content"`
}

// contentText returns the text of a content field that is either a string
// or an array of blocks: the texts of the blocks whose type is in types,
// joined with "\n". ok is false when there is no such text.
func contentText(raw json.RawMessage, types ...string) (text string, ok bool, err error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return "", false, nil
	}
	if raw[0] == '"' {
		err = json.Unmarshal(raw, &text)
		return text, err == nil, err
	}
	var blocks []block
	if err := json.Unmarshal(raw, &blocks); err != nil {
		return "", false, err
	}
	var texts []string
	for _, b := range blocks {
		if slices.Contains(types, b.Type) {
			texts = append(texts, b.Text)
		}
	}
	if len(texts) == 0 {
		// A turn holding only tool results echoes their text.
		for _, b := range blocks {
			if b.Type == "tool_result" {
				if t, ok, _ := contentText(b.Content, "text"); ok {
					texts = append(texts, t)
				}
			}
		}
	}
	return strings.Join(texts, "\n"), len(texts) > 0, nil
}

// anthropicEcho reads a Messages request: what to echo and how (see chatTurn).
func anthropicEcho(body []byte) (anthropicReq, turn, error) {
	var req anthropicReq
	if err := json.Unmarshal(body, &req); err != nil {
		return req, turn{}, err
	}
	t, err := chatTurn(req.Messages)
	return req, t, err
}

// chatTurn reads the latest turn of an Anthropic or Chat Completions conversation:
// the messages after the last assistant message. When it holds tool results (Anthropic
// tool_result blocks in a user message, Chat "tool" messages) and no user text, it is
// a tool-result turn, answered after the last user text of the history. Otherwise the
// text of the last user message is echoed.
func chatTurn(msgs []chatMessage) (turn, error) {
	start := 0
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Role == "assistant" {
			start = i + 1
			break
		}
	}
	var results []string
	found := false
	for _, m := range msgs[start:] {
		var texts, res []string
		var err error
		switch m.Role {
		case "user":
			texts, res, err = blockTexts(m.Content, "text")
		case "tool", "function":
			var out []string // a tool message's content is its result
			out, _, err = blockTexts(m.Content, "text")
			res = []string{strings.Join(out, "\n")}
		default:
			continue
		}
		if err != nil || texts != nil {
			// User text, or content only the fallback judges: echo the user text.
			found = false
			break
		}
		found = found || res != nil
		results = append(results, res...)
	}
	if !found {
		text, err := lastUserText(msgs)
		return userTurn(text), err
	}
	return resultTurn(results, historyText(msgs[:start], "text")), nil
}

// historyText returns the text of the last user message that holds text, or "".
func historyText(msgs []chatMessage, types ...string) string {
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Role != "user" {
			continue
		}
		if texts, _, err := blockTexts(msgs[i].Content, types...); err == nil && texts != nil {
			return strings.Join(texts, "\n")
		}
	}
	return ""
}

// blockTexts reads a content field that is a string or an array of blocks: texts are
// the string, or the texts of the blocks whose type is in types; results are the
// texts of the tool_result blocks (each the "\n"-joined text of its own content, ""
// when it has none). Both are nil when there is no such block.
func blockTexts(raw json.RawMessage, types ...string) (texts, results []string, err error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, nil, nil
	}
	if raw[0] == '"' {
		var text string
		if err := json.Unmarshal(raw, &text); err != nil {
			return nil, nil, err
		}
		return []string{text}, nil, nil
	}
	var blocks []block
	if err := json.Unmarshal(raw, &blocks); err != nil {
		return nil, nil, err
	}
	for _, b := range blocks {
		switch {
		case slices.Contains(types, b.Type):
			texts = append(texts, b.Text)
		case b.Type == "tool_result":
			t, _, _ := contentText(b.Content, "text")
			results = append(results, t)
		}
	}
	return texts, results, nil
}

func anthropicError(w http.ResponseWriter, status int, typ, msg string) {
	writeJSON(w, status, obj{{"type", "error"}, {"error", obj{{"type", typ}, {"message", msg}}}})
}

func (s *Server) anthropic(w http.ResponseWriter, body []byte) {
	req, t, err := anthropicEcho(body)
	if err != nil {
		anthropicError(w, http.StatusBadRequest, "invalid_request_error", "invalid request body: "+errClass(err))
		return
	}
	if !req.Stream {
		writeJSON(w, http.StatusOK, anthropicMessage(req.Model, t))
		return
	}
	s.anthropicStream(w, req.Model, t)
}

// anthropicStop is the stop_reason of an answer to t.
func anthropicStop(t turn) string {
	if t.endsTurn() {
		return "end_turn"
	}
	return "tool_use"
}

func anthropicUsage(in, out int) obj {
	return obj{{"input_tokens", in}, {"output_tokens", out}}
}

// anthropicMessage is the answer to t: thinking, text and, for a user turn, an echo
// tool call.
func anthropicMessage(model string, t turn) obj {
	echo := t.echo()
	content := []any{
		obj{{"type", "thinking"}, {"thinking", thinkingPrefix + echo}, {"signature", anthropicSignature}},
		obj{{"type", "text"}, {"text", echo}},
	}
	if !t.endsTurn() {
		content = append(content, obj{{"type", "tool_use"}, {"id", anthropicToolID}, {"name", "echo"}, {"input", obj{{"text", echo}}}})
	}
	return obj{
		{"id", anthropicMsgID},
		{"type", "message"},
		{"role", "assistant"},
		{"model", model},
		{"content", content},
		{"stop_reason", anthropicStop(t)},
		{"stop_sequence", nil},
		{"usage", anthropicUsage(10, 10)},
	}
}

func (s *Server) anthropicStream(w http.ResponseWriter, model string, t turn) {
	echo := t.echo()
	st := s.startStream(w, "text/event-stream; charset=utf-8")
	n := s.opts.chunk()
	start := func(i int, cb obj) {
		st.event("content_block_start", obj{{"type", "content_block_start"}, {"index", i}, {"content_block", cb}})
	}
	delta := func(i int, d obj) {
		st.event("content_block_delta", obj{{"type", "content_block_delta"}, {"index", i}, {"delta", d}})
	}
	stop := func(i int) {
		st.event("content_block_stop", obj{{"type", "content_block_stop"}, {"index", i}})
	}

	st.event("message_start", obj{{"type", "message_start"}, {"message", obj{
		{"id", anthropicMsgID},
		{"type", "message"},
		{"role", "assistant"},
		{"model", model},
		{"content", []any{}},
		{"stop_reason", nil},
		{"stop_sequence", nil},
		{"usage", anthropicUsage(10, 1)},
	}}})

	start(0, obj{{"type", "thinking"}, {"thinking", ""}, {"signature", ""}})
	for _, p := range pieces(thinkingPrefix+echo, n) {
		delta(0, obj{{"type", "thinking_delta"}, {"thinking", p}})
	}
	delta(0, obj{{"type", "signature_delta"}, {"signature", anthropicSignature}})
	stop(0)

	st.event("ping", obj{{"type", "ping"}})

	start(1, obj{{"type", "text"}, {"text", ""}})
	for _, p := range pieces(echo, n) {
		delta(1, obj{{"type", "text_delta"}, {"text", p}})
	}
	stop(1)

	if !t.endsTurn() {
		start(2, obj{{"type", "tool_use"}, {"id", anthropicToolID}, {"name", "echo"}, {"input", obj{}}})
		for _, p := range pieces(argsJSON(echo), n) {
			delta(2, obj{{"type", "input_json_delta"}, {"partial_json", p}})
		}
		stop(2)
	}

	st.event("message_delta", obj{
		{"type", "message_delta"},
		{"delta", obj{{"stop_reason", anthropicStop(t)}, {"stop_sequence", nil}}},
		{"usage", obj{{"output_tokens", 10}}},
	})
	st.event("message_stop", obj{{"type", "message_stop"}})
}

// errClass names the kind of a decode error without quoting the body.
func errClass(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, errNoUser):
		return err.Error()
	case errors.As(err, &syn):
		return "malformed JSON"
	case errors.As(err, &typ):
		return "unexpected JSON type at " + typ.Field
	default:
		return "malformed JSON"
	}
}
