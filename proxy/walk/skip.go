package walk

// Skip rules. A skipped value is never passed to a callback and never modified. Each
// table protects either signed provider content (changing one byte makes the provider
// reject the request) or binary payloads (base64 media, where detectors only find
// false positives). Add a name to a table to grow a rule; add a kind to add one.
var (
	// skipObjectTypes lists values of an object's "type" member that make the whole
	// object opaque, wherever "type" sits among its members: Anthropic thinking and
	// redacted_thinking blocks, OpenAI Responses reasoning items.
	skipObjectTypes = []string{"thinking", "redacted_thinking", "reasoning"}

	// skipMembers lists member names whose whole value is opaque: Anthropic block
	// signatures, OpenAI encrypted_content, Gemini thought signatures, Anthropic web
	// search citation indexes.
	skipMembers = []string{"signature", "encrypted_content", "thought_signature", "thoughtSignature", "encrypted_index"}

	// mediaTypeMembers lists member names that mark their object as a media payload:
	// its "data" string is base64 and opaque (Anthropic base64 image and document
	// sources, Gemini inlineData and inline_data). An object whose "type" member is
	// present and not "base64" is not a payload: Anthropic's plain-text document source
	// {"type":"text","media_type":"text/plain","data":"..."} carries text and is scanned.
	mediaTypeMembers = []string{"media_type", "mime_type", "mimeType"}

	// base64Holders lists member names whose object value has an opaque "data" string
	// (OpenAI input_audio {"data":"<base64>","format":"wav"}).
	base64Holders = []string{"input_audio"}

	// dataURLRules makes a string member opaque when its raw value starts with Prefix
	// and contains Needs (OpenAI image_url and Responses input_image URLs, input_file
	// file_data). Other URLs are scanned: their query strings may carry secrets.
	dataURLRules = []dataURLRule{
		{Name: "image_url", Prefix: "data:", Needs: ";base64,"},
		{Name: "url", Prefix: "data:", Needs: ";base64,"},
		{Name: "file_data", Prefix: "data:"},
	}
)

// base64Type is the "type" value that keeps a media object a payload.
const base64Type = "base64"

// dataURLRule is one entry of dataURLRules.
type dataURLRule struct {
	Name   string // member name
	Prefix string // the raw value must start with this
	Needs  string // and contain this ("" for no further condition)
}

// Member kinds, the bits of memberInfo.
const (
	kindSkip      = 1 << iota // value opaque
	kindType                  // "type": may make the object opaque
	kindMedia                 // a media type member
	kindData                  // "data": opaque in a media object or base64 holder
	kindDataURL               // string opaque when it is a data URL, see memberInfo.url
	kindB64Holder             // its object value has an opaque "data"
)

// memberInfo is what the skip rules say about a member name.
type memberInfo struct {
	kind uint8
	url  uint8 // index into dataURLRules when kind has kindDataURL
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
	for i, r := range dataURLRules {
		add(r.Name, kindDataURL)
		mi := m[r.Name]
		mi.url = uint8(i)
		m[r.Name] = mi
	}
	minLen = len("type")
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
	return members[string(name)]
}

// skipType reports whether a "type" value makes its object opaque.
func skipType(t []byte) bool {
	for _, s := range skipObjectTypes {
		if string(t) == s {
			return true
		}
	}
	return false
}
