package walk

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math/bits"
	"math/rand/v2"
	"testing"
)

const fffd3 = "\uFFFD\uFFFD\uFFFD" // how decoders read a raw surrogate encoding

func TestAppendUnquoted(t *testing.T) {
	tests := []struct {
		name string
		body string // between the quotes
		dec  string // AppendUnquoted
		enc  string // AppendEscaped of dec
	}{
		{"plain", "abc", "abc", "abc"},
		{"short escapes", `\"\\\/\b\f\n\r\t`, "\"\\/\b\f\n\r\t", `\"\\/\b\f\n\r\t`},
		{"unicode", `\u00e9\u4e2d`, "é中", "é中"},
		{"surrogate pair", `\ud83d\ude00`, "\U0001F600", "\U0001F600"},
		{"lone high", `\ud83d`, "\xed\xa0\xbd", `\ud83d`},
		{"lone low", `\ude00`, "\xed\xb8\x80", `\ude00`},
		{"lone high at the end", `a\udbff`, "a\xed\xaf\xbf", `a\udbff`},
		{"high then not a low", `\ud83d\u0041`, "\xed\xa0\xbdA", `\ud83dA`},
		{"high then high", `\ud800\ud800`, "\xed\xa0\x80\xed\xa0\x80", `\ud800\ud800`},
		{"low then high", `\ude00\ud83d`, "\xed\xb8\x80\xed\xa0\xbd", `\ude00\ud83d`},
		{"high, text, low", `\ud83d x \ude00`, "\xed\xa0\xbd x \xed\xb8\x80", `\ud83d x \ude00`},
		{"upper-case hex comes back lower", `\uD83D`, "\xed\xa0\xbd", `\ud83d`},
		{"lone surrogate and pair", `\udfff\ud83d\ude00`, "\xed\xbf\xbf\U0001F600", "\\udfff\U0001F600"},
		{"raw surrogate encoding", "\xed\xa0\x80x", fffd3 + "x", fffd3 + "x"},
		{"raw and escaped surrogate", "\xed\xa0\x80\\ud800", fffd3 + "\xed\xa0\x80", fffd3 + `\ud800`},
		{"raw ED before an escape", "\xed\\ud800", "\xed\xed\xa0\x80", "\xed\\ud800"},
		{"raw U+D7FF kept", "\xed\x9f\xbf", "\xed\x9f\xbf", "\xed\x9f\xbf"},
		{"truncated raw encoding kept", "\xed\xa0", "\xed\xa0", "\xed\xa0"},
		{"other invalid UTF-8 kept", "\xff\xfe", "\xff\xfe", "\xff\xfe"},
		{"invalid escape kept", `a\xb`, `a\xb`, `a\\xb`},
		{"bad hex kept", `\u12G4`, `\u12G4`, `\\u12G4`},
		{"short hex kept", `\u12`, `\u12`, `\\u12`},
		{"high then bad hex", `\ud83d\uZZZZ`, "\xed\xa0\xbd\\uZZZZ", `\ud83d\\uZZZZ`},
		{"final backslash kept", `ab\`, `ab\`, `ab\\`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dec := AppendUnquoted([]byte("pre:"), []byte(tt.body))
			if string(dec) != "pre:"+tt.dec {
				t.Fatalf("AppendUnquoted: got %q, want %q", dec, "pre:"+tt.dec)
			}
			dec = dec[len("pre:"):]
			enc := AppendEscaped(nil, dec)
			if string(enc) != tt.enc {
				t.Fatalf("AppendEscaped: got %q, want %q", enc, tt.enc)
			}
			if again := AppendUnquoted(nil, enc); !bytes.Equal(again, dec) {
				t.Fatalf("second round: got %q, want %q", again, dec)
			}
			// Where the body is valid, the re-encoded literal means the same to
			// encoding/json (which reads a lone surrogate as U+FFFD).
			var a, b string
			if json.Unmarshal([]byte(`"`+tt.body+`"`), &a) == nil {
				if err := json.Unmarshal([]byte(`"`+tt.enc+`"`), &b); err != nil {
					t.Fatalf("re-encoded %q: %v", tt.enc, err)
				}
				if a != b {
					t.Fatalf("re-encoded decodes to %q, want %q", b, a)
				}
			}
		})
	}
}

// TestDecodedLengths checks that the span mapping's lengths agree with both decoders:
// a lone surrogate is 3 bytes as U+FFFD (Redact) and in WTF-8 (AppendUnquoted).
func TestDecodedLengths(t *testing.T) {
	tests := []struct {
		name string
		body string
		want int
	}{
		{"lone high", `\ud800`, 3},
		{"lone low", `a\udfffb`, 5},
		{"two highs", `\ud83d\ud83d`, 6},
		{"pair", `\ud83d\ude00`, 4},
		{"mixed", `\ud83dx\ud83d\ude00\u00e9\n\ude00`, 3 + 1 + 4 + 2 + 1 + 3},
		{"escaped backslash before u", `\\ud800`, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := []byte(tt.body)
			units := 0
			for i := 0; i < len(raw); {
				rl, dl := unitAt(raw, i)
				i, units = i+rl, units+dl
			}
			fffd, wtf8 := len(unescape(nil, raw)), len(AppendUnquoted(nil, raw))
			if units != tt.want || fffd != tt.want || wtf8 != tt.want {
				t.Fatalf("got unitAt %d, unescape %d, AppendUnquoted %d bytes, want %d", units, fffd, wtf8, tt.want)
			}
		})
	}
}

// The lowest byte specialMask flags is the first quote, backslash or control byte,
// whatever the bytes around it (borrows only ever flag bytes above a match).
func TestSpecialMaskFirstIsExact(t *testing.T) {
	interesting := []byte{0, 1, 0x1f, 0x20, 0x21, '"', '\\', 0x7f, 0x80, 0xff, 'a', 0x5b, 0x5d}
	r := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 200000; n++ {
		var b [8]byte
		for i := range b {
			b[i] = interesting[r.IntN(len(interesting))]
		}
		want := -1
		for i, c := range b {
			if c == '"' || c == '\\' || c < 0x20 {
				want = i
				break
			}
		}
		m := specialMask(binary.LittleEndian.Uint64(b[:]))
		got := -1
		if m != 0 {
			got = bits.TrailingZeros64(m) >> 3
		}
		if got != want {
			t.Fatalf("%q: first special byte at %d, mask says %d", b, want, got)
		}
	}
}

func TestEscapesAlnum(t *testing.T) {
	for _, c := range []struct {
		in   string
		want bool
	}{
		{``, false},
		{`plain text, "quoted" \n\t\"\\\/ naïve 😀`, false},
		{`\u00e9 \u00E9 \u0020 \u002f \u007e \ud83d\ude00`, false},
		{`AKIA\u0041`, true},
		{`\u0030`, true},
		{`\u004A`, true},
		{`\u007a`, true},
		{`\u005C`, true}, // a backslash: an escape in JSON nested in the string
		{`\u005cu0041`, true},
		{`\\u0041`, true}, // an escaped backslash, then u0041: flagged all the same
		{`\u00`, false},
		{`\u004`, false},
		{`x\u00zz`, false},
	} {
		if got := EscapesAlnum([]byte(c.in)); got != c.want {
			t.Errorf("EscapesAlnum(%s) = %v, want %v", c.in, got, c.want)
		}
	}
}

// alnumRuns returns the maximal runs of ASCII letters and digits in b.
func alnumRuns(b []byte) [][]byte {
	var runs [][]byte
	for i := 0; i < len(b); {
		j := i
		for j < len(b) && isASCIIAlnum(b[j]) {
			j++
		}
		if j > i {
			runs = append(runs, b[i:j])
			i = j
		} else {
			i++
		}
	}
	return runs
}

// FuzzEscapesAlnum checks what EscapesAlnum promises: when it is false, every run
// of letters and digits of b decoded as a string, and of that decoded again as a
// string of JSON nested in it, is a run of b as it is.
func FuzzEscapesAlnum(f *testing.F) {
	for _, s := range []string{`abc\u0041def`, `\\u0041`, `\u005Cu0041`, `x\ny\"z\u00e9 AKIA`, `\\\u00750041`, `\\u\u0030041`, `a\/b\u002Fc`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if EscapesAlnum(b) {
			return
		}
		once := unescape(nil, b)
		for _, d := range [][]byte{once, unescape(nil, once)} {
			for _, run := range alnumRuns(d) {
				if !bytes.Contains(b, run) {
					t.Fatalf("EscapesAlnum(%q) is false, yet the decoded %q has the run %q", b, d, run)
				}
			}
		}
	})
}
