package detect

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"hash/crc32"
	"strings"
)

// Offline validators of the extended catalog (rules_*.go). Each takes the secret a
// rule found and reports whether it has the structure its issuer gives it: a
// checksum, a base64 payload that decodes to what it must, a length in bytes. None
// allocates for inputs of ordinary size, none panics, and none keeps its input.

// maxDecoded bounds the decoded size of any base64 payload a validator looks into.
const maxDecoded = 16 << 10

// decodeB64 decodes standard or URL-safe base64, padded or not, into buf when it
// fits (else a new slice). ok is false for anything else.
func decodeB64(buf, src []byte) (out []byte, ok bool) {
	for len(src) > 0 && src[len(src)-1] == '=' {
		src = src[:len(src)-1]
	}
	if len(src) == 0 || len(src)%4 == 1 || len(src)/4*3 > maxDecoded {
		return nil, false
	}
	url, std := false, false
	for _, c := range src {
		switch {
		case isAlnum(c):
		case c == '-' || c == '_':
			url = true
		case c == '+' || c == '/':
			std = true
		default:
			return nil, false
		}
	}
	if url && std {
		return nil, false
	}
	enc := base64.RawStdEncoding
	if url {
		enc = base64.RawURLEncoding
	}
	n := enc.DecodedLen(len(src))
	if n > cap(buf) {
		buf = make([]byte, n)
	}
	m, err := enc.Decode(buf[:n], src)
	if err != nil {
		return nil, false
	}
	return buf[:m], true
}

// b64Bytes returns a Validate func accepting base64 (any alphabet, padded or not)
// that decodes to exactly n bytes.
func b64Bytes(n int) func([]byte) bool {
	return func(b []byte) bool {
		var buf [128]byte
		d, ok := decodeB64(buf[:0], b)
		return ok && len(d) == n
	}
}

// jsonObjectHas reports whether j is a JSON object (by its first byte) that names
// every one of keys as a member ("key" followed by a colon).
func jsonObjectHas(j []byte, keys ...string) bool {
	j = bytes.TrimSpace(j)
	if len(j) < 2 || j[0] != '{' {
		return false
	}
	for _, k := range keys {
		found := false
		for rest := j; !found; {
			i := bytes.Index(rest, []byte(`"`+k+`"`))
			if i < 0 {
				break
			}
			rest = bytes.TrimLeft(rest[i+len(k)+2:], " \t\r\n")
			found = len(rest) > 0 && rest[0] == ':'
		}
		if !found {
			return false
		}
	}
	return true
}

// b64JSON returns a Validate func for a token whose payload, after skip bytes of
// prefix and up to the first byte of stop (if any), is base64 of a well-formed JSON
// object naming every one of keys.
func b64JSON(skip int, stop string, keys ...string) func([]byte) bool {
	return func(b []byte) bool {
		if len(b) <= skip {
			return false
		}
		p := b[skip:]
		if stop != "" {
			if i := bytes.IndexAny(p, stop); i >= 0 {
				p = p[:i]
			}
		}
		var buf [1024]byte
		d, ok := decodeB64(buf[:0], p)
		return ok && json.Valid(d) && jsonObjectHas(d, keys...)
	}
}

// b64Prefix returns a Validate func for base64 that decodes to text starting with
// prefix and holding only printable ASCII.
func b64Prefix(prefix string) func([]byte) bool {
	return func(b []byte) bool {
		var buf [512]byte
		d, ok := decodeB64(buf[:0], b)
		if !ok || !bytes.HasPrefix(d, []byte(prefix)) || len(d) < len(prefix)+8 {
			return false
		}
		for _, c := range d {
			if c < 0x20 || c > 0x7e {
				return false
			}
		}
		return true
	}
}

// grafanaSATokenOK validates a Grafana service account token
// "glsa_<32 alnum>_<8 hex>": the hex is the little-endian CRC-32 (IEEE) of
// everything before the last underscore.
func grafanaSATokenOK(b []byte) bool {
	if len(b) != len("glsa_")+32+1+8 || !bytes.HasPrefix(b, []byte("glsa_")) || b[len(b)-9] != '_' {
		return false
	}
	sum := crc32.ChecksumIEEE(b[:len(b)-9])
	var le [4]byte
	le[0], le[1], le[2], le[3] = byte(sum), byte(sum>>8), byte(sum>>16), byte(sum>>24)
	var want [8]byte
	hex.Encode(want[:], le[:])
	return bytes.Equal(b[len(b)-8:], want[:])
}

// grafanaSAToken returns a fake Grafana service account token with a valid checksum.
func grafanaSAToken(seed string) string { return grafanaSATokenFor(fake(seed, csAlnum, 32)) }

// grafanaSATokenFor returns the Grafana service account token for 32 random
// characters, checksum included.
func grafanaSATokenFor(random string) string {
	body := "glsa_" + random
	sum := crc32.ChecksumIEEE([]byte(body))
	return body + "_" + hex.EncodeToString([]byte{byte(sum), byte(sum >> 8), byte(sum >> 16), byte(sum >> 24)})
}

// bech32Charset is the data alphabet of bech32 (BIP 173).
const bech32Charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"

var bech32Rev = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i := 0; i < len(bech32Charset); i++ {
		c := bech32Charset[i]
		t[c] = int8(i)
		if c >= 'a' && c <= 'z' {
			t[c-'a'+'A'] = int8(i)
		}
	}
	return t
}()

func bech32Polymod(v uint32, d byte) uint32 {
	gen := [5]uint32{0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3}
	top := v >> 25
	v = (v&0x1ffffff)<<5 ^ uint32(d)
	for i := 0; i < 5; i++ {
		if top>>i&1 == 1 {
			v ^= gen[i]
		}
	}
	return v
}

// bech32OK reports whether s is a bech32 string (BIP 173 checksum, any length, one
// case) whose human-readable part equals hrp, ignoring case.
func bech32OK(s []byte, hrp string) bool {
	sep := bytes.LastIndexByte(s, '1')
	if sep != len(hrp) || len(s)-sep-1 < 6 || !hasPrefixFold(s, hrp) {
		return false
	}
	hasLo, hasUp := false, false
	for _, c := range s {
		hasLo = hasLo || c >= 'a' && c <= 'z'
		hasUp = hasUp || c >= 'A' && c <= 'Z'
	}
	if hasLo && hasUp {
		return false
	}
	v := uint32(1)
	for i := 0; i < sep; i++ {
		v = bech32Polymod(v, lowerASCII(s[i])>>5)
	}
	v = bech32Polymod(v, 0)
	for i := 0; i < sep; i++ {
		v = bech32Polymod(v, lowerASCII(s[i])&31)
	}
	for _, c := range s[sep+1:] {
		d := bech32Rev[c]
		if d < 0 {
			return false
		}
		v = bech32Polymod(v, byte(d))
	}
	return v == 1
}

// bech32Encode returns hrp, "1", data (5-bit groups) and the checksum, for fixtures.
func bech32Encode(hrp string, data []byte) string {
	v := uint32(1)
	for i := 0; i < len(hrp); i++ {
		v = bech32Polymod(v, hrp[i]>>5)
	}
	v = bech32Polymod(v, 0)
	for i := 0; i < len(hrp); i++ {
		v = bech32Polymod(v, hrp[i]&31)
	}
	var b strings.Builder
	b.WriteString(hrp + "1")
	for _, d := range data {
		v = bech32Polymod(v, d)
		b.WriteByte(bech32Charset[d])
	}
	for i := 0; i < 6; i++ {
		v = bech32Polymod(v, 0)
	}
	v ^= 1
	for i := 0; i < 6; i++ {
		b.WriteByte(bech32Charset[(v>>(5*(5-i)))&31])
	}
	return b.String()
}

// ageSecretKeyOK validates an age X25519 identity: bech32 with the human-readable
// part "age-secret-key-" and 32 bytes of data (52 five-bit groups).
func ageSecretKeyOK(b []byte) bool {
	const hrp = "age-secret-key-"
	return len(b) == len(hrp)+1+52+6 && bech32OK(b, hrp)
}

// fakeAgeKey returns a fake age identity with a valid checksum, upper case as age
// prints it.
func fakeAgeKey(seed string) string {
	data := make([]byte, 52)
	for i, c := range fake(seed, bech32Charset, 52) {
		data[i] = byte(strings.IndexRune(bech32Charset, c))
	}
	return strings.ToUpper(bech32Encode("age-secret-key-", data))
}

// pemB64OK reports whether b is base64 of a PEM private key block that the
// private-key rule accepts (kubeconfig client-key-data, base64 secrets in CI).
func pemB64OK(b []byte) bool {
	var buf [4096]byte
	d, ok := decodeB64(buf[:0], b)
	if !ok || !bytes.HasPrefix(d, []byte("-----BEGIN")) {
		return false
	}
	_, _, ok = matchPEM(d, 0, len("-----BEGIN"))
	return ok
}

// jwtB64OK reports whether b is base64 of a JWT with an alg header.
func jwtB64OK(b []byte) bool {
	var buf [2048]byte
	d, ok := decodeB64(buf[:0], b)
	if !ok || !bytes.HasPrefix(d, []byte("eyJ")) {
		return false
	}
	_, e, ok := matchJWT(d, 0, 3)
	return ok && e == len(bytes.TrimRight(d, "\r\n"))
}

// discordBotTokenOK validates a Discord bot token "<base64 id>.<6>.<hmac>": the first
// part decodes to a decimal snowflake of 17 to 20 digits.
func discordBotTokenOK(b []byte) bool {
	i := bytes.IndexByte(b, '.')
	if i <= 0 {
		return false
	}
	var buf [32]byte
	d, ok := decodeB64(buf[:0], b[:i])
	if !ok || len(d) < 17 || len(d) > 20 || d[0] == '0' {
		return false
	}
	for _, c := range d {
		if !isDigit(c) {
			return false
		}
	}
	return true
}

// laravelKeyOK validates a Laravel APP_KEY "base64:<key>": 16 or 32 key bytes.
func laravelKeyOK(b []byte) bool {
	if !bytes.HasPrefix(b, []byte("base64:")) {
		return false
	}
	var buf [64]byte
	d, ok := decodeB64(buf[:0], b[len("base64:"):])
	return ok && (len(d) == 16 || len(d) == 32)
}

// printableB64OK reports whether b is base64 of at least 6 bytes of printable ASCII
// that is not a placeholder (an .npmrc _password).
func printableB64OK(b []byte) bool {
	var buf [512]byte
	d, ok := decodeB64(buf[:0], b)
	if !ok || len(d) < 6 {
		return false
	}
	for _, c := range d {
		if c < 0x21 || c > 0x7e {
			return false
		}
	}
	return !isPlaceholder(d)
}

// mixedCase reports whether the last n bytes of b hold a lower case letter, an
// upper case letter and a digit: random base62, not a word or an identifier.
func mixedCase(n int) func([]byte) bool {
	return func(b []byte) bool {
		if len(b) < n {
			return false
		}
		var lo, up, dg bool
		for _, c := range b[len(b)-n:] {
			lo = lo || c >= 'a' && c <= 'z'
			up = up || c >= 'A' && c <= 'Z'
			dg = dg || isDigit(c)
		}
		return lo && up && dg
	}
}

// hasDigitAndLetter reports whether b has both a digit and a letter (hex that is not
// all digits or all letters).
func hasDigitAndLetter(b []byte) bool {
	var l, d bool
	for _, c := range b {
		l = l || isLetter(c)
		d = d || isDigit(c)
	}
	return l && d
}
