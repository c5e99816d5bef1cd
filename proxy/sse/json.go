package sse

import (
	"bytes"
	"unicode/utf8"
)

// A small, allocation-free JSON scanner: just enough to walk the objects of an event's
// data, locate string literals by path and splice new literals in. It never recurses
// (nesting is skipped by counting brackets), so hostile input cannot exhaust the stack.

// skipWS returns the index of the first non-whitespace byte of b at or after i.
func skipWS(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skipString returns the index just past the string literal starting at b[i] == '"',
// or -1 if it is not closed.
func skipString(b []byte, i int) int {
	start := i + 1
	for i = start; ; i++ {
		j := bytes.IndexByte(b[i:], '"')
		if j < 0 {
			return -1
		}
		i += j
		k := i // the quote is escaped if an odd number of backslashes precede it
		for k > start && b[k-1] == '\\' {
			k--
		}
		if (i-k)%2 == 0 {
			return i + 1
		}
	}
}

// skipValue returns the index just past the JSON value starting at b[i], or -1. Only
// strings and bracket balance are checked; scalars are taken up to a delimiter.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				if i < 0 {
					return -1
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return -1
	case '}', ']', ',', ':':
		return -1
	}
	start := i
	for i < len(b) {
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
		i++
	}
	if i == start {
		return -1
	}
	return i
}

// members iterates the members of a JSON object.
type members struct {
	b      []byte
	i, n   int
	closed bool // the closing brace was reached
}

// object returns an iterator over the object starting at b[i], or false.
func object(b []byte, i int) (members, bool) {
	if i >= len(b) || b[i] != '{' {
		return members{}, false
	}
	return members{b: b, i: i + 1}, true
}

// next returns the next member: its raw key (between the quotes) and the span of its
// value. It returns false at the end of the object or on malformed input.
func (m *members) next() (key []byte, vs, ve int, ok bool) {
	b := m.b
	i := skipWS(b, m.i)
	if i >= len(b) || m.closed {
		return nil, 0, 0, false
	}
	if b[i] == '}' {
		m.i, m.closed = i+1, true
		return nil, 0, 0, false
	}
	if m.n > 0 {
		if b[i] != ',' {
			return nil, 0, 0, false
		}
		i = skipWS(b, i+1)
	}
	if i >= len(b) || b[i] != '"' {
		return nil, 0, 0, false
	}
	ke := skipString(b, i)
	if ke < 0 {
		return nil, 0, 0, false
	}
	key = b[i+1 : ke-1]
	i = skipWS(b, ke)
	if i >= len(b) || b[i] != ':' {
		return nil, 0, 0, false
	}
	vs = skipWS(b, i+1)
	ve = skipValue(b, vs)
	if ve < 0 {
		return nil, 0, 0, false
	}
	m.i, m.n = ve, m.n+1
	return key, vs, ve, true
}

// elements iterates the elements of a JSON array.
type elements struct {
	b    []byte
	i, n int
	done bool
}

// array returns an iterator over the array starting at b[i], or false.
func array(b []byte, i int) (elements, bool) {
	if i >= len(b) || b[i] != '[' {
		return elements{}, false
	}
	return elements{b: b, i: i + 1}, true
}

// next returns the span of the next element, or false at the end or on malformed input.
func (a *elements) next() (vs, ve int, ok bool) {
	b := a.b
	i := skipWS(b, a.i)
	if i >= len(b) || a.done || b[i] == ']' {
		a.done = true
		return 0, 0, false
	}
	if a.n > 0 {
		if b[i] != ',' {
			a.done = true
			return 0, 0, false
		}
		i = skipWS(b, i+1)
	}
	ve = skipValue(b, i)
	if ve < 0 {
		a.done = true
		return 0, 0, false
	}
	a.i, a.n = ve, a.n+1
	return i, ve, true
}

// isString reports whether the span holds a string literal.
func isString(b []byte, s span) bool { return s.ok() && b[s.s] == '"' && s.e-s.s >= 2 }

// span is a half-open byte range; the zero span means absent.
type span struct{ s, e int }

func (s span) ok() bool { return s.e > s.s }

// appendUnquoted appends the decoded content of a JSON string literal's body (the bytes
// between its quotes). Invalid escapes are kept as they are; a lone surrogate escape is
// kept as its WTF-8 encoding so that appendEscaped writes it back unchanged.
func appendUnquoted(dst, body []byte) []byte {
	for {
		i := bytes.IndexByte(body, '\\')
		if i < 0 {
			return append(dst, body...)
		}
		dst = append(dst, body[:i]...)
		body = body[i:]
		if len(body) < 2 {
			return append(dst, body...)
		}
		switch c := body[1]; c {
		case '"', '\\', '/':
			dst = append(dst, c)
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, ok := hex4(body[2:])
			if !ok {
				dst = append(dst, body[:2]...)
				break
			}
			n := 6
			if r >= 0xD800 && r < 0xDC00 && len(body) >= 12 && body[6] == '\\' && body[7] == 'u' {
				if lo, ok := hex4(body[8:]); ok && lo >= 0xDC00 && lo < 0xE000 {
					r = 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00)
					n = 12
				}
			}
			if r >= 0xD800 && r < 0xE000 { // lone surrogate: WTF-8
				dst = append(dst, 0xED, byte(0x80|(r>>6)&0x3F), byte(0x80|r&0x3F))
			} else {
				dst = utf8.AppendRune(dst, r)
			}
			body = body[n:]
			continue
		default:
			dst = append(dst, body[:2]...)
		}
		body = body[2:]
	}
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

const hexDigits = "0123456789abcdef"

// appendEscaped appends s escaped as the body of a JSON string literal: quote,
// backslash and control characters are escaped; <, >, & and non-ASCII are not. WTF-8
// surrogates (from appendUnquoted) are written back as \u escapes.
func appendEscaped(dst, s []byte) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c != 0xED {
			continue
		}
		if c == 0xED {
			if i+2 >= len(s) || s[i+1] < 0xA0 || s[i+1] > 0xBF || s[i+2]&0xC0 != 0x80 {
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
