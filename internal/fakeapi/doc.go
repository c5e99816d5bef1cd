// Package fakeapi is a fake model-provider upstream for end-to-end tests of
// the proxy. It is test support only and is never used by production code.
//
// Start runs an HTTPS server (HTTP/1.1 and HTTP/2) with its own throwaway
// ECDSA test CA and a certificate valid for api.anthropic.com,
// api.openai.com, generativelanguage.googleapis.com, chatgpt.com, localhost
// and 127.0.0.1. It speaks the real wire formats (JSON and SSE) of the
// Anthropic Messages API, OpenAI Chat Completions, OpenAI Responses and
// Gemini generateContent / streamGenerateContent.
//
// The fake echoes: it takes the text of the last user message of a request
// and returns that exact text as the assistant text and as the JSON
// arguments {"text": <text>} of a tool call named "echo", stopping for the
// tool (stop_reason tool_use, finish_reason tool_calls). Anthropic
// responses also carry a thinking block "Echo plan for <text>" so a test can
// check that thinking text is left alone. Streams cut the text into
// Options.Chunk-byte deltas, and each SSE event is by default written in
// several small TCP writes, so tokens are split across events and writes.
//
// A request whose latest turn (the input after the model's last output) holds
// tool results and no user text (Anthropic tool_result blocks, Chat "tool"
// messages, Responses function_call_output and other *_call_output items, Gemini
// functionResponse parts) is answered as a model answers its tool's result: text
// only, ending the turn (end_turn, stop, completed, STOP). The text is the
// results' texts followed by the last user text of the conversation, "\n"-joined,
// so an agent session ends on its own and its final answer still echoes the user.
//
// GET /v1/responses with Upgrade: websocket serves the Responses API over a
// WebSocket as Codex uses it (permessage-deflate honoured when offered): each
// response.create text message is answered with the same events as the SSE
// stream, one event per message, optionally fragmented into small frames
// (Options.FragmentFrames). A warm-up ("generate": false, any input) gets
// response.created and response.completed with no output. A connection
// remembers the last user text it saw, so a later turn that sends only its tool
// output with previous_response_id is answered after it. The handshake is
// recorded as a GET request and each text message as a Request with Method "WS"
// and the handshake's headers.
//
// GET or HEAD /api/hello (Claude Code's probe of its base URL) answers 200.
//
// Every request is recorded (raw body as received plus headers) so a test
// can assert that no secret reached the upstream and check byte fidelity.
package fakeapi
