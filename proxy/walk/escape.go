package walk

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"unicode/utf8"
)

// SWAR constants: one byte repeated eight times.
const (
	ones   = 0x0101010101010101
	highs  = 0x8080808080808080
	quote  = '"' * ones
	bslash = '\\' * ones
	space  = 0x20 * ones
)

// specialMask flags, in the high bit of each of the 8 bytes of x, the bytes that are
// '"', '\\' or a control character. Borrows can flag a byte above a match, never
// below one: the lowest flagged byte is always exact.
func specialMask(x uint64) uint64 {
	q := x ^ quote
	s := x ^ bslash
	return ((q-ones)&^q | (s-ones)&^s | (x-space)&^x) & highs
}

// scanString validates the string literal whose content starts at b[i] and returns the
// index of its closing quote and whether it holds escape sequences.
func scanString(b []byte, i int) (end int, esc bool, err error) {
	for {
		for i+8 <= len(b) {
			if m := specialMask(binary.LittleEndian.Uint64(b[i:])); m != 0 {
				i += bits.TrailingZeros64(m) >> 3 // the first special byte
				break
			}
			i += 8
		}
		if i >= len(b) {
			return i, esc, syntaxError(i)
		}
		switch c := b[i]; {
		case c == '"':
			return i, esc, nil
		case c == '\\':
			esc = true
			if i+1 >= len(b) {
				return i, esc, syntaxError(i)
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if hex4(b, i+2) < 0 {
					return i, esc, syntaxError(i)
				}
				i += 6
			default:
				return i, esc, syntaxError(i)
			}
		case c < 0x20:
			return i, esc, syntaxError(i)
		default:
			i++
		}
	}
}

// hex4 returns the value of the four hex digits at b[i:], or -1.
func hex4(b []byte, i int) rune {
	if i+4 > len(b) {
		return -1
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

// escapeAt decodes the escape sequence at raw[i] (raw[i] == '\\') and returns its raw
// length and decoded rune. \u escapes decode as in encoding/json, except that a
// surrogate that is not half of a valid pair comes back as itself (0xD800-0xDFFF).
// An invalid escape, or a backslash at the end of raw, gives r < 0 and the length of
// the raw bytes to keep: 1 for a final backslash, 2 otherwise.
func escapeAt(raw []byte, i int) (rawLen int, r rune) {
	if i+1 >= len(raw) {
		return 1, -1
	}
	switch c := raw[i+1]; c {
	case '"', '\\', '/':
		return 2, rune(c)
	case 'b':
		return 2, '\b'
	case 'f':
		return 2, '\f'
	case 'n':
		return 2, '\n'
	case 'r':
		return 2, '\r'
	case 't':
		return 2, '\t'
	case 'u':
		if r = hex4(raw, i+2); r < 0 {
			return 2, -1
		}
		if r >= 0xD800 && r < 0xDC00 && i+12 <= len(raw) && raw[i+6] == '\\' && raw[i+7] == 'u' {
			if lo := hex4(raw, i+8); lo >= 0xDC00 && lo <= 0xDFFF {
				return 12, 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00)
			}
		}
		return 6, r
	default:
		return 2, -1
	}
}

func isSurrogate(r rune) bool { return r >= 0xD800 && r <= 0xDFFF }

// unitAt returns the raw and decoded lengths of the unit at raw[i]: an escape
// sequence, or one byte. A lone surrogate counts 3 bytes, the length of both U+FFFD
// (unescape) and its WTF-8 encoding (AppendUnquoted).
func unitAt(raw []byte, i int) (rawLen, decLen int) {
	if raw[i] != '\\' {
		return 1, 1
	}
	rl, r := escapeAt(raw, i)
	switch {
	case r < 0:
		return rl, rl
	case isSurrogate(r):
		return rl, 3
	}
	return rl, utf8.RuneLen(r)
}

// unescape appends the decoded content of a literal to dst as encoding/json decodes
// it: a lone surrogate escape becomes U+FFFD. Bytes that are not escapes, invalid UTF-8
// included, are copied as they are. Redact, member names and Model use it.
func unescape(dst, raw []byte) []byte { return unquote(dst, raw, false, false) }

// AppendUnquoted appends to dst the decoded content of a JSON string literal, given as
// its body (the bytes between the quotes), and returns the extended slice. Escapes
// decode as in encoding/json, except that a \u escape of a surrogate that is not half
// of a valid pair decodes to that surrogate's 3-byte WTF-8 encoding (ED A0-BF 80-BF),
// which AppendEscaped writes back as the same escape: a literal re-encoded with
// AppendEscaped keeps its lone surrogates. So that such bytes only ever come from an
// escape, a raw surrogate encoding in body (invalid UTF-8 that decoders read as three
// replacement characters) decodes to three U+FFFD. Other bytes, other invalid UTF-8
// included, are copied as they are. body need not be valid: an invalid escape, or a
// backslash at the end, is kept as its raw bytes.
func AppendUnquoted(dst, body []byte) []byte { return unquote(dst, body, true, true) }

// unquote appends the decoded content of body to dst: a lone surrogate escape as
// U+FFFD, or in WTF-8 if wtf8; with fixRaw, each raw surrogate encoding as three
// U+FFFD. Invalid escapes are kept as their raw bytes.
func unquote(dst, body []byte, wtf8, fixRaw bool) []byte {
	raw := fixRaw && bytes.IndexByte(body, 0xED) >= 0 // may hold raw surrogate encodings
	for {
		j := bytes.IndexByte(body, '\\')
		if j < 0 {
			j = len(body)
		}
		if raw {
			dst = appendNoSurrogates(dst, body[:j])
		} else {
			dst = append(dst, body[:j]...)
		}
		if j == len(body) {
			return dst
		}
		n, r := escapeAt(body, j)
		switch {
		case r < 0:
			dst = append(dst, body[j:j+n]...)
		case r < utf8.RuneSelf:
			dst = append(dst, byte(r))
		case wtf8 && isSurrogate(r):
			dst = append(dst, 0xED, byte(0x80|(r>>6)&0x3F), byte(0x80|r&0x3F))
		default:
			dst = utf8.AppendRune(dst, r) // a surrogate becomes U+FFFD
		}
		body = body[j+n:]
	}
}

// isEncodedSurrogate reports whether s[i:] starts with the 3-byte encoding of a
// surrogate.
func isEncodedSurrogate(s []byte, i int) bool {
	return i+2 < len(s) && s[i] == 0xED && s[i+1] >= 0xA0 && s[i+1] <= 0xBF && s[i+2]&0xC0 == 0x80
}

// appendNoSurrogates appends s to dst with each 3-byte surrogate encoding replaced
// by three U+FFFD, one per byte, as UTF-8 decoders read it.
func appendNoSurrogates(dst, s []byte) []byte {
	for {
		j := bytes.IndexByte(s, 0xED)
		if j < 0 {
			return append(dst, s...)
		}
		if !isEncodedSurrogate(s, j) {
			dst = append(dst, s[:j+1]...)
			s = s[j+1:]
			continue
		}
		dst = append(dst, s[:j]...)
		dst = append(dst, "\uFFFD\uFFFD\uFFFD"...)
		s = s[j+3:]
	}
}

// mapSpans appends to dst the replacements reps, given in decoded coordinates of the
// literal content raw, as spans of the raw bytes offset by base. A bound inside the
// decoded bytes of one escape sequence widens the span to the whole sequence, so a
// span never cuts an escape. reps must be sorted and non-overlapping; the raw spans
// come out sorted and non-overlapping too.
func mapSpans(dst []Replacement, raw []byte, base int, reps []Replacement, esc bool) []Replacement {
	if !esc {
		for _, r := range reps {
			dst = append(dst, Replacement{Start: base + r.Start, End: base + r.End, With: r.With})
		}
		return dst
	}
	ri, d := 0, 0 // raw index and the decoded offset it starts
	for _, rp := range reps {
		// Skip the units that end at or before rp.Start.
		for ri < len(raw) && d < rp.Start {
			if raw[ri] != '\\' {
				n := plainRun(raw, ri)
				if d+n > rp.Start {
					n = rp.Start - d
				}
				ri, d = ri+n, d+n
				continue
			}
			rl, dl := unitAt(raw, ri)
			if d+dl > rp.Start {
				break
			}
			ri, d = ri+rl, d+dl
		}
		start := ri
		// Consume the units that start before rp.End.
		for ri < len(raw) && d < rp.End {
			if raw[ri] != '\\' {
				n := min(plainRun(raw, ri), rp.End-d)
				ri, d = ri+n, d+n
				continue
			}
			rl, dl := unitAt(raw, ri)
			ri, d = ri+rl, d+dl
		}
		dst = append(dst, Replacement{Start: base + start, End: base + ri, With: rp.With})
	}
	return dst
}

// plainRun returns the number of bytes from raw[i] to the next backslash or the end.
func plainRun(raw []byte, i int) int {
	if j := bytes.IndexByte(raw[i:], '\\'); j >= 0 {
		return j
	}
	return len(raw) - i
}

const hexDigits = "0123456789abcdef"

// needsEscape marks the bytes JSON requires escaped in a string literal.
var needsEscape = func() (t [256]bool) {
	for c := 0; c < 0x20; c++ {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

// escapeStop marks the bytes AppendEscaped stops at: those it must escape, and 0xED,
// which may start an encoded surrogate.
var escapeStop = func() [256]bool {
	t := needsEscape
	t[0xED] = true
	return t
}()

// AppendEscaped appends s escaped as the content of a JSON string literal, without
// the quotes, and returns the extended slice: '"' and '\\' get a backslash, control
// characters become \n, \r, \t, \b, \f or \u00XX, and the 3-byte WTF-8 encoding of a
// surrogate (ED A0-BF 80-BF, as AppendUnquoted decodes a lone surrogate escape) becomes
// that surrogate's \uXXXX escape, in lower case. Everything else, '<', '>', '&',
// non-ASCII and other invalid UTF-8 included, is copied as it is. Restore encodes
// restored literals with it; the SSE restorer uses it for delta strings and for values
// that land in JSON text carried in deltas.
func AppendEscaped(dst, s []byte) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !escapeStop[c] {
			continue
		}
		if c == 0xED {
			if !isEncodedSurrogate(s, i) {
				continue
			}
			r := 0xD000 | rune(s[i+1]&0x3F)<<6 | rune(s[i+2]&0x3F)
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', hexDigits[r>>12], hexDigits[r>>8&0xF], hexDigits[r>>4&0xF], hexDigits[r&0xF])
			i += 2
			start = i + 1
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
		}
		start = i + 1
	}
	return append(dst, s[start:]...)
}

// EscapesAlnum reports whether JSON text b may write an ASCII letter or digit as
// other than itself, at any level of JSON nested in its strings: whether it holds a
// \u escape of a letter, a digit or a backslash (which can start an escape in a
// string nested in a string). It errs towards true: a \u sequence that is itself
// escaped counts too. When it is false, each letter and digit of a string the walk
// decodes, nested or not, is a letter or digit of b as it is, and each run of them
// is a run of b.
func EscapesAlnum(b []byte) bool {
	for {
		i := bytes.Index(b, []byte(`\u00`))
		if i < 0 || i+6 > len(b) {
			return false
		}
		if r := hex4(b, i+2); r >= 0 && (r == '\\' || r < utf8.RuneSelf && isASCIIAlnum(byte(r))) {
			return true
		}
		b = b[i+1:]
	}
}

func isASCIIAlnum(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}
