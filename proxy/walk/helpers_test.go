package walk

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unsafe"
)

// sameSlice reports whether a and b share their first byte (Redact and Restore
// return the body itself when nothing changes).
func sameSlice(a, b []byte) bool {
	return len(a) == len(b) && unsafe.SliceData(a) == unsafe.SliceData(b)
}

// secretsRedactor replaces every occurrence of each secret with its token, and
// records the strings and fields it was given.
type secretsRedactor struct {
	secrets []string
	tokens  map[string]string // secret -> token
	seen    []string
	fields  []Field
}

func newSecretsRedactor(secrets ...string) *secretsRedactor {
	r := &secretsRedactor{secrets: secrets, tokens: map[string]string{}}
	for i, s := range secrets {
		r.tokens[s] = fmt.Sprintf("cloak_test_%s%c", strings.Repeat("a", 19), 'a'+i)
	}
	return r
}

func (r *secretsRedactor) fn(f Field, s []byte) ([]Replacement, error) {
	r.seen = append(r.seen, string(s))
	r.fields = append(r.fields, f)
	var reps []Replacement
	for i := 0; i < len(s); {
		found := false
		for _, sec := range r.secrets {
			if bytes.HasPrefix(s[i:], []byte(sec)) {
				reps = append(reps, Replacement{Start: i, End: i + len(sec), With: r.tokens[sec]})
				i += len(sec)
				found = true
				break
			}
		}
		if !found {
			i++
		}
	}
	return reps, nil
}

// restore is the inverse of fn.
func (r *secretsRedactor) restore(_ Field, s []byte) []byte {
	out := s
	for sec, tok := range r.tokens {
		out = bytes.ReplaceAll(out, []byte(tok), []byte(sec))
	}
	if bytes.Equal(out, s) {
		return nil
	}
	return out
}

// segment is a piece of raw JSON: a string literal (quotes included) or the bytes
// between two literals.
type segment struct {
	raw   []byte
	isStr bool
	isKey bool
}

// segments splits valid JSON into literals and the bytes between them.
func segments(b []byte) []segment {
	var out []segment
	last := 0
	for i := 0; i < len(b); i++ {
		if b[i] != '"' {
			continue
		}
		if i > last {
			out = append(out, segment{raw: b[last:i]})
		}
		j := i + 1
		for b[j] != '"' {
			if b[j] == '\\' {
				j++
			}
			j++
		}
		k := skipWS(b, j+1)
		out = append(out, segment{raw: b[i : j+1], isStr: true, isKey: k < len(b) && b[k] == ':'})
		i, last = j, j+1
	}
	if last < len(b) {
		out = append(out, segment{raw: b[last:]})
	}
	return out
}

// checkFidelity fails unless out differs from in only inside string literals, values
// and member names, a name staying a name. changed is called with each changed
// literal's original decoded content and reports whether it may have changed.
func checkFidelity(t *testing.T, in, out []byte, changed func(orig string) bool) {
	t.Helper()
	a, b := segments(in), segments(out)
	if len(a) != len(b) {
		t.Fatalf("got %d segments, want %d", len(b), len(a))
	}
	for i := range a {
		if bytes.Equal(a[i].raw, b[i].raw) {
			continue
		}
		if !a[i].isStr || !b[i].isStr || a[i].isKey != b[i].isKey {
			t.Fatalf("segment %d changed outside a string value: got %q, want %q", i, b[i].raw, a[i].raw)
		}
		var orig string
		if err := json.Unmarshal(a[i].raw, &orig); err != nil {
			t.Fatalf("segment %d: %v", i, err)
		}
		if changed != nil && !changed(orig) {
			t.Fatalf("segment %d changed but should not have: got %q, want %q", i, b[i].raw, a[i].raw)
		}
	}
}

// normalize decodes a JSON document, expanding string values that hold JSON text, so
// that two documents compare equal when they differ only in escape style, including
// the escape style of nested documents.
func normalize(t *testing.T, b []byte) any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("decode: %v", err)
	}
	return expand(v, 0)
}

type nestedDoc struct{ v any }

func expand(v any, depth int) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = expand(e, depth)
		}
	case []any:
		for i, e := range x {
			x[i] = expand(e, depth)
		}
	case string:
		if depth < 8 && looksJSON([]byte(x)) && json.Valid([]byte(x)) {
			d := json.NewDecoder(strings.NewReader(x))
			d.UseNumber()
			var inner any
			if d.Decode(&inner) == nil {
				return nestedDoc{expand(inner, depth+1)}
			}
		}
	}
	return v
}

func equalDocs(t *testing.T, got, want []byte) {
	t.Helper()
	if g, w := normalize(t, got), normalize(t, want); !reflect.DeepEqual(g, w) {
		t.Fatalf("documents differ:\ngot  %s\nwant %s", got, want)
	}
}

// allStrings returns every decoded string value of a document, nested documents
// expanded, member names included.
func allStrings(t *testing.T, b []byte) []string {
	t.Helper()
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				out = append(out, k)
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		case nestedDoc:
			walk(x.v)
		case string:
			out = append(out, x)
		}
	}
	walk(normalize(t, b))
	return out
}
