package tokenize

import (
	"bytes"
	"errors"
)

// Token format
//
//	cloak_<class>_<id>
//
// class is 1 to 16 characters of [a-z0-9] naming the kind of secret (aws, github,
// privatekey, password, ...). id is 20 characters of lowercase base32 ([a-z2-7]),
// 100 bits of HMAC-SHA256 output over the secret value under the deployment key. A
// token is pure ASCII with no character that JSON, shells or URLs escape, so it lands
// in every context unchanged. The regular expression is Pattern.
const (
	// Prefix starts every token.
	Prefix = "cloak_"
	// IDLen is the number of base32 characters in a token id (100 bits).
	IDLen = 20
	// MaxClassLen is the longest class name.
	MaxClassLen = 16
	// MaxLen is the length of the longest possible token.
	MaxLen = len(Prefix) + MaxClassLen + 1 + IDLen
	// Pattern is a regular expression that matches exactly the tokens Find finds.
	Pattern = `cloak_[a-z0-9]{1,16}_[a-z2-7]{20}`
)

// ErrBadClass reports a class name outside [a-z0-9]{1,16}.
var ErrBadClass = errors.New("token class must be 1 to 16 characters of a-z and 0-9")

// Token is a parsed token.
type Token struct {
	Class string
	ID    string
}

// String formats the token.
func (t Token) String() string { return Prefix + t.Class + "_" + t.ID }

// ValidClass reports whether class can name a token class.
func ValidClass(class string) bool {
	if len(class) == 0 || len(class) > MaxClassLen {
		return false
	}
	for i := 0; i < len(class); i++ {
		if !isClassChar(class[i]) {
			return false
		}
	}
	return true
}

func isClassChar(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }
func isIDChar(c byte) bool    { return c >= 'a' && c <= 'z' || c >= '2' && c <= '7' }

// Parse parses s as exactly one token.
func Parse(s string) (Token, bool) {
	n, t := match([]byte(s))
	if n != len(s) {
		return Token{}, false
	}
	return t, true
}

// match returns the length and parts of the token at the start of b, or 0.
func match(b []byte) (int, Token) {
	if !bytes.HasPrefix(b, []byte(Prefix)) {
		return 0, Token{}
	}
	i := len(Prefix)
	start := i
	for i < len(b) && i-start < MaxClassLen && isClassChar(b[i]) {
		i++
	}
	if i == start || i >= len(b) || b[i] != '_' {
		return 0, Token{}
	}
	class := b[start:i]
	i++
	idStart := i
	for i < len(b) && i-idStart < IDLen && isIDChar(b[i]) {
		i++
	}
	if i-idStart != IDLen {
		return 0, Token{}
	}
	return i, Token{Class: string(class), ID: string(b[idStart:i])}
}

// Span locates one token in a text.
type Span struct {
	Start, End int
	Token      Token
}

// Find returns every token in text, in order, in one pass.
func Find(text []byte) []Span {
	var spans []Span
	off := 0
	for {
		i := bytes.Index(text[off:], []byte(Prefix))
		if i < 0 {
			return spans
		}
		at := off + i
		if n, t := match(text[at:]); n > 0 {
			spans = append(spans, Span{Start: at, End: at + n, Token: t})
			off = at + n
			continue
		}
		off = at + 1
	}
}

// Contains reports whether text may hold a token: a cheap check before Find.
func Contains(text []byte) bool { return bytes.Contains(text, []byte(Prefix)) }

// HoldBack returns the length of the longest suffix of text that is a proper prefix
// of a token and starts after the last whole token Find sees in text: the bytes a
// streaming restorer must hold back because the next chunk may complete them into a
// token. It is at most MaxLen-1.
func HoldBack(text []byte) int {
	after := 0
	if spans := Find(text); len(spans) > 0 {
		after = spans[len(spans)-1].End
	}
	return HoldBackAfter(text, after)
}

// HoldBackAfter is HoldBack for a caller that already knows where the last whole token
// in text ends (0 if none).
func HoldBackAfter(text []byte, after int) int {
	from := max(len(text)-(MaxLen-1), after, 0)
	for i := from; i < len(text); i++ {
		if text[i] == Prefix[0] && couldStart(text[i:]) {
			return len(text) - i
		}
	}
	return 0
}

// couldStart reports whether b is a proper prefix of some token.
func couldStart(b []byte) bool {
	if len(b) <= len(Prefix) {
		return bytes.HasPrefix([]byte(Prefix), b) && len(b) <= len(Prefix)
	}
	if !bytes.HasPrefix(b, []byte(Prefix)) {
		return false
	}
	rest := b[len(Prefix):]
	i := 0
	for i < len(rest) && i < MaxClassLen && isClassChar(rest[i]) {
		i++
	}
	if i == len(rest) {
		return true // class still growing
	}
	if i == 0 || rest[i] != '_' {
		return false
	}
	id := rest[i+1:]
	if len(id) >= IDLen {
		return false // long enough to be whole: Find decides
	}
	for _, c := range id {
		if !isIDChar(c) {
			return false
		}
	}
	return true
}
