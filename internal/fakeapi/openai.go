package fakeapi

import (
	"bytes"
	"encoding/json"
	"net/http"
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

func chatEcho(body []byte) (chatReq, string, error) {
	var req chatReq
	if err := json.Unmarshal(body, &req); err != nil {
		return req, "", err
	}
	text, err := lastUserText(req.Messages)
	return req, text, err
}

func (s *Server) chat(w http.ResponseWriter, body []byte) {
	req, echo, err := chatEcho(body)
	if err != nil {
		openAIError(w, http.StatusBadRequest, "invalid request body: "+errClass(err))
		return
	}
	if !req.Stream {
		writeJSON(w, http.StatusOK, chatCompletion(req.Model, echo))
		return
	}
	s.chatStream(w, req, echo)
}

func chatUsage() obj {
	return obj{{"prompt_tokens", 10}, {"completion_tokens", 10}, {"total_tokens", 20}}
}

func chatCompletion(model, echo string) obj {
	return obj{
		{"id", chatID},
		{"object", "chat.completion"},
		{"created", created},
		{"model", model},
		{"choices", []any{obj{
			{"index", 0},
			{"message", obj{
				{"role", "assistant"},
				{"content", echo},
				{"refusal", nil},
				{"tool_calls", []any{obj{
					{"id", callID},
					{"type", "function"},
					{"function", obj{{"name", "echo"}, {"arguments", argsJSON(echo)}}},
				}}},
			}},
			{"logprobs", nil},
			{"finish_reason", "tool_calls"},
		}}},
		{"usage", chatUsage()},
	}
}

func (s *Server) chatStream(w http.ResponseWriter, req chatReq, echo string) {
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
	chunk(obj{}, "tool_calls")
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
	Model  string          `json:"model"`
	Input  json.RawMessage `json:"input"`
	Stream bool            `json:"stream"`
}

type responsesItem struct {
	Type    string          `json:"type"`
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

func responsesEcho(body []byte) (responsesReq, string, error) {
	var req responsesReq
	if err := json.Unmarshal(body, &req); err != nil {
		return req, "", err
	}
	in := bytes.TrimSpace(req.Input)
	if len(in) == 0 || bytes.Equal(in, []byte("null")) {
		return req, "", errNoUser
	}
	if in[0] == '"' {
		var text string
		err := json.Unmarshal(in, &text)
		return req, text, err
	}
	var items []responsesItem
	if err := json.Unmarshal(in, &items); err != nil {
		return req, "", err
	}
	for i := len(items) - 1; i >= 0; i-- {
		it := items[i]
		if it.Role != "user" || (it.Type != "" && it.Type != "message") {
			continue
		}
		text, ok, err := contentText(it.Content, "input_text", "text")
		if err != nil {
			return req, "", err
		}
		if ok {
			return req, text, nil
		}
		break
	}
	return req, "", errNoUser
}

func (s *Server) responses(w http.ResponseWriter, body []byte) {
	req, echo, err := responsesEcho(body)
	if err != nil {
		openAIError(w, http.StatusBadRequest, "invalid request body: "+errClass(err))
		return
	}
	if !req.Stream {
		writeJSON(w, http.StatusOK, responseObject(req.Model, "completed", responseOutput(echo)))
		return
	}
	s.responsesStream(w, req.Model, echo)
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

func responseOutput(echo string) []any {
	return []any{
		reasoningItem(),
		messageItem("completed", []any{outputText(echo)}),
		funcCallItem("completed", argsJSON(echo)),
	}
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

func (s *Server) responsesStream(w http.ResponseWriter, model, echo string) {
	st := s.startStream(w, "text/event-stream; charset=utf-8")
	responsesEvents(model, echo, s.opts.chunk(), func(typ string, ev obj) { st.event(typ, ev) })
}

// responsesEvents produces the Responses stream events that echo echo, in order, with
// text and arguments cut into n-byte deltas: the SSE stream writes each as an event,
// the WebSocket endpoint as a message.
func responsesEvents(model, echo string, n int, emit func(typ string, ev obj)) {
	seq := 0
	ev := func(typ string, fields ...kv) {
		o := append(obj{{"type", typ}, {"sequence_number", seq}}, fields...)
		seq++
		emit(typ, o)
	}
	args := argsJSON(echo)

	ev("response.created", kv{"response", responseObject(model, "in_progress", []any{})})
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

	fc := []kv{{"item_id", funcCallID}, {"output_index", 2}}
	ev("response.output_item.added", kv{"output_index", 2}, kv{"item", funcCallItem("in_progress", "")})
	for _, p := range pieces(args, n) {
		ev("response.function_call_arguments.delta", append(fc, kv{"delta", p})...)
	}
	ev("response.function_call_arguments.done", append(fc, kv{"arguments", args})...)
	ev("response.output_item.done", kv{"output_index", 2}, kv{"item", funcCallItem("completed", args)})

	ev("response.completed", kv{"response", responseObject(model, "completed", responseOutput(echo))})
}
