// Package sse restores tokens in the Server-Sent-Event streams of model APIs as the
// proxy relays them to the agent.
//
// Models emit a token as several text deltas, in separate events, and each event may
// arrive in several reads. NewReader parses the stream event by event, recognises the
// delta events of the Anthropic Messages, OpenAI Chat Completions, OpenAI Responses
// and Gemini streaming APIs by their JSON, and keeps, per stream key (a content block,
// a choice's content, one tool call's arguments, ...), only the trailing bytes of the
// text that may still become a token. Everything else is emitted as soon as its event
// is complete.
//
// Held-back text is emitted with the next delta of the same key, or, when the key's
// stream ends (a non-delta event, a finish reason, [DONE], the end of the input), in a
// synthetic delta event copied from the key's last delta event with only the delta
// string replaced. For Chat Completions and Gemini, whose events carry several
// deltas, the copy keeps only the key's choice or candidate and a delta holding only
// the text (no role, tool-call id or name, other parts or logprobs), so nothing is
// repeated. Held-back text never holds a whole token, so emitting it unrestored is
// always correct.
//
// Thinking and signature content (Anthropic thinking_delta and signature_delta,
// Responses reasoning events, Gemini thought parts and thoughtSignature) is never
// modified. Events that are not deltas and hold a token are given whole to
// Restorer.JSON; data that is not JSON is passed on unchanged.
package sse
