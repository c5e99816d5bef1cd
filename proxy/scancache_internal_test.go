package proxy

import (
	"bytes"
	"testing"
)

// A key covers the bytes, the member name, the media type, the domain and whether
// the string is a name, each apart: moving bytes from one to the next changes it.
// A memo gives the key of the very slice it hashed and no other.
func TestScanKey(t *testing.T) {
	c := newScanCache(16)
	type in struct {
		domain   byte
		name, mt string
		isName   bool
		s        string
	}
	ins := []in{
		{domainClean, "ab", "", false, "x"},
		{domainClean, "a", "b", false, "x"},
		{domainClean, "", "ab", false, "x"},
		{domainClean, "a", "", false, "bx"},
		{domainClean, "", "", false, "abx"},
		{domainClean, "ab", "", true, "x"},
		{domainDecoded, "ab", "", false, "x"},
		{domainLiteral, "ab", "", false, "x"},
		{domainClean, "ab", "", false, "x\x00"},
	}
	seen := map[scanKey]int{}
	for i, x := range ins {
		k := c.key(x.domain, x.name, x.mt, x.isName, []byte(x.s))
		if j, ok := seen[k]; ok {
			t.Fatalf("inputs %d and %d have the same key", j, i)
		}
		seen[k] = i
		if again := c.key(x.domain, x.name, x.mt, x.isName, []byte(x.s)); again != k {
			t.Fatalf("input %d: two keys", i)
		}
	}
	body := []byte("0123456789 0123456789")
	var m hashMemo
	h := m.set(c, body[:10])
	want := h.key(domainClean, "k", "", false)
	if got := m.of(c, body[:10]).key(domainClean, "k", "", false); got != want {
		t.Fatal("the memo's own slice got another key")
	}
	if got := m.of(c, body[11:]).key(domainClean, "k", "", false); got != want {
		t.Fatal("equal bytes elsewhere got another key")
	}
	if m.literal(body[:10]) != &m.h || m.literal(body[11:]) != nil || m.literal(body[:9]) != nil {
		t.Fatal("literal answered for another slice, or not for its own")
	}
	if m.of(c, body[:9]) == &m.h || m.of(c, body[11:]) == &m.h || m.of(c, bytes.Clone(body[:10])) == &m.h {
		t.Fatal("the memo answered for another slice")
	}
	if other := m.of(c, body[1:11]).key(domainClean, "k", "", false); other == want {
		t.Fatal("other bytes got the memo's key")
	}
}
