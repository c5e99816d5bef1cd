package detect

import (
	"bytes"
	"math"
	"slices"
)

// Key kinds for context-based rules.
const (
	kindNone = iota
	kindPassword
	kindSecret
)

// Longest values a context-based rule takes as one secret: quoted, and bare (bare
// values are scanned at every key, so their bound keeps adversarial input linear
// with a small factor).
const (
	maxValue      = 1024
	maxBareValue  = 256
	maxFieldValue = 8 << 10 // a JSON member value judged whole
)

// Suffixes (of a key name lowercased with separators and trailing digits dropped)
// that make its value a password or a secret.
var (
	passwordStems = []string{"password", "passwd", "passphrase", "pwd"}
	secretStems   = []string{
		"secret", "token", "apikey", "accesskey", "secretkey", "privatekey", "authkey",
		"auth", "credential", "credentials",
	}
	// notSecretKeys end in a secret stem but name something public.
	notSecretKeys = []string{
		"nexttoken", "pagetoken", "nextpagetoken", "continuationtoken", "cursortoken",
		"synctoken", "resumetoken", "maxtoken", "cancellationtoken", "csrftoken",
		"oauth",
	}
)

// stemTails holds the last three bytes of every stem (and of "pass"), packed as
// packTail packs them: a key whose normalized form ends otherwise is of no kind.
// stemTailBits is a one-word filter over them.
var stemTails, stemTailBits = func() (t []uint32, bits uint64) {
	for _, list := range [][]string{passwordStems, secretStems, {"pass"}} {
		for _, s := range list {
			if p := packTail(s[len(s)-3], s[len(s)-2], s[len(s)-1]); !slices.Contains(t, p) {
				t = append(t, p)
				bits |= 1 << tailBit(p)
			}
		}
	}
	return t, bits
}()

func packTail(a, b, c byte) uint32 { return uint32(a)<<16 | uint32(b)<<8 | uint32(c) }
func tailBit(t uint32) uint32      { return (t * 0x9E3779B1) >> 26 }

// isStemTail reports whether t, a packed tail, is one of stemTails.
func isStemTail(t uint32) bool {
	return stemTailBits&(1<<tailBit(t)) != 0 && slices.Contains(stemTails, t)
}

// keyTail returns the last three bytes of normKey(key), packed, without building it:
// normKey keeps letters and digits in lower case and drops trailing digits, so its
// result ends at the last letter of key. ok is false when it is shorter than three.
func keyTail(key string) (tail uint32, ok bool) {
	i := len(key) - 1
	for i >= 0 && !isLetter(key[i]) {
		i--
	}
	n := 0
	for ; i >= 0 && n < 24; i-- {
		if c := key[i]; isAlnum(c) {
			tail |= uint32(c|0x20) << n // letters and digits: |0x20 lowers a letter, keeps a digit
			n += 8
		}
	}
	return tail, n == 24
}

// stemKey reports whether key may be of a kind other than kindNone (its normalized
// form ends like a stem) or name a key (it ends in "key", which is a stem's end too):
// the cheap test that ScanField makes once for the Field rules that only judge such
// keys (onlyStemKeys). It is exact in the negative.
func stemKey(key string) bool {
	if len(key) == 0 || len(key) > 64 {
		return false
	}
	t, ok := keyTail(key)
	return ok && isStemTail(t)
}

// tailIsKey reports whether the normalized key ends in "key".
func tailIsKey(key string) bool {
	t, ok := keyTail(key)
	return ok && t == packTail('k', 'e', 'y')
}

// keyKind classifies a key name: kindPassword, kindSecret or kindNone.
func keyKind(key []byte) int {
	if len(key) == 0 || len(key) > 64 {
		return kindNone
	}
	var buf [64]byte
	norm := normKey(&buf, key)
	n := len(norm)
	if n < 3 || !isStemTail(packTail(norm[n-3], norm[n-2], norm[n-1])) {
		return kindNone
	}
	return stemKind(norm, key)
}

// stemKind classifies the normalized key name norm of key against every stem.
func stemKind(norm, key []byte) int {
	for _, s := range passwordStems {
		if bytes.HasSuffix(norm, []byte(s)) {
			return kindPassword
		}
	}
	if bytes.HasSuffix(norm, []byte("pass")) && passBoundary(key) {
		return kindPassword
	}
	for _, s := range secretStems {
		if bytes.HasSuffix(norm, []byte(s)) {
			for _, x := range notSecretKeys {
				if bytes.Equal(norm, []byte(x)) || len(x) > 6 && bytes.HasSuffix(norm, []byte(x)) {
					return kindNone
				}
			}
			return kindSecret
		}
	}
	return kindNone
}

// normKey writes key (at most 64 bytes) to buf as rule bodies compare key names:
// letters and digits only, lower case, trailing digits dropped (DB_PASSWORD2 and
// dbPassword compare as "dbpassword").
func normKey(buf *[64]byte, key []byte) []byte {
	n := 0
	for _, c := range key {
		if isAlnum(c) && n < len(buf) {
			buf[n] = lowerASCII(c)
			n++
		}
	}
	for n > 0 && isDigit(buf[n-1]) {
		n--
	}
	return buf[:n]
}

// passBoundary reports whether a key ending in "pass" (bar trailing digits and
// separators) has the "pass" as a word of its own: DB_PASS, dbPass, pass; not bypass.
func passBoundary(key []byte) bool {
	e := len(key)
	for e > 0 && !isLetter(key[e-1]) {
		e--
	}
	p := e - 4
	switch {
	case p < 0:
		return false
	case p == 0 || !isAlnum(key[p-1]):
		return true
	}
	return key[p] == 'P' && key[p-1] >= 'a' && key[p-1] <= 'z'
}

func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
func isKeyChar(c byte) bool { return isAlnum(c) || c == '_' || c == '-' || c == '.' }
func isQuote(c byte) bool   { return c == '"' || c == '\'' || c == '`' }
func isBlank(c byte) bool   { return c == ' ' || c == '\t' }
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

// isValueStop reports whether c ends an unquoted value.
func isValueStop(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '\f', '\v', '"', '\'', '`', ',', ';', ')', ']', '}', '<', '>', '&', '\\':
		return true
	}
	return false
}

func skipBlanks(in []byte, i int) int {
	for i < len(in) && isBlank(in[i]) {
		i++
	}
	return i
}

// assignment returns a Matcher for "key <op> value" where the key around the keyword
// hit is of the given kind: env files, YAML, JSON text, code, CLI flags and headers.
func assignment(want int) Matcher {
	return func(in []byte, ks, ke int) (int, int, bool) {
		return matchAssignment(in, ks, ke, want)
	}
}

// assignAt parses "key <op> value" around the keyword hit in[ks:ke] (env files,
// YAML, JSON text, code, --flags, headers) and returns the key, the value's span and
// whether the syntax was unambiguous (a quoted value, KEY=value or a --flag).
// subscript also takes a key written as an index, config["password"] = ….
func assignAt(in []byte, ks, ke int, subscript bool) (key []byte, vs, ve int, strong, ok bool) {
	kl, kr := ks, ke
	for kl > 0 && ks-kl <= 64 && isKeyChar(in[kl-1]) {
		kl--
	}
	for kr < len(in) && kr-ke <= 64 && isKeyChar(in[kr]) {
		kr++
	}
	if kl > 0 && isKeyChar(in[kl-1]) || kr < len(in) && isKeyChar(in[kr]) {
		return nil, 0, 0, false, false
	}
	key = in[kl:kr]
	flag := len(key) > 2 && key[0] == '-' && key[1] == '-'
	for len(key) > 0 && (key[len(key)-1] == '.' || key[len(key)-1] == '-') {
		key = key[:len(key)-1]
		kr--
	}
	i := kr
	// Closing quote of a quoted key: "key": or \"key\":
	if kl > 0 && i < len(in) && isQuote(in[kl-1]) && in[i] == in[kl-1] {
		i++
	} else if kl > 1 && in[kl-1] == '"' && in[kl-2] == '\\' && i+1 < len(in) && in[i] == '\\' && in[i+1] == '"' {
		i += 2
	}
	if subscript && i > kr && i < len(in) && in[i] == ']' {
		i++
	}
	j := skipBlanks(in, i)
	tight := false
	switch {
	case j+1 < len(in) && (in[j] == ':' && in[j+1] == '=' || in[j] == '=' && in[j+1] == '>'):
		j += 2
	case j < len(in) && in[j] == '=' && (j+1 == len(in) || in[j+1] != '='):
		tight = j == kr && j+1 < len(in) && !isBlank(in[j+1])
		j++
	case j < len(in) && in[j] == ':' && (j+1 == len(in) || in[j+1] != ':'):
		j++
	case flag && j > i && j < len(in):
	default:
		return nil, 0, 0, false, false
	}
	vs, ve, quoted, ok := value(in, skipBlanks(in, j))
	if !ok {
		return nil, 0, 0, false, false
	}
	return key, vs, ve, quoted || tight || flag, true
}

func matchAssignment(in []byte, ks, ke, want int) (int, int, bool) {
	key, vs, ve, strong, ok := assignAt(in, ks, ke, true)
	if !ok || keyKind(key) != want || !plausibleSecret(in[vs:ve], want, strong) {
		return 0, 0, false
	}
	return vs, ve, true
}

// value reads a quoted or bare value starting at in[i].
func value(in []byte, i int) (vs, ve int, quoted, ok bool) {
	if i >= len(in) {
		return 0, 0, false, false
	}
	c := in[i]
	if (c == 'b' || c == 'r' || c == 'u' || c == 'B' || c == 'R') && i+1 < len(in) && isQuote(in[i+1]) {
		i++
		c = in[i]
	}
	esc := false
	if c == '\\' && i+1 < len(in) && (in[i+1] == '"' || in[i+1] == '\'') {
		i++
		c = in[i]
		esc = true
	}
	if !isQuote(c) {
		j := i
		for j < len(in) && j-i <= maxBareValue && !isValueStop(in[j]) {
			if in[j] == '=' && j+1 < len(in) && in[j+1] != '=' && !isValueStop(in[j+1]) {
				break // key=value=... is a list of assignments, not one value
			}
			j++
		}
		return i, j, false, j > i && j-i <= maxBareValue
	}
	q := c
	vs = i + 1
	for j := vs; j < len(in) && j-vs <= maxValue; j++ {
		b := in[j]
		switch {
		case b == '\n' || b == '\r':
			return 0, 0, false, false
		case esc && b == '\\' && j+1 < len(in) && in[j+1] == q:
			return vs, j, true, j > vs
		case !esc && b == '\\':
			j++
		case !esc && b == q:
			return vs, j, true, j > vs
		}
	}
	return 0, 0, false, false
}

// plausibleSecret reports whether v, the value of a key of kind want, looks like a
// real secret. strong says the syntax is unambiguous (quoted, KEY=value, --flag);
// otherwise bare identifiers such as config.password or SecretStr are code, not data.
func plausibleSecret(v []byte, want int, strong bool) bool {
	minLen, minH := 8, math.Min(3.0, 0.75*math.Log2(float64(len(v))))
	if want == kindPassword {
		minLen, minH = 6, math.Min(2.5, 0.7*math.Log2(float64(len(v))))
	}
	if len(v) < minLen || len(v) > maxFieldValue {
		return false
	}
	for _, c := range v {
		if isSpace(c) || c < 0x20 || c == 0x7f {
			return false
		}
	}
	if isPlaceholder(v) || notSecretValue(v) {
		return false
	}
	if !strong && (identifierLike(v) || bytes.IndexByte(v, '(') >= 0 || bytes.IndexByte([]byte("!|>&*#{[@"), v[0]) >= 0) {
		return false
	}
	return entropy(v) >= minH
}

// stopwords are whole values (lower case) that are never secrets.
var stopwords = map[string]bool{
	"password": true, "passwd": true, "passphrase": true, "secret": true, "secrets": true,
	"changeme": true, "example": true, "test": true, "testing": true, "dummy": true,
	"null": true, "nil": true, "none": true, "true": true, "false": true, "yes": true,
	"no": true, "undefined": true, "empty": true, "string": true, "str": true,
	"required": true, "optional": true, "redacted": true, "hidden": true, "masked": true,
	"sample": true, "default": true, "admin": true, "root": true, "postgres": true,
	"mysql": true, "guest": true, "user": true, "username": true, "pass": true,
	"token": true, "apikey": true, "api_key": true, "api-key": true, "secretkey": true,
	"secret_key": true, "mypassword": true, "mysecret": true, "yourpassword": true,
	"hunter2": true, "letmein": true, "foobar": true, "qwerty": true, "123456": true,
	"12345678": true, "abc123": true, "value": true, "password1": true, "password123": true,
	"p@ssw0rd": true, "passw0rd": true, "s3cr3t": true, "topsecret": true, "notasecret": true,
	"mytoken": true, "access_token": true, "accesstoken": true, "client_secret": true,
	"private_key": true, "privatekey": true, "bearer": true, "boolean": true, "number": true,
	"integer": true, "object": true, "secretstr": true, "sensitive": true, "omitted": true,
	"unknown": true, "notset": true, "not_set": true, "unset": true, "disabled": true,
	"enabled": true, "localhost": true, "supersecret": true, "secretpassword": true,
}

// placeholderMarkers are substrings (lower case) that mark a value as a placeholder.
var placeholderMarkers = [][]byte{
	[]byte("example"), []byte("placeholder"), []byte("changeme"), []byte("change_me"),
	[]byte("change-me"), []byte("changethis"), []byte("your_"), []byte("your-"),
	[]byte("yourpass"), []byte("yoursecret"), []byte("yourkey"), []byte("yourtoken"),
	[]byte("yourapi"), []byte("xxxx"), []byte("redacted"), []byte("replace_"),
	[]byte("replaceme"), []byte("replace-"), []byte("insert_"), []byte("insert-"),
	[]byte("dummy"), []byte("notreal"), []byte("not_real"), []byte("not-real"),
	[]byte("_here"), []byte("-here"), []byte("todo"), []byte("fixme"),
	[]byte("process.env"), []byte("os.environ"), []byte("getenv"), []byte("secrets."),
	[]byte("vault:"), []byte("env("), []byte("env["),
}

var placeholderIndex = newMarkerIndex(placeholderMarkers)

// markerIndex finds whether a text holds one of a set of markers (byte strings of at
// least two bytes) in one pass: a bit set over a hash of their first two bytes says
// where one may start.
type markerIndex struct {
	pairs   [4096 / 64]uint64
	markers [][]byte
}

func pairIndex(a, b byte) uint { return uint((uint32(a)|uint32(b)<<8)*0x9E3779B1) >> 20 }

func newMarkerIndex(markers [][]byte) *markerIndex {
	x := &markerIndex{markers: markers}
	for _, m := range markers {
		if len(m) < 2 {
			continue // never built so: markers are literals of this package
		}
		p := pairIndex(m[0], m[1])
		x.pairs[p>>6] |= 1 << (p & 63)
	}
	return x
}

// in reports whether text holds one of the markers.
func (x *markerIndex) in(text []byte) bool {
	for i := 0; i+1 < len(text); i++ {
		p := pairIndex(text[i], text[i+1])
		if x.pairs[p>>6]&(1<<(p&63)) == 0 {
			continue
		}
		for _, m := range x.markers {
			if len(m) >= 2 && m[0] == text[i] && m[1] == text[i+1] && bytes.HasPrefix(text[i:], m) {
				return true
			}
		}
	}
	return false
}

// placeholderPunctLead marks the bytes placeholderPunct's markers are made of.
var placeholderPunctLead = func() (t [256]bool) {
	for _, m := range placeholderPunct {
		t[m[0]] = true
	}
	return t
}()

// placeholderPunct are the punctuation markers of template syntax and masks.
var placeholderPunct = [][]byte{
	[]byte("<"), []byte(">"), []byte("${"), []byte("{{"), []byte("}}"), []byte("%("),
	[]byte("%s"), []byte("#{"), []byte("****"), []byte("...."),
}

// lower returns b in ASCII lower case, in buf when it fits.
func lower(buf []byte, b []byte) []byte {
	out := buf[:0]
	if len(b) > cap(buf) {
		out = make([]byte, 0, len(b))
	}
	for _, c := range b {
		out = append(out, lowerASCII(c))
	}
	return out
}

// isPlaceholder reports whether v is a stand-in for a secret rather than one:
// documentation values, template variables, masks and well-known dummies.
func isPlaceholder(v []byte) bool {
	if len(v) == 0 {
		return true
	}
	var buf [256]byte
	low := lower(buf[:], v)
	if len(low) <= 32 && stopwords[string(low)] {
		return true
	}
	if placeholderIndex.in(low) {
		return true
	}
	if slices.ContainsFunc(low, func(c byte) bool { return placeholderPunctLead[c] }) {
		for _, m := range placeholderPunct {
			if bytes.Contains(low, m) {
				return true
			}
		}
	}
	switch {
	case v[0] == '$': // $VAR, $(cmd), $1
		return true
	case v[0] == '%' && v[len(v)-1] == '%': // %VAR%
		return true
	case v[0] == '{' && v[len(v)-1] == '}': // {token}
		return true
	case v[0] == '[' && v[len(v)-1] == ']':
		return true
	}
	// One repeated byte, or one repeated pair (abababab).
	for i := 2; i < len(v); i++ {
		if v[i] != v[i-2] {
			return false
		}
	}
	return true
}

// notSecretPrefixes start values that are identifiers or hashes, not secrets.
var notSecretPrefixes = []string{
	"sha1-", "sha256-", "sha384-", "sha512-", "h1:", "data:", "toolu_", "srvtoolu_",
	"call_", "msg_", "req_", "chatcmpl-", "resp_", "file-", "./", "../", "~/",
}

// fileExts end values that are file names.
var fileExts = []string{
	".txt", ".json", ".yaml", ".yml", ".pem", ".key", ".crt", ".env", ".cfg", ".conf",
	".ini", ".toml", ".p12", ".pfx", ".jks", ".gpg", ".asc", ".pub",
}

// notSecretValue reports values that are URLs, paths, numbers, hashes, ids or file
// names.
func notSecretValue(v []byte) bool {
	if bytes.Contains(v, []byte("://")) {
		return true
	}
	if v[0] == '/' || v[0] == '-' || len(v) > 2 && isAlnum(v[0]) && v[1] == ':' && (v[2] == '\\' || v[2] == '/') {
		return true
	}
	for _, p := range notSecretPrefixes {
		if hasPrefixFold(v, p) {
			return true
		}
	}
	for _, x := range fileExts {
		if len(v) > len(x) && hasPrefixFold(v[len(v)-len(x):], x) {
			return true
		}
	}
	numeric := true
	for _, c := range v {
		if !(isDigit(c) || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E' || c == '_' || c == ':') {
			numeric = false
			break
		}
	}
	return numeric
}

// identifierLike reports whether v reads as code rather than data: a dotted name
// (config.password), or a name without digits (SecretStr, None, getToken).
func identifierLike(v []byte) bool {
	if !(v[0] == '_' || v[0] == '$' || v[0] >= 'a' && v[0] <= 'z' || v[0] >= 'A' && v[0] <= 'Z') {
		return false
	}
	dot, digit := false, false
	for i, c := range v {
		switch {
		case c == '.':
			if i == 0 || v[i-1] == '.' || i == len(v)-1 {
				return false
			}
			dot = true
		case isDigit(c):
			digit = true
		case isAlnum(c) || c == '_' || c == '$':
		default:
			return false
		}
	}
	return dot || !digit
}

// field returns a FieldMatcher that takes a whole JSON member value as a secret when
// its key is of the given kind and the value looks like a real secret.
func field(want int) FieldMatcher {
	return func(key string, value []byte) (int, int, bool) {
		if keyKind([]byte(key)) != want {
			return 0, 0, false
		}
		s, e := 0, len(value)
		for s < e && isSpace(value[s]) {
			s++
		}
		for e > s && isSpace(value[e-1]) {
			e--
		}
		if !plausibleSecret(value[s:e], want, true) {
			return 0, 0, false
		}
		return s, e, true
	}
}
