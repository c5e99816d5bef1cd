// Package walk finds the string values of a JSON body and rewrites them with byte
// fidelity.
//
// Redact hands every string value of a request body to a callback and splices the
// replacements it returns into the raw bytes: the output differs from the input only
// inside the string literals that changed. Key order, whitespace, number formatting and
// the escape style of every untouched byte stay identical, so provider prompt caches,
// which match exact byte prefixes, keep hitting. Restore does the reverse on response
// bodies: it hands the string values that hold a token to a callback and re-encodes the
// literals whose content changed.
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
// blocks and signatures, which the provider verifies byte for byte, and base64 media,
// which only yields false positives. The rules are the tables in skip.go.
//
// # Performance
//
// One pass validates the body and records where its string values are; a second pass
// calls the callback and writes the output. A string without escapes is passed to the
// callback as a subslice of the body; escaped strings are decoded into a reused buffer.
package walk
