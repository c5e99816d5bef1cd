package walk

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestRawSpan(t *testing.T) {
	tests := []struct {
		name       string
		raw        string
		start, end int
		want       [2]int
	}{
		{"no escapes", `abcdef`, 1, 4, [2]int{1, 4}},
		{"after an escape", `a\nbcd`, 2, 4, [2]int{3, 5}},
		{"covering an escape", `a\nb`, 0, 3, [2]int{0, 4}},
		{"just the escape", `a\nb`, 1, 2, [2]int{1, 3}},
		{"unicode escape, whole", `x\u00e9y`, 1, 3, [2]int{1, 7}},
		{"start inside a unicode escape", `x\u00e9y`, 2, 4, [2]int{1, 8}},
		{"end inside a unicode escape", `x\u00e9y`, 0, 2, [2]int{0, 7}},
		{"surrogate pair", `a\ud83d\ude00b`, 1, 5, [2]int{1, 13}},
		{"inside a surrogate pair", `a\ud83d\ude00b`, 2, 3, [2]int{1, 13}},
		{"after a surrogate pair", `a\ud83d\ude00bc`, 5, 7, [2]int{13, 15}},
		{"lone surrogate counts 3 bytes", `\ud800abc`, 3, 6, [2]int{6, 9}},
		{"escaped quote and slash", `\"\/ab`, 2, 4, [2]int{4, 6}},
		{"invalid escape counts as itself", `\qab`, 2, 4, [2]int{2, 4}},
		{"final backslash", `ab\`, 2, 3, [2]int{2, 3}},
		{"empty span at a boundary", `a\nb`, 2, 2, [2]int{3, 3}},
		{"empty span inside an escape", `\u00e9`, 1, 1, [2]int{0, 6}},
		{"clamped past the end", `a\nb`, 2, 99, [2]int{3, 4}},
		{"clamped before the start", `a\nb`, -5, 1, [2]int{0, 1}},
		{"end before start", `a\nb`, 3, 1, [2]int{4, 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, e := RawSpan([]byte(tt.raw), tt.start, tt.end)
			if got := [2]int{s, e}; got != tt.want {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// visited is one call of a Visit callback.
type visited struct {
	Field Field
	S     string
}

// collectVisit returns what Visit passes to its callback, and checks each
// Location: decoding the raw span once per level gives the string back.
func collectVisit(t *testing.T, body []byte) []visited {
	t.Helper()
	var got []visited
	err := Visit(body, func(f Field, s []byte, loc Location) error {
		got = append(got, visited{f, string(s)})
		checkLocation(t, body, s, loc)
		return nil
	})
	if err != nil {
		t.Fatalf("Visit: %v", err)
	}
	return got
}

// checkLocation checks that loc.Raw maps the whole string s, and each word run in
// it, to raw bytes that decode (once per nesting level) to the same bytes, and that
// the string's raw span lies in loc.Literal.
func checkLocation(t *testing.T, body, s []byte, loc Location) {
	t.Helper()
	ls, le := loc.Literal()
	if ls < 0 || le > len(body) || ls > le {
		t.Fatalf("Literal() = [%d,%d), out of a %d-byte body", ls, le, len(body))
	}
	if ls == 0 || body[ls-1] != '"' || le >= len(body) || body[le] != '"' {
		t.Fatalf("Literal() = [%d,%d) is not between quotes in %q", ls, le, body)
	}
	spans := append(runs(s), [2]int{0, len(s)})
	for _, sp := range spans {
		rs, re := loc.Raw(sp[0], sp[1])
		if rs < ls || re > le || rs > re {
			t.Fatalf("Raw(%d,%d) = [%d,%d), outside the literal [%d,%d)", sp[0], sp[1], rs, re, ls, le)
		}
		got := body[rs:re]
		for range loc.levels {
			got = unescape(nil, got)
		}
		if want := s[sp[0]:sp[1]]; !bytes.Equal(got, want) {
			t.Fatalf("Raw(%d,%d) = %q, decodes to %q, want %q", sp[0], sp[1], body[rs:re], got, want)
		}
	}
}

// collectRedact returns what Redact passes to its callback when it replaces nothing.
func collectRedact(t *testing.T, body []byte) []visited {
	t.Helper()
	var got []visited
	_, err := Redact(body, func(f Field, s []byte) ([]Replacement, error) {
		got = append(got, visited{f, string(s)})
		return nil, nil
	})
	if err != nil {
		t.Fatalf("Redact: %v", err)
	}
	return got
}

func TestVisitSeesWhatRedactSees(t *testing.T) {
	files, err := filepath.Glob("testdata/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	bodies := map[string][]byte{
		"escapes":        []byte(`{"a":"x\u00e9\n\/y","b\u0062":"\ud83d\ude00 abc \ud800 def"}`),
		"nested":         []byte(`{"arguments":"{\"cmd\":\"a\\nSECRET\\u00311\\\"\",\"x\":\"\u0053ECRET11\"}"}`),
		"nested twice":   []byte(`{"a":"{\"b\":\"{\\\"c\\\":\\\"d\\\\ne abc\\\"}\"}"}`),
		"skipped values": []byte(`[{"type":"thinking","thinking":"abc"},{"source":{"type":"base64","media_type":"image/png","data":"abcd"}},{"t":"abc"}]`),
		"text media":     []byte(`{"inlineData":{"mimeType":"text/plain","data":"YWJjZGVm"},"url":"data:text/plain;base64,YWJj"}`),
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		bodies[filepath.Base(f)] = b
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			got, want := collectVisit(t, body), collectRedact(t, body)
			if len(want) == 0 {
				t.Fatal("Redact saw no string: the test checks nothing")
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("Visit saw\n%v\nwant what Redact saw\n%v", got, want)
			}
		})
	}
}

func TestVisitLocations(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		secret string // decoded, in the string at path
		path   string
		want   string // the raw bytes of body that Raw gives
	}{
		{"plain", `{"k":"x SECRET1 y"}`, "SECRET1", "k", "SECRET1"},
		{"escape inside the secret", `{"k":"x SE\u0043RET1 y"}`, "SECRET1", "k", `SE\u0043RET1`},
		{"escapes before the secret", `{"k":"\n\t\u00e9\ud83d\ude00SECRET1"}`, "SECRET1", "k", "SECRET1"},
		{"secret with a newline", `{"k":"a\nb"}`, "a\nb", "k", `a\nb`},
		{"member name", `{"env":{"SECRET1":"v"}}`, "SECRET1", "env", "SECRET1"},
		{"tool arguments", `{"arguments":"{\"cmd\":\"echo SECRET1\"}"}`, "SECRET1", "arguments#.cmd", "SECRET1"},
		{"escape in tool arguments", `{"arguments":"{\"cmd\":\"a\\nSECRET1\"}"}`, "a\nSECRET1", "arguments#.cmd", `a\\nSECRET1`},
		{"outer escape in tool arguments", `{"arguments":"{\"cmd\":\"SE\u0043RET1\"}"}`, "SECRET1", "arguments#.cmd", `SE\u0043RET1`},
		{"two levels", `{"a":"{\"b\":\"{\\\"c\\\":\\\"x\\\\nSECRET1\\\"}\"}"}`, "SECRET1", "a#.b#.c", "SECRET1"},
		{"two levels, escape in the secret", `{"a":"{\"b\":\"{\\\"c\\\":\\\"SECRET1\\\\t\\\"}\"}"}`, "SECRET1\t", "a#.b#.c", `SECRET1\\\\t`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !json.Valid([]byte(tt.body)) {
				t.Fatalf("test body %s is not JSON", tt.body)
			}
			body := []byte(tt.body)
			found := false
			err := Visit(body, func(f Field, s []byte, loc Location) error {
				i := bytes.Index(s, []byte(tt.secret))
				if i < 0 {
					return nil
				}
				found = true
				if f.Path != tt.path {
					t.Errorf("path: got %q, want %q", f.Path, tt.path)
				}
				rs, re := loc.Raw(i, i+len(tt.secret))
				if got := string(body[rs:re]); got != tt.want {
					t.Errorf("raw span: got %q, want %q", got, tt.want)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if !found {
				t.Fatalf("no string holds %q", tt.secret)
			}
		})
	}
}

func TestVisitErrors(t *testing.T) {
	stop := errors.New("stop")
	tests := []struct {
		name string
		body string
		fn   VisitFunc
		want error
	}{
		{"invalid JSON", `{"a":`, func(Field, []byte, Location) error { return nil }, ErrInvalidJSON},
		{"too deep", strings.Repeat("[", MaxDepth+1), func(Field, []byte, Location) error { return nil }, ErrTooDeep},
		{"callback error", `{"a":"b"}`, func(Field, []byte, Location) error { return stop }, stop},
		{"callback error in nested text", `{"a":"{\"b\":\"c\"}"}`, func(Field, []byte, Location) error { return stop }, stop},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := Visit([]byte(tt.body), tt.fn); !errors.Is(err, tt.want) {
				t.Fatalf("got error %v, want %v", err, tt.want)
			}
		})
	}
}

// boundaries returns, for each raw offset of the literal content raw that falls
// between two decoding units, the decoded offset it starts: the offsets where
// decoding the two halves separately gives the same bytes as decoding the whole.
// It is the independent model of the decoder that FuzzDecodeString checks RawSpan
// against.
func boundaries(raw, dec []byte) (rawToDec map[int]int, decToRaw map[int]int) {
	rawToDec, decToRaw = map[int]int{}, map[int]int{}
	for r := 0; r <= len(raw); r++ {
		head := unescape(nil, raw[:r])
		if bytes.Equal(append(head, unescape(nil, raw[r:])...), dec) {
			rawToDec[r], decToRaw[len(head)] = len(head), r
		}
	}
	return rawToDec, decToRaw
}

// FuzzDecodeString checks the JSON string decoder and the offset map Redact and Visit
// use, for any literal content raw, valid or not: RawSpan(i, j) is a raw span whose
// bounds fall between decoding units, that decodes to the decoded bytes it covers
// (decoded[i:j] == unescape(raw[RawSpan(i, j)]) when i and j fall between units), and
// that covers [i,j); for a valid literal it is the tightest such span. A valid
// literal of valid UTF-8 decodes as encoding/json decodes it.
func FuzzDecodeString(f *testing.F) {
	for _, s := range []string{
		`abc`, `a\nb`, `\u00e9x`, `\ud83d\ude00`, `\ud800abc`, `\udc00\ud800`, `\ud83d\u0041`,
		`\"\\\/\b\f\n\r\t`, `\q`, `ab\`, `\u12`, "\xed\xa0\x80", "\xff\xfe", `\\u0041`,
		`SECRET\u0031 \ud83d\ude00 x\u00e9`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if len(raw) > 96 {
			raw = raw[:96] // the model is quadratic
		}
		dec := unescape(nil, raw)
		valid := json.Valid(append(append([]byte{'"'}, raw...), '"'))
		if valid && utf8.Valid(raw) {
			var want string
			if err := json.Unmarshal(append(append([]byte{'"'}, raw...), '"'), &want); err != nil {
				t.Fatal(err)
			}
			if string(dec) != want {
				t.Fatalf("unescape(%q) = %q, want %q as encoding/json", raw, dec, want)
			}
		}
		rawToDec, decToRaw := boundaries(raw, dec)
		if rawToDec[0] != 0 || rawToDec[len(raw)] != len(dec) {
			t.Fatalf("the ends of %q are not boundaries", raw)
		}
		// floor and ceil return the decoded boundaries around i.
		floor := func(i int) int {
			for ; i > 0; i-- {
				if _, ok := decToRaw[i]; ok {
					return i
				}
			}
			return 0
		}
		ceil := func(i int) int {
			for ; i < len(dec); i++ {
				if _, ok := decToRaw[i]; ok {
					return i
				}
			}
			return len(dec)
		}
		for i := 0; i <= len(dec); i++ {
			for j := i; j <= len(dec); j++ {
				rs, re := RawSpan(raw, i, j)
				ds, okS := rawToDec[rs]
				de, okE := rawToDec[re]
				if !okS || !okE || rs > re {
					t.Fatalf("RawSpan(%q, %d, %d) = [%d,%d): a bound inside an escape", raw, i, j, rs, re)
				}
				if got := unescape(nil, raw[rs:re]); !bytes.Equal(got, dec[ds:de]) {
					t.Fatalf("unescape(raw[%d:%d]) = %q, want decoded[%d:%d] = %q", rs, re, got, ds, de, dec[ds:de])
				}
				if ds > i || de < j {
					t.Fatalf("RawSpan(%q, %d, %d) = [%d,%d) covers decoded [%d,%d), not [%d,%d)", raw, i, j, rs, re, ds, de, i, j)
				}
				// An empty span inside a unit covers the unit.
				if wantS, wantE := floor(i), ceil(j); valid && (ds != wantS || de != wantE) {
					t.Fatalf("RawSpan(%q, %d, %d) = [%d,%d) covers decoded [%d,%d), want [%d,%d)", raw, i, j, rs, re, ds, de, wantS, wantE)
				}
			}
		}
	})
}

// FuzzVisit checks that Visit fails exactly when Redact does, sees the strings Redact
// sees, and locates every word run of every string at raw bytes that decode to it.
func FuzzVisit(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		var got []visited
		verr := Visit(in, func(f Field, s []byte, loc Location) error {
			got = append(got, visited{f, string(s)})
			checkLocation(t, in, s, loc)
			return nil
		})
		var want []visited
		_, rerr := Redact(in, func(f Field, s []byte) ([]Replacement, error) {
			want = append(want, visited{f, string(s)})
			return nil, nil
		})
		if (verr == nil) != (rerr == nil) {
			t.Fatalf("Visit error %v, Redact error %v", verr, rerr)
		}
		if verr == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("Visit saw %v, Redact saw %v", got, want)
		}
	})
}

// lookupMember's table answers as the members map does, for every name it holds and
// for names one edit away from them.
func TestLookupMember(t *testing.T) {
	want := func(name string) memberInfo { return members[name] }
	check := func(name string) {
		t.Helper()
		if got := lookupMember([]byte(name)); got != want(name) {
			t.Fatalf("lookupMember(%q) = %v, want %v", name, got, want(name))
		}
	}
	n := 0
	for name := range members {
		check(name)
		check(name[:len(name)-1])
		check(name + "s")
		check("x" + name)
		check(strings.ToUpper(name))
		for i := range len(name) {
			b := []byte(name)
			b[i] ^= 1
			check(string(b))
		}
		if members[name].kind != 0 {
			n++
		}
	}
	if n == 0 {
		t.Fatal("no member has a rule")
	}
	for _, name := range []string{"", "a", "file_path", "command", "old_string", strings.Repeat("z", 300)} {
		check(name)
	}
}
