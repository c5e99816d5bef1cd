package fakeapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
)

// Fixed values of the OpenAI responses.
const (
	chatID      = "chatcmpl-fake"
	callID      = "call_1"
	respID      = "resp_1"
	reasoningID = "rs_1"
	respMsgID   = "msg_1"
	funcCallID  = "fc_1"
	encrypted   = "ZW5jcnlwdGVk"
)

func openAIError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, obj{{"error", obj{
		{"message", msg},
		{"type", "invalid_request_error"},
		{"param", nil},
		{"code", nil},
	}}})
}

// ---- Chat Completions ----

type chatReq struct {
	Model         string        `json:"model"`
	Messages      []chatMessage `json:"messages"`
	Stream        bool          `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
}

func chatEcho(body []byte) (chatReq, turn, error) {
	var req chatReq
	if err := json.Unmarshal(body, &req); err != nil {
		return req, turn{}, err
	}
	t, err := chatTurn(req.Messages)
	return req, t, err
}

func (s *Server) chat(w http.ResponseWriter, body []byte) {
	req, t, err := chatEcho(body)
	if err != nil {
		openAIError(w, http.StatusBadRequest, "invalid request body: "+errClass(err))
		return
	}
	if !req.Stream {
		writeJSON(w, http.StatusOK, chatCompletion(req.Model, t))
		return
	}
	s.chatStream(w, req, t)
}

// chatFinish is the finish_reason of an answer to t.
func chatFinish(t turn) string {
	if t.endsTurn() {
		return "stop"
	}
	return "tool_calls"
}

func chatUsage() obj {
	return obj{{"prompt_tokens", 10}, {"completion_tokens", 10}, {"total_tokens", 20}}
}

// chatCompletion is the answer to t: text and, for a user turn, an echo tool call.
func chatCompletion(model string, t turn) obj {
	echo := t.echo()
	msg := obj{
		{"role", "assistant"},
		{"content", echo},
		{"refusal", nil},
	}
	if !t.endsTurn() {
		msg = append(msg, kv{"tool_calls", []any{obj{
			{"id", callID},
			{"type", "function"},
			{"function", obj{{"name", "echo"}, {"arguments", argsJSON(echo)}}},
		}}})
	}
	return obj{
		{"id", chatID},
		{"object", "chat.completion"},
		{"created", created},
		{"model", model},
		{"choices", []any{obj{
			{"index", 0},
			{"message", msg},
			{"logprobs", nil},
			{"finish_reason", chatFinish(t)},
		}}},
		{"usage", chatUsage()},
	}
}

func (s *Server) chatStream(w http.ResponseWriter, req chatReq, t turn) {
	echo := t.echo()
	st := s.startStream(w, "text/event-stream; charset=utf-8")
	n := s.opts.chunk()
	chunk := func(delta obj, finish any) {
		st.data(mustMarshal(obj{
			{"id", chatID},
			{"object", "chat.completion.chunk"},
			{"created", created},
			{"model", req.Model},
			{"system_fingerprint", nil},
			{"choices", []any{obj{
				{"index", 0},
				{"delta", delta},
				{"logprobs", nil},
				{"finish_reason", finish},
			}}},
		}), "\n")
	}
	chunk(obj{{"role", "assistant"}, {"content", ""}, {"refusal", nil}}, nil)
	for _, p := range pieces(echo, n) {
		chunk(obj{{"content", p}}, nil)
	}
	if !t.endsTurn() {
		chunk(obj{{"tool_calls", []any{obj{
			{"index", 0},
			{"id", callID},
			{"type", "function"},
			{"function", obj{{"name", "echo"}, {"arguments", ""}}},
		}}}}, nil)
		for _, p := range pieces(argsJSON(echo), n) {
			chunk(obj{{"tool_calls", []any{obj{
				{"index", 0},
				{"function", obj{{"arguments", p}}},
			}}}}, nil)
		}
	}
	chunk(obj{}, chatFinish(t))
	if req.StreamOptions != nil && req.StreamOptions.IncludeUsage {
		st.data(mustMarshal(obj{
			{"id", chatID},
			{"object", "chat.completion.chunk"},
			{"created", created},
			{"model", req.Model},
			{"choices", []any{}},
			{"usage", chatUsage()},
		}), "\n")
	}
	st.data([]byte("[DONE]"), "\n")
}

// ---- Responses ----

type responsesReq struct {
	Model              string          `json:"model"`
	Input              json.RawMessage `json:"input"`
	Stream             bool            `json:"stream"`
	PreviousResponseID string          `json:"previous_response_id"`
	// Generate false asks for no output: a warm-up that only sets up the conversation
	// (Codex sends one on a new WebSocket before its first turn).
	Generate *bool `json:"generate"`
}

// warmUp reports whether the request asks for no output.
func (r responsesReq) warmUp() bool { return r.Generate != nil && !*r.Generate }

type responsesItem struct {
	Type    string          `json:"type"`
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
	Output  json.RawMessage `json:"output"`
}

// isUserMessage reports whether it is a user message item.
func (it responsesItem) isUserMessage() bool {
	return it.Role == "user" && (it.Type == "" || it.Type == "message")
}

// isModelOutput reports whether it is an item the model produced: an assistant
// message, reasoning or a tool call.
func (it responsesItem) isModelOutput() bool {
	return it.Role == "assistant" || it.Type == "reasoning" || strings.HasSuffix(it.Type, "_call")
}

// responsesEcho reads a Responses request: what to echo and how. The latest turn is
// the input after the last item the model produced; when it holds tool outputs
// (function_call_output and the like) and no user message, it is a tool-result turn,
// answered after the last user text of the input (none when the history is only
// referenced by previous_response_id). Otherwise the last user message is echoed.
// For a warm-up (generate false) the turn is read as far as it can be and err is nil.
func responsesEcho(body []byte) (responsesReq, turn, error) {
	var req responsesReq
	if err := json.Unmarshal(body, &req); err != nil {
		return req, turn{}, err
	}
	t, err := responsesTurn(req.Input)
	if req.warmUp() {
		err = nil
	}
	return req, t, err
}

func responsesTurn(input json.RawMessage) (turn, error) {
	in := bytes.TrimSpace(input)
	if len(in) == 0 || bytes.Equal(in, []byte("null")) {
		return turn{}, errNoUser
	}
	if in[0] == '"' {
		var text string
		err := json.Unmarshal(in, &text)
		return userTurn(text), err
	}
	var items []responsesItem
	if err := json.Unmarshal(in, &items); err != nil {
		return turn{}, err
	}
	start := 0
	for i := len(items) - 1; i >= 0; i-- {
		if items[i].isModelOutput() {
			start = i + 1
			break
		}
	}
	var results []string
	for _, it := range items[start:] {
		if it.isUserMessage() {
			results = nil
			break
		}
		if strings.HasSuffix(it.Type, "_call_output") {
			texts, _, _ := blockTexts(it.Output, "input_text", "output_text", "text")
			results = append(results, strings.Join(texts, "\n"))
		}
	}
	if results != nil {
		return resultTurn(results, responsesUserText(items[:start])), nil
	}
	for i := len(items) - 1; i >= 0; i-- {
		it := items[i]
		if !it.isUserMessage() {
			continue
		}
		text, ok, err := contentText(it.Content, "input_text", "text")
		if err != nil {
			return turn{}, err
		}
		if ok {
			return userTurn(text), nil
		}
		break
	}
	return turn{}, errNoUser
}

// responsesUserText returns the text of the last user message of items that holds
// text, or "".
func responsesUserText(items []responsesItem) string {
	for i := len(items) - 1; i >= 0; i-- {
		if !items[i].isUserMessage() {
			continue
		}
		if texts, _, err := blockTexts(items[i].Content, "input_text", "text"); err == nil && texts != nil {
			return strings.Join(texts, "\n")
		}
	}
	return ""
}

func (s *Server) responses(w http.ResponseWriter, body []byte) {
	req, t, err := responsesEcho(body)
	if err != nil {
		openAIError(w, http.StatusBadRequest, "invalid request body: "+errClass(err))
		return
	}
	if !req.Stream {
		writeJSON(w, http.StatusOK, responseObject(req.Model, "completed", responseOutput(req, t)))
		return
	}
	s.responsesStream(w, req, t)
}

func reasoningItem() obj {
	return obj{{"type", "reasoning"}, {"id", reasoningID}, {"summary", []any{}}, {"encrypted_content", encrypted}}
}

func outputText(text string) obj {
	return obj{{"type", "output_text"}, {"text", text}, {"annotations", []any{}}}
}

func messageItem(status string, content []any) obj {
	return obj{{"type", "message"}, {"id", respMsgID}, {"role", "assistant"}, {"status", status}, {"content", content}}
}

func funcCallItem(status, args string) obj {
	return obj{{"type", "function_call"}, {"id", funcCallID}, {"call_id", callID}, {"name", "echo"}, {"arguments", args}, {"status", status}}
}

// responseOutput is the output of the answer to t: reasoning, a message and, for a
// user turn, an echo function call. A warm-up has none.
func responseOutput(req responsesReq, t turn) []any {
	if req.warmUp() {
		return []any{}
	}
	echo := t.echo()
	out := []any{
		reasoningItem(),
		messageItem("completed", []any{outputText(echo)}),
	}
	if !t.endsTurn() {
		out = append(out, funcCallItem("completed", argsJSON(echo)))
	}
	return out
}

func responseObject(model, status string, output []any) obj {
	var usage any
	if status == "completed" {
		usage = obj{{"input_tokens", 10}, {"output_tokens", 10}, {"total_tokens", 20}}
	}
	return obj{
		{"id", respID},
		{"object", "response"},
		{"created_at", created},
		{"status", status},
		{"error", nil},
		{"incomplete_details", nil},
		{"model", model},
		{"output", output},
		{"parallel_tool_calls", true},
		{"usage", usage},
	}
}

func (s *Server) responsesStream(w http.ResponseWriter, req responsesReq, t turn) {
	st := s.startStream(w, "text/event-stream; charset=utf-8")
	responsesEvents(req, t, s.opts.chunk(), func(typ string, ev obj) { st.event(typ, ev) })
}

// responsesEvents produces the Responses stream events of the answer to t, in order,
// with text and arguments cut into n-byte deltas: the SSE stream writes each as an
// event, the WebSocket endpoint as a message. A warm-up gets response.created and
// response.completed with no output.
func responsesEvents(req responsesReq, t turn, n int, emit func(typ string, ev obj)) {
	seq := 0
	ev := func(typ string, fields ...kv) {
		o := append(obj{{"type", typ}, {"sequence_number", seq}}, fields...)
		seq++
		emit(typ, o)
	}
	model, echo := req.Model, t.echo()
	args := argsJSON(echo)

	ev("response.created", kv{"response", responseObject(model, "in_progress", []any{})})
	if req.warmUp() {
		ev("response.completed", kv{"response", responseObject(model, "completed", responseOutput(req, t))})
		return
	}
	ev("response.in_progress", kv{"response", responseObject(model, "in_progress", []any{})})

	ev("response.output_item.added", kv{"output_index", 0}, kv{"item", obj{{"type", "reasoning"}, {"id", reasoningID}, {"summary", []any{}}}})
	ev("response.output_item.done", kv{"output_index", 0}, kv{"item", reasoningItem()})

	msg := []kv{{"item_id", respMsgID}, {"output_index", 1}, {"content_index", 0}}
	ev("response.output_item.added", kv{"output_index", 1}, kv{"item", messageItem("in_progress", []any{})})
	ev("response.content_part.added", append(msg, kv{"part", outputText("")})...)
	for _, p := range pieces(echo, n) {
		ev("response.output_text.delta", append(msg, kv{"delta", p}, kv{"logprobs", []any{}})...)
	}
	ev("response.output_text.done", append(msg, kv{"text", echo}, kv{"logprobs", []any{}})...)
	ev("response.content_part.done", append(msg, kv{"part", outputText(echo)})...)
	ev("response.output_item.done", kv{"output_index", 1}, kv{"item", messageItem("completed", []any{outputText(echo)})})

	if !t.endsTurn() {
		fc := []kv{{"item_id", funcCallID}, {"output_index", 2}}
		ev("response.output_item.added", kv{"output_index", 2}, kv{"item", funcCallItem("in_progress", "")})
		for _, p := range pieces(args, n) {
			ev("response.function_call_arguments.delta", append(fc, kv{"delta", p})...)
		}
		ev("response.function_call_arguments.done", append(fc, kv{"arguments", args})...)
		ev("response.output_item.done", kv{"output_index", 2}, kv{"item", funcCallItem("completed", args)})
	}

	ev("response.completed", kv{"response", responseObject(model, "completed", responseOutput(req, t))})
}
