// Package wsrelay relays one intercepted WebSocket connection between an agent and a
// model API, redacting what the agent sends and restoring tokens in what the model
// answers. OpenAI's Codex CLI speaks the Responses API this way
// (wss://api.openai.com/v1/responses): the client sends {"type":"response.create",...}
// text messages and the server answers with the JSON events its SSE stream carries,
// one event per message.
//
// # Design
//
// Relay terminates the WebSocket protocol on both sides with github.com/coder/websocket
// and relays whole messages, never frames: the library reassembles fragmented messages
// and decompresses them, so a token cut across frames, or across compressed blocks, is
// whole by the time it is scanned. The two connections are independent:
//
//   - The upstream is dialled first, through Config.HTTPClient (the proxy's verifying
//     transport; redirects are not followed), with the agent's handshake headers minus
//     hop-by-hop, proxy and handshake headers, and the agent's subprotocols. If the
//     upstream refuses the upgrade, the agent gets the upstream's status, headers and
//     (at most 1 KiB of) body as a plain HTTP response, so it sees a 401 as a 401.
//   - Only then is the agent accepted, with the subprotocol the upstream chose and the
//     upstream's other response headers (x-request-id, ...).
//   - permessage-deflate is negotiated on each side on its own: accepted from the agent
//     when it offers it (without context takeover: the agent link is local, so this
//     keeps memory low and leaves small deltas uncompressed) and offered to the
//     upstream (with context takeover: the repetitive JSON crosses the network). Either
//     side may use compression while the other does not.
//   - Pings are answered by the library on each side while that side is being read:
//     always, except while one of its messages is being redacted or written to the
//     other side. Pings are not forwarded end to end, so an agent's ping shows that
//     the proxy is alive, not the upstream.
//
// Two goroutines pump messages, one per direction. Agent → upstream: every message,
// text or binary, goes through Config.Redact before it is forwarded; if Redact fails,
// nothing is forwarded and both sides are closed with 1008 (policy violation).
// Upstream → agent: text messages go through sse.Messages, the SSE reader's per-event
// logic applied to whole messages, so deltas are restored per content block with only
// a possible token prefix held back; binary messages pass unchanged (tokens stay
// tokens), after any held-back text.
//
// # Ending
//
// The first side to end decides how the other is closed:
//
//   - a close frame from one peer is answered at once by the library with the same
//     code and reason, and the other peer is closed with that code and reason (1005,
//     no code, is sent on as an empty close frame). The agent's reason goes upstream
//     only through Redact (as a text message); if Redact fails, it is dropped;
//   - a connection that breaks without a close frame closes the other peer with 1001
//     (going away) towards the upstream or 1014 (bad gateway) towards the agent;
//   - a message larger than Config.MaxMessageBytes closes both with 1009;
//   - the end of the request's context closes both with 1001.
//
// Held-back text is emitted to the agent before it is closed by the upstream's end.
// Relay returns once both connections are closed and both pumps have stopped; closing
// waits at most a few seconds for each peer's close handshake.
//
// Nothing here logs, and no error or Result carries message content.
package wsrelay
