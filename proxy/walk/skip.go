package walk

import (
	"bytes"
	"strings"
)

// Skip rules. A skipped value is never passed to a callback and never modified, and
// neither are the member names inside it. Each table protects either signed provider
// content (changing one byte makes the provider reject the request) or binary payloads
// (base64 media, where detectors only find false positives); apiNames spares the fixed
// member names of the APIs, and apiWords the fixed words of their "type" and "role"
// values. Redact and Restore apply the same rules, but for
// restoreSkipObjectTypes, which only Restore applies. Add a name to a table to grow a
// rule; add a kind to add one.
//
// The rules apply only at nesting level 0, to the API body itself. Inside JSON text
// carried by a string (tool-call arguments, stringified tool results) no rule applies:
// that text is the user's data, which may well hold a "signature" member, a "type" of
// "reasoning" or a "data" member next to a "mime_type", and it is all scanned.
var (
	// skipObjectTypes lists values of an object's "type" member that make the whole
	// object opaque, wherever "type" sits among its members, member names included:
	// Anthropic thinking and redacted_thinking blocks, whose signature covers their
	// text.
	skipObjectTypes = []string{"thinking", "redacted_thinking"}

	// restoreSkipObjectTypes lists "type" values that make the whole object opaque
	// to Restore only: OpenAI Responses reasoning items. Their summary is not signed
	// (only encrypted_content is, skipped by skipMembers in both modes), so Redact
	// scans it, names included, as it scans any text an agent sends: a secret there
	// would otherwise go out in the clear. Restore leaves reasoning untouched: a token
	// there stays a token. Since Restore never puts a value into a summary, the
	// summary an agent sends back holds tokens, and Redact leaves it as it is.
	restoreSkipObjectTypes = []string{"reasoning"}

	// skipMembers lists member names whose whole value is opaque: OpenAI
	// encrypted_content, Gemini thought signatures, Anthropic web search citation
	// indexes. Anthropic's "signature" is not listed: it only occurs in thinking
	// blocks, skipped whole above, and is a common name in user data (webhooks).
	skipMembers = []string{"encrypted_content", "thought_signature", "thoughtSignature", "encrypted_index"}

	// mediaTypeMembers lists member names that mark their object as a media payload
	// (Anthropic base64 image and document sources, Gemini inlineData and
	// inline_data): its "data" string is base64. It is opaque when the media type is
	// binary (see binaryMedia), and is passed to the callback with Field.MediaType set
	// otherwise. An object whose "type" member is present and not "base64" is not a
	// payload: Anthropic's plain-text document source
	// {"type":"text","media_type":"text/plain","data":"..."} carries text and is
	// scanned as it is, with no MediaType.
	mediaTypeMembers = []string{"media_type", "mime_type", "mimeType"}

	// base64Holders lists member names whose object value has an opaque "data" string
	// (OpenAI input_audio {"data":"<base64>","format":"wav"}: always audio).
	base64Holders = []string{"input_audio"}

	// dataURLMembers lists member names whose string value, when it is a data: URL
	// with a binary media type, is opaque (OpenAI image_url and Responses input_image
	// URLs, input_file file_data). A data URL with another media type is passed to the
	// callback as it is, with Field.MediaType set; other URLs are scanned, since their
	// query strings may carry secrets.
	dataURLMembers = []string{"image_url", "url", "file_data"}

	// binaryTopTypes lists the top-level media types that are binary, whatever their
	// subtype, unless the subtype has a text suffix (image/svg+xml is text).
	binaryTopTypes = []string{"image", "audio", "video", "font"}

	// binaryTypes lists other binary media types, exactly.
	binaryTypes = []string{
		"application/pdf", "application/octet-stream",
		"application/zip", "application/gzip", "application/x-gzip", "application/zstd",
		"application/x-tar", "application/x-bzip2", "application/x-xz", "application/x-7z-compressed",
		"application/vnd.rar", "application/x-rar-compressed", "application/java-archive",
		"application/wasm", "application/msword", "application/vnd.ms-excel",
		"application/vnd.ms-powerpoint",
	}

	// binaryPrefixes lists prefixes of binary media types: office documents, which
	// are zip archives.
	binaryPrefixes = []string{"application/vnd.openxmlformats-officedocument.", "application/vnd.oasis.opendocument."}

	// textSuffixes lists structured-syntax suffixes that make any media type text.
	textSuffixes = []string{"+json", "+xml", "+yaml"}

	// enumMembers lists the members whose values are mostly one of apiWords: such a
	// value, at level 0, is passed to no callback (a fixed word holds no secret, and
	// about a third of a request's strings are one). Any other value is scanned.
	enumMembers = []string{"type", "role"}

	// apiNames lists member names of the provider APIs and of JSON Schema that, as
	// member names at level 0, are passed to no callback: a fixed word holds no
	// secret, and replacing one would break the request. Their values are scanned as
	// any other. Names elsewhere, and all other names, are passed.
	apiNames = []string{
		// Shared and Anthropic Messages.
		"model", "messages", "role", "content", "type", "text", "system", "tools", "name",
		"description", "input_schema", "tool_choice", "tool_use_id", "id", "input",
		"is_error", "cache_control", "ttl", "max_tokens", "stream", "stop_sequences",
		"temperature", "top_p", "top_k", "metadata", "user_id", "thinking",
		"budget_tokens", "source", "media_type", "data", "title", "citations",
		"signature", "context_management", "service_tier",
		// OpenAI Chat Completions and Responses.
		"tool_calls", "tool_call_id", "function", "arguments", "parameters", "strict",
		"image_url", "url", "detail", "input_audio", "format", "file", "file_data",
		"filename", "file_id", "instructions", "reasoning", "effort", "summary", "store",
		"include", "call_id", "output", "status", "annotations", "parallel_tool_calls",
		"max_output_tokens", "max_completion_tokens", "prompt_cache_key",
		"previous_response_id", "response_format", "stream_options", "include_usage",
		"encrypted_content", "user", "n", "seed", "logprobs", "verbosity",
		// Gemini.
		"contents", "parts", "functionCall", "functionResponse", "function_call",
		"function_response", "args", "response", "inlineData", "inline_data", "mimeType",
		"mime_type", "thought", "thoughtSignature", "thought_signature",
		"systemInstruction", "system_instruction", "generationConfig",
		"generation_config", "thinkingConfig", "includeThoughts", "thinkingBudget",
		"functionDeclarations", "function_declarations", "toolConfig", "safetySettings",
		// JSON Schema, in tool definitions.
		"properties", "required", "items", "enum", "additionalProperties", "$schema",
		"default", "anyOf", "oneOf", "allOf", "minimum", "maximum", "pattern",
	}
)

// binaryMedia reports whether the media type essence mt (lower case, no parameters)
// names binary content, whose payload is skipped. Only the types in the tables above
// are binary; every other type, unknown ones included, is text-like: text/*,
// application/json, application/*+json, application/xml, application/yaml,
// application/javascript, application/x-sh, application/sql, ... Skipping a text
// payload could let a secret through; scanning an unknown binary one costs little.
func binaryMedia(mt string) bool {
	for _, s := range textSuffixes {
		if strings.HasSuffix(mt, s) {
			return false
		}
	}
	if top, _, ok := strings.Cut(mt, "/"); ok {
		for _, t := range binaryTopTypes {
			if top == t {
				return true
			}
		}
	}
	for _, t := range binaryTypes {
		if mt == t {
			return true
		}
	}
	for _, p := range binaryPrefixes {
		if strings.HasPrefix(mt, p) {
			return true
		}
	}
	return strings.HasSuffix(mt, "+zip") // application/epub+zip
}

// maxMediaType bounds a media type the rules look at; a longer one is unknown.
const maxMediaType = 255

// appendEssence appends the essence of the media type mt to dst: lower case, without
// parameters or surrounding spaces. It returns dst unchanged if mt is longer than
// maxMediaType.
func appendEssence(dst, mt []byte) []byte {
	if i := bytes.IndexByte(mt, ';'); i >= 0 {
		mt = mt[:i]
	}
	mt = bytes.TrimSpace(mt)
	if len(mt) > maxMediaType {
		return dst
	}
	for _, c := range mt {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// dataURLPrefix starts a data URL.
const dataURLPrefix = "data:"

// dataURLType returns the media type part of the decoded data URL header h (the bytes
// before its first ','), "" if h is not one. A data URL without a media type is
// text/plain (RFC 2397); the caller reports it so.
func dataURLType(h []byte) ([]byte, bool) {
	if len(h) < len(dataURLPrefix) || !bytes.EqualFold(h[:len(dataURLPrefix)], []byte(dataURLPrefix)) {
		return nil, false
	}
	return h[len(dataURLPrefix):], true
}

// base64Type is the "type" value that keeps a media object a payload.
const base64Type = "base64"

// Member kinds, the bits of memberInfo.
const (
	kindSkip      = 1 << iota // value opaque
	kindType                  // "type": may make the object opaque
	kindMedia                 // a media type member
	kindData                  // "data": opaque in a media object or base64 holder
	kindDataURL               // string opaque when it is a binary data URL
	kindB64Holder             // its object value has an opaque "data"
	kindAPIName               // the name itself is passed to no callback
	kindEnum                  // its value is passed to no callback when an apiWord
)

// memberInfo is what the skip rules say about a member name.
type memberInfo struct {
	kind uint8
}

// members maps member names to their kinds; built from the tables above. Names
// shorter than minMember or longer than maxMember have no rule.
var members, minMember, maxMember = buildMembers()

func buildMembers() (m map[string]memberInfo, minLen, maxLen int) {
	m = make(map[string]memberInfo)
	add := func(name string, kind uint8) {
		mi := m[name]
		mi.kind |= kind
		m[name] = mi
	}
	for _, n := range skipMembers {
		add(n, kindSkip)
	}
	add("type", kindType)
	for _, n := range mediaTypeMembers {
		add(n, kindMedia)
	}
	add("data", kindData)
	for _, n := range base64Holders {
		add(n, kindB64Holder)
	}
	for _, n := range dataURLMembers {
		add(n, kindDataURL)
	}
	for _, n := range enumMembers {
		add(n, kindEnum)
	}
	for _, n := range apiNames {
		add(n, kindAPIName)
	}
	minLen = len("data")
	for name := range m {
		minLen = min(minLen, len(name))
		maxLen = max(maxLen, len(name))
	}
	return m, minLen, maxLen
}

// lookupMember returns the skip rules for a member name.
func lookupMember(name []byte) memberInfo {
	if len(name) < minMember || len(name) > maxMember {
		return memberInfo{}
	}
	for h := memberHash(name); ; h = (h + 1) % memberSlots {
		e := &memberTable[h]
		if e.name == "" {
			return memberInfo{}
		}
		if e.name == string(name) {
			return e.info
		}
	}
}

// memberTable holds members in open addressing (linear probing) by memberHash: a
// body has a member name every few dozen bytes, and hashing its length and three of
// its bytes is several times cheaper than a map's hash of all of them.
var memberTable = buildMemberTable(members)

// memberSlots is the size of memberTable: a power of two, four times the number of
// names or more, so that probes are short, and small enough (12 KB) to stay in the
// cache between requests.
const memberSlots = 512

type memberSlot struct {
	name string
	info memberInfo
}

// memberHash hashes a name of at least one byte into memberTable: its length, first,
// middle and last bytes.
func memberHash(name []byte) uint32 {
	n := uint32(len(name))
	x := n | uint32(name[0])<<8 | uint32(name[n/2])<<16 | uint32(name[n-1])<<24
	return (x * 0x9E3779B1) >> 23 // the top 9 bits: memberSlots
}

func buildMemberTable(m map[string]memberInfo) *[memberSlots]memberSlot {
	if len(m) > memberSlots/4 || minMember < 1 {
		panic("walk: memberTable too small") // a test covers the tables as they are
	}
	t := new([memberSlots]memberSlot)
	for name, info := range m {
		h := memberHash([]byte(name))
		for t[h].name != "" {
			h = (h + 1) % memberSlots
		}
		t[h] = memberSlot{name, info}
	}
	return t
}

// skipType reports whether a "type" value makes its object opaque, to Restore if
// restore is set, to Redact otherwise.
func skipType(t []byte, restore bool) bool {
	for _, s := range skipObjectTypes {
		if string(t) == s {
			return true
		}
	}
	if restore {
		for _, s := range restoreSkipObjectTypes {
			if string(t) == s {
				return true
			}
		}
	}
	return false
}

// apiWord reports whether the raw literal of a "type" or "role" value (enumMembers) is
// a fixed word of the APIs (roles, content block and item types, JSON Schema types):
// Anthropic Messages, OpenAI Chat Completions and Responses, Gemini. The literal is
// compared as it stands: one with an escape in it is no API word.
func apiWord(lit []byte) bool {
	switch string(lit) {
	case "user", "assistant", "system", "developer", "tool", "function", "model",
		"text", "tool_use", "tool_result", "image", "document", "base64", "url",
		"ephemeral", "server_tool_use", "web_search_tool_result",
		"message", "input_text", "output_text", "input_image", "input_file",
		"function_call", "function_call_output", "image_url", "json_schema",
		"object", "string", "number", "integer", "boolean", "array", "null":
		return true
	}
	return false
}
