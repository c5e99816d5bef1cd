package sse

import (
	"strings"
)

// A test stream: the SSE text (LF endings), the events that must come out byte-identical
// (in order), and the expected concatenated deltas per collect key.
type testStream struct {
	sse      string
	verbatim []string
	want     map[string]string // collect key -> expected restored concatenation
	jsonKeys map[string]map[string]string
}

// Anthropic Messages: thinking (with signature), text and a tool_use block.
func anthropicStream() testStream {
	thinking := "The user pasted " + tokAWS + " earlier."
	text := "Here is the key: " + tokAWS + " and the password " + tokPass + ", unknown " + tokGone + "."
	args := `{"file_path":"/app/.env","old_string":"AWS=` + tokAWS + `","new_string":"KEY=` + tokPEM + `"}`
	sig := "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxDCLOU5wbcDa9GJwZAIjDhc0bN/b8S+s2x"

	var ts testStream
	add := func(name, data string, verbatim bool) {
		ev := sseEvent(name, data)
		ts.sse += ev
		if verbatim {
			ts.verbatim = append(ts.verbatim, ev)
		}
	}
	delta := func(i int, typ, field, s string, verbatim bool) {
		add("content_block_delta", `{"type":"content_block_delta","index":`+itoa(i)+`,"delta":{"type":"`+typ+`","`+field+`":`+jsonStr(s)+`}}`, verbatim)
	}
	add("message_start", `{"type":"message_start","message":{"id":"msg_01XFDUDYJgAACzvnptvVoYEL","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":472,"output_tokens":2}}}`, true)
	add("content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}}`, true)
	for _, p := range pieces(thinking, cutsIn(thinking, tokAWS, 2)...) {
		delta(0, "thinking_delta", "thinking", p, true)
	}
	delta(0, "signature_delta", "signature", sig, true)
	add("content_block_stop", `{"type":"content_block_stop","index":0}`, true)
	add("content_block_start", `{"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}`, true)
	cuts := append(cutsIn(text, tokAWS, 3), cutsIn(text, tokPass, 2)...)
	cuts = append(cuts, cutsIn(text, tokGone, 4)...)
	for i, p := range pieces(text, cuts...) {
		delta(1, "text_delta", "text", p, false)
		if i == 0 {
			add("ping", `{"type": "ping"}`, true)
		}
	}
	add("content_block_stop", `{"type":"content_block_stop","index":1}`, true)
	add("content_block_start", `{"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_01T1x1fJ34qAmk2tNTrN7Up6","name":"Edit","input":{}}}`, true)
	delta(2, "input_json_delta", "partial_json", "", false)
	cuts = append(cutsIn(args, tokAWS, 2), cutsIn(args, tokPEM, 4)...)
	cuts = append(cuts, 3, 7) // also cut early in the JSON text
	sortInts(cuts)
	for _, p := range pieces(args, cuts...) {
		delta(2, "input_json_delta", "partial_json", p, false)
	}
	add("content_block_stop", `{"type":"content_block_stop","index":2}`, true)
	add("message_delta", `{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":89}}`, true)
	add("message_stop", `{"type":"message_stop"}`, true)
	ts.want = map[string]string{
		"a0.thinking":  thinking,
		"a0.signature": sig,
		"a1":           restored(text, false),
		"a2":           restored(args, true),
	}
	ts.jsonKeys = map[string]map[string]string{
		"a2": {"file_path": "/app/.env", "old_string": "AWS=" + valAWS, "new_string": "KEY=" + valPEM},
	}
	return ts
}

// OpenAI Chat Completions: two choices in one chunk, reasoning, parallel tool calls.
func chatStream() testStream {
	c0 := "Use " + tokAWS + " now, then " + tokPass + " at the end: clo"
	c1 := "Second choice " + tokPass + " end"
	reason := "Thinking about " + tokAWS
	a0 := `{"path":"/etc/key.pem","content":"` + tokPEM + `"}`
	a1 := `{"a":"` + tokAWS + `","b":1}`
	var ts testStream
	chunk := func(choices string, verbatim bool) {
		ev := sseEvent("", `{"id":"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT","object":"chat.completion.chunk","created":1741570283,"model":"gpt-4o-2024-08-06","system_fingerprint":"fp_eb9dce56a8","choices":[`+choices+`],"usage":null}`)
		ts.sse += ev
		if verbatim {
			ts.verbatim = append(ts.verbatim, ev)
		}
	}
	choice := func(i int, delta string) string {
		return `{"index":` + itoa(i) + `,"delta":` + delta + `,"logprobs":null,"finish_reason":null}`
	}
	chunk(choice(0, `{"role":"assistant","content":"","refusal":null}`)+","+choice(1, `{"role":"assistant","content":""}`), true)
	for _, p := range pieces(reason, cutsIn(reason, tokAWS, 2)...) {
		chunk(choice(0, `{"reasoning_content":`+jsonStr(p)+`}`), false)
	}
	p0 := pieces(c0, append(cutsIn(c0, tokAWS, 3), cutsIn(c0, tokPass, 2)...)...)
	p1 := pieces(c1, cutsIn(c1, tokPass, 4)...)
	for i := 0; i < max(len(p0), len(p1)); i++ {
		var cs []string
		if i < len(p0) {
			cs = append(cs, choice(0, `{"content":`+jsonStr(p0[i])+`}`))
		}
		if i < len(p1) {
			cs = append(cs, choice(1, `{"content":`+jsonStr(p1[i])+`}`))
		}
		chunk(strings.Join(cs, ","), false)
	}
	tool := func(j int, first bool, args string) string {
		if first {
			return `{"index":` + itoa(j) + `,"id":"call_` + itoa(j) + `abc","type":"function","function":{"name":"write_file","arguments":` + jsonStr(args) + `}}`
		}
		return `{"index":` + itoa(j) + `,"function":{"arguments":` + jsonStr(args) + `}}`
	}
	t0 := pieces(a0, cutsIn(a0, tokPEM, 4)...)
	t1 := pieces(a1, cutsIn(a1, tokAWS, 2)...)
	for i := 0; i < max(len(t0), len(t1)); i++ {
		if i < len(t0) {
			chunk(choice(0, `{"tool_calls":[`+tool(0, i == 0, t0[i])+`]}`), false)
		}
		if i < len(t1) {
			chunk(choice(0, `{"tool_calls":[`+tool(1, i == 0, t1[i])+`]}`), false)
		}
	}
	fin := func(i int, reason string) string {
		return `{"index":` + itoa(i) + `,"delta":{},"logprobs":null,"finish_reason":"` + reason + `"}`
	}
	chunk(fin(0, "tool_calls")+","+fin(1, "stop"), true)
	usage := `{"id":"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT","object":"chat.completion.chunk","created":1741570283,"model":"gpt-4o-2024-08-06","choices":[],"usage":{"prompt_tokens":20,"completion_tokens":30,"total_tokens":50}}`
	ts.sse += sseEvent("", usage) + sseEvent("", "[DONE]")
	ts.verbatim = append(ts.verbatim, sseEvent("", usage), sseEvent("", "[DONE]"))
	ts.want = map[string]string{
		"c0.content":   restored(c0, false),
		"c1.content":   restored(c1, false),
		"c0.reasoning": reason, // thinking: never restored
		"c0.tool0":     restored(a0, true),
		"c0.tool1":     restored(a1, true),
	}
	ts.jsonKeys = map[string]map[string]string{
		"c0.tool0": {"path": "/etc/key.pem", "content": valPEM},
		"c0.tool1": {"a": valAWS},
	}
	return ts
}

// OpenAI Responses: reasoning, output_text, a function call, .done events and
// response.completed.
func responsesStream() testStream {
	text := "Key " + tokAWS + " and\n" + tokPEM + " done"
	args := `{"cmd":"deploy","secret":"` + tokPEM + `"}`
	summary := "Saw " + tokAWS
	var ts testStream
	seq := 0
	add := func(typ, rest string, verbatim bool) {
		seq++
		ev := sseEvent(typ, `{"type":"`+typ+`","sequence_number":`+itoa(seq)+rest+`}`)
		ts.sse += ev
		if verbatim {
			ts.verbatim = append(ts.verbatim, ev)
		}
	}
	resp := `{"id":"resp_67c9fdcecf488190","object":"response","created_at":1741290958,"status":"in_progress","model":"gpt-5","output":[]}`
	add("response.created", `,"response":`+resp, true)
	add("response.output_item.added", `,"output_index":0,"item":{"id":"rs_1","type":"reasoning","summary":[]}`, true)
	for _, p := range pieces(summary, cutsIn(summary, tokAWS, 2)...) {
		add("response.reasoning_summary_text.delta", `,"item_id":"rs_1","output_index":0,"summary_index":0,"delta":`+jsonStr(p), true)
	}
	add("response.output_item.done", `,"output_index":0,"item":{"id":"rs_1","type":"reasoning","encrypted_content":"gAAAAABo","summary":[]}`, true)
	add("response.output_item.added", `,"output_index":1,"item":{"id":"msg_1","type":"message","status":"in_progress","content":[],"role":"assistant"}`, true)
	add("response.content_part.added", `,"item_id":"msg_1","output_index":1,"content_index":0,"part":{"type":"output_text","annotations":[],"text":""}`, true)
	for _, p := range pieces(text, append(cutsIn(text, tokAWS, 4), cutsIn(text, tokPEM, 2)...)...) {
		add("response.output_text.delta", `,"item_id":"msg_1","output_index":1,"content_index":0,"delta":`+jsonStr(p)+`,"logprobs":[]`, false)
	}
	add("response.output_text.done", `,"item_id":"msg_1","output_index":1,"content_index":0,"text":`+jsonStr(text)+`,"logprobs":[]`, false)
	add("response.output_item.done", `,"output_index":1,"item":{"id":"msg_1","type":"message","status":"completed","content":[{"type":"output_text","annotations":[],"text":`+jsonStr(text)+`}],"role":"assistant"}`, false)
	add("response.output_item.added", `,"output_index":2,"item":{"id":"fc_1","type":"function_call","status":"in_progress","arguments":"","call_id":"call_1","name":"run"}`, true)
	for _, p := range pieces(args, cutsIn(args, tokPEM, 3)...) {
		add("response.function_call_arguments.delta", `,"item_id":"fc_1","output_index":2,"delta":`+jsonStr(p), false)
	}
	add("response.function_call_arguments.done", `,"item_id":"fc_1","output_index":2,"arguments":`+jsonStr(args), false)
	add("response.completed", `,"response":{"id":"resp_67c9fdcecf488190","object":"response","status":"completed","output":[{"id":"msg_1","type":"message","content":[{"type":"output_text","text":`+jsonStr(text)+`}]}]}`, false)
	ts.want = map[string]string{
		"rrs_1":  summary,
		"rmsg_1": restored(text, false),
		"rfc_1":  restored(args, true),
	}
	ts.jsonKeys = map[string]map[string]string{"rfc_1": {"cmd": "deploy", "secret": valPEM}}
	return ts
}

// Gemini streamGenerateContent?alt=sse: a thought, text parts, a function call.
func geminiStream() testStream {
	thought := "Thinking about " + tokAWS
	text := "The key " + tokAWS + " and " + tokPEM + " in clo"
	tail := "ud, see " + tokPass
	var ts testStream
	chunk := func(cand string, verbatim bool) {
		ev := sseEvent("", `{"candidates": [`+cand+`],"usageMetadata": {"promptTokenCount": 9,"totalTokenCount": 9},"modelVersion": "gemini-2.5-flash","responseId": "mS5naNz"}`)
		ts.sse += ev
		if verbatim {
			ts.verbatim = append(ts.verbatim, ev)
		}
	}
	part := func(p string) string { return `{"content": {"parts": [` + p + `],"role": "model"},"index": 0}` }
	chunk(part(`{"text": `+jsonStr(thought)+`,"thought": true}`), true)
	for _, p := range pieces(text, append(cutsIn(text, tokAWS, 2), cutsIn(text, tokPEM, 3)...)...) {
		chunk(part(`{"text": `+jsonStr(p)+`}`), false)
	}
	chunk(part(`{"functionCall": {"name": "write","args": {"content": "`+tokPEM+`"}},"thoughtSignature": "CiIBVKhc7oDUZm"}`), false)
	ps := pieces(tail, cutsIn(tail, tokPass, 2)...)
	chunk(part(`{"text": `+jsonStr(ps[0])+`}`), false)
	chunk(`{"content": {"parts": [{"text": `+jsonStr(ps[1])+`}],"role": "model"},"finishReason": "STOP","index": 0}`, false)
	ts.want = map[string]string{
		"g0.thought": thought,
		"g0":         restored(text+tail, false),
	}
	return ts
}

func sortInts(a []int) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j] < a[j-1]; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}
