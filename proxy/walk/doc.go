// Package walk finds the strings of a JSON body, values and member names, and rewrites
// them with byte fidelity.
//
// Redact hands every string value and member name of a request body to a callback
// and splices the replacements it returns into the raw bytes: the output differs from
// the input only inside the string literals that changed. Key order, whitespace,
// number formatting and the escape style of every untouched byte stay identical, so
// provider prompt caches, which match exact byte prefixes, keep hitting. Member names
// are scanned because agents send maps keyed by secrets (an env file read as JSON);
// Field.Name tells them from values. Restore does the reverse on response bodies: it
// hands the strings that hold a token to a callback and re-encodes the literals whose
// content changed.
//
// # Nested JSON
//
// Agents carry JSON text inside JSON strings: tool-call arguments, stringified tool
// results. A string value whose content, after leading whitespace, starts with '{' or
// '[' and is valid JSON is walked as a document of its own, up to MaxNesting levels
// deep. Its strings are reported with the outer path, "#" and the inner path, e.g.
// messages[1].tool_calls[0].function.arguments#.command. Below MaxNesting such a string
// is an ordinary string.
//
// # Skipped values
//
// Some values are never passed to the callback and never modified: signed reasoning
// (Anthropic thinking and redacted_thinking blocks, member names and signatures
// included) and encrypted or signed members (OpenAI encrypted_content, Gemini thought
// signatures), which the provider verifies byte for byte, and base64 media of a
// binary media type, which only yields false positives. Media of a text-like type is
// passed with Field.MediaType set, for the caller to decode and scan. OpenAI
// Responses reasoning items differ between the two directions: their summary is not
// signed, so Redact scans it like any text (their encrypted_content excepted), while
// Restore leaves the whole item untouched, so that a token in reasoning stays a
// token. A summary an agent sends back thus holds tokens, which Redact leaves as they
// are. The rules apply only to the body itself, never inside
// JSON text nested in a string: that is the user's data, whatever its member names
// say. The body's own member names that are fixed words of the provider APIs or of
// JSON Schema ("messages", "type", "properties", ...) are not passed either: they
// hold no secret, and most names of a request body are such words. Nor are the
// values of its "type" and "role" members that are such words ("user", "text",
// "tool_use", "string", ...), about a third of a request's strings. The rules are
// the tables in skip.go.
//
// # Resuming
//
// An agent resends its whole conversation every turn. RedactResume takes checkpoints
// as it walks a body (after array elements and object members at most
// MaxCheckpointDepth levels deep) and can start a later walk at one of them, when the
// caller vouches that the new body has the same bytes before it (a keyed hash): the
// strings before it are neither parsed nor passed to the callback, and their
// replacements are taken as given. A checkpoint holds offsets, an array index and the
// location of member names, never body bytes. The walk takes no checkpoint where a
// later byte could change how the strings before it are treated (inside a skipped
// value, after the data of what may yet turn out to be a media object, or inside a
// member whose name the callback replaced), and refuses to resume (ErrCannotResume)
// when an object open at the checkpoint turns out to be a thinking block.
//
// # Performance
//
// One pass validates the body and records where its strings are; a second pass
// calls the callback and writes the output. A string without escapes is passed to the
// callback as a subslice of the body; escaped strings are decoded into a reused buffer.
package walk
