package sse

import "bytes"

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
