package detect

import (
	"bytes"
	"encoding/base64"
	"hash/crc32"
	"math"
	"math/bits"
)

// cLog2C[c] is c*log2(c), for the byte counts of short strings.
var cLog2C = func() (t [257]float64) {
	for c := 2; c < len(t); c++ {
		t[c] = float64(c) * math.Log2(float64(c))
	}
	return t
}()

// entropy returns the Shannon entropy of b in bits per byte:
// log2(n) - sum(c*log2(c))/n over the byte counts c.
func entropy(b []byte) float64 {
	if len(b) == 0 {
		return 0
	}
	if len(b) < len(log2N) {
		return entropyShort(b)
	}
	var counts [256]uint32
	var seen [4]uint64 // the byte values present, to visit only those, in order
	for _, c := range b {
		counts[c]++
		seen[c>>6] |= 1 << (c & 63)
	}
	sum := 0.0
	for w, bitsW := range seen {
		for ; bitsW != 0; bitsW &= bitsW - 1 {
			k := counts[w<<6|bits.TrailingZeros64(bitsW)]
			if k < 2 {
				continue // 1*log2(1) is 0: adding it changes nothing
			}
			if k < uint32(len(cLog2C)) {
				sum += cLog2C[k]
			} else {
				sum += float64(k) * math.Log2(float64(k))
			}
		}
	}
	n := float64(len(b))
	return math.Max(0, math.Log2(n)-sum/n)
}

// log2N[n] is log2(n), for the lengths of short strings.
var log2N = func() (t [256]float64) {
	for n := 1; n < len(t); n++ {
		t[n] = math.Log2(float64(n))
	}
	return t
}()

// entropyShort is entropy for 1 to 255 bytes, whose counts fit a byte: the same
// sums in the same order, with a smaller table to clear.
func entropyShort(b []byte) float64 {
	var counts [256]uint8
	var seen [4]uint64
	for _, c := range b {
		counts[c]++
		seen[c>>6] |= 1 << (c & 63)
	}
	sum := 0.0
	for w, bitsW := range seen {
		for ; bitsW != 0; bitsW &= bitsW - 1 {
			if k := counts[w<<6|bits.TrailingZeros64(bitsW)]; k >= 2 {
				sum += cLog2C[k]
			}
		}
	}
	n := float64(len(b))
	return math.Max(0, log2N[len(b)]-sum/n)
}

// exampleMarkers are substrings (lower case) that mark a value as documentation or a
// placeholder whatever rule found it. Each is long or odd enough that a random token
// holds it by chance with negligible probability.
var exampleMarkers = [][]byte{
	[]byte("example"), []byte("*****"), []byte("placeholder"),
	[]byte("your_"), []byte("your-"), []byte("<your"), []byte("${"), []byte("{{"),
}

var exampleIndex = newMarkerIndex(exampleMarkers)

// xRun is the run of x (any case) that marks a placeholder (sk-xxxxxxxx) anywhere in a
// secret. A shorter run of 5 or more counts only where it is a good part of a short
// secret: random base64 holds "xXxxX" often enough (once in about 200,000 keys) that
// a real private key must not be taken for an example because of it.
const xRun = 8

// looksExample reports whether a secret found by any rule is a documentation example
// or a placeholder.
func looksExample(b []byte) bool {
	var buf [256]byte
	low := lower(buf[:], b)
	if exampleIndex.in(low) {
		return true
	}
	run, longest := 0, 0
	for _, c := range low {
		if c == 'x' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return longest >= xRun || longest >= 5 && 4*longest >= len(b)
}

// hasPrefixFold reports whether b starts with the lowercase ASCII string p, ignoring
// the case of b.
func hasPrefixFold(b []byte, p string) bool {
	if len(b) < len(p) {
		return false
	}
	for j := 0; j < len(p); j++ {
		if lowerASCII(b[j]) != p[j] {
			return false
		}
	}
	return true
}

// equalFold reports whether b equals the lowercase ASCII string s, ignoring case.
func equalFold(b []byte, s string) bool { return len(b) == len(s) && hasPrefixFold(b, s) }

const base62Digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// base62CRC returns the 6-character base62 CRC-32 (IEEE) checksum of b, zero-padded,
// as GitHub appends to its tokens.
func base62CRC(b []byte) [6]byte {
	v := crc32.ChecksumIEEE(b)
	var out [6]byte
	for i := 5; i >= 0; i-- {
		out[i] = base62Digits[v%62]
		v /= 62
	}
	return out
}

// GitHubChecksum returns the six characters GitHub appends to the 30 random
// characters of a classic token (ghp_, gho_, ghu_, ghs_, ghr_): their CRC-32 in
// base62. Scanners use it to tell real tokens from look-alikes; tests use it to
// build tokens the catalog accepts.
func GitHubChecksum(random string) string {
	sum := base62CRC([]byte(random))
	return string(sum[:])
}

// githubChecksumOK validates a GitHub token "<prefix>_<30 random><6 checksum>": the
// checksum is the base62 CRC-32 of the random part.
func githubChecksumOK(tok []byte) bool {
	i := bytes.IndexByte(tok, '_')
	if i < 0 || len(tok)-i-1 != 36 {
		return false
	}
	body := tok[i+1:]
	sum := base62CRC(body[:30])
	return bytes.Equal(body[30:], sum[:])
}

// jwtOK reports whether tok is header.payload.signature with a header that decodes to
// a JSON object naming an "alg".
func jwtOK(tok []byte) bool {
	i := bytes.IndexByte(tok, '.')
	if i <= 0 || i > 2048 {
		return false
	}
	var buf [1536]byte
	h := tok[:i]
	n := base64.RawURLEncoding.DecodedLen(len(h))
	if n > len(buf) {
		return false
	}
	m, err := base64.RawURLEncoding.Decode(buf[:n], h)
	if err != nil {
		return false
	}
	hdr := bytes.TrimSpace(buf[:m])
	return len(hdr) > 0 && hdr[0] == '{' && bytes.Contains(hdr, []byte(`"alg"`))
}

// basicAuthOK reports whether b is base64 of printable "user:password".
func basicAuthOK(b []byte) bool {
	var buf [512]byte
	n := base64.StdEncoding.DecodedLen(len(b))
	if n > len(buf) {
		return false
	}
	m, err := base64.StdEncoding.Decode(buf[:n], b)
	if err != nil {
		return false
	}
	dec := buf[:m]
	colon := bytes.IndexByte(dec, ':')
	if colon < 0 || colon == len(dec)-1 {
		return false
	}
	for _, c := range dec {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	pw := dec[colon+1:]
	return !isPlaceholder(pw)
}

// charClasses counts which of lower, upper, digit and other bytes b has.
func charClasses(b []byte) int {
	var lo, up, dg, ot int
	for _, c := range b {
		switch {
		case c >= 'a' && c <= 'z':
			lo = 1
		case c >= 'A' && c <= 'Z':
			up = 1
		case c >= '0' && c <= '9':
			dg = 1
		default:
			ot = 1
		}
	}
	return lo + up + dg + ot
}

func lowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
