package walk

import (
	"bytes"
	"encoding/binary"
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

// special reports whether any byte of the 8 in x is '"', '\\' or a control character.
// Each term is exact as a boolean.
func special(x uint64) bool {
	q := x ^ quote
	s := x ^ bslash
	return ((q-ones)&^q|(s-ones)&^s|(x-space)&^x)&highs != 0
}

// scanString validates the string literal whose content starts at b[i] and returns the
// index of its closing quote and whether it holds escape sequences.
func scanString(b []byte, i int) (end int, esc bool, err error) {
	for {
		for i+8 <= len(b) && !special(binary.LittleEndian.Uint64(b[i:])) {
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

// escapeAt decodes the escape sequence at raw[i] (raw[i] == '\\') of a validated
// literal and returns its raw length and decoded rune, decoding \u escapes like
// encoding/json: a valid surrogate pair is one rune, any other surrogate is U+FFFD.
func escapeAt(raw []byte, i int) (rawLen int, r rune) {
	switch c := raw[i+1]; c {
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
		r = hex4(raw, i+2)
		if r < 0xD800 || r > 0xDFFF {
			return 6, r
		}
		if r < 0xDC00 && i+12 <= len(raw) && raw[i+6] == '\\' && raw[i+7] == 'u' {
			if lo := hex4(raw, i+8); lo >= 0xDC00 && lo <= 0xDFFF {
				return 12, 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00)
			}
		}
		return 6, utf8.RuneError
	default: // '"', '\\', '/'
		return 2, rune(c)
	}
}

// unitAt returns the raw and decoded lengths of the unit at raw[i]: an escape
// sequence, or one byte.
func unitAt(raw []byte, i int) (rawLen, decLen int) {
	if raw[i] != '\\' {
		return 1, 1
	}
	rl, r := escapeAt(raw, i)
	return rl, utf8.RuneLen(r)
}

// unescape appends the decoded content of a validated literal to dst. Bytes that are
// not escapes, invalid UTF-8 included, are copied as they are.
func unescape(dst, raw []byte) []byte {
	for i := 0; i < len(raw); {
		j := bytes.IndexByte(raw[i:], '\\')
		if j < 0 {
			return append(dst, raw[i:]...)
		}
		dst = append(dst, raw[i:i+j]...)
		i += j
		rl, r := escapeAt(raw, i)
		dst = utf8.AppendRune(dst, r)
		i += rl
	}
	return dst
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

// needsEscape marks the bytes AppendEscaped escapes.
var needsEscape = func() (t [256]bool) {
	for c := 0; c < 0x20; c++ {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

// AppendEscaped appends s escaped as the content of a JSON string literal, without
// the quotes: '"' and '\\' get a backslash, control characters become \n, \r, \t, \b,
// \f or \u00XX. Everything else, '<', '>', '&', non-ASCII and invalid UTF-8 included,
// is copied as it is. Restore encodes restored literals with it; the SSE restorer uses
// it for values that land in JSON text carried in deltas.
func AppendEscaped(dst, s []byte) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !needsEscape[c] {
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
