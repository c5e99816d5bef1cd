package walk

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func addSeeds(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.json")
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		`{"a":"hello world \u00e9\n\/ abc","b":[1,2.5e3,true,null]}`,
		`{"arguments":"{\"cmd\":\"a\\nSECRET\\u00311\\\"\",\"x\":\"\u0053ECRET11\"}"}`,
		`[{"thinking":"abc def","type":"thinking"},{"type":"text","text":"abc def"}]`,
		`{"source":{"type":"base64","media_type":"image/png","data":"abcdef"},"url":"data:text,abc"}`,
		`"\ud83d\ude00abc\ud800xyz"`,
		`{"c":"  [ {\"t\": \"abc\"} ] "}`,
		`{"k":"cloak_f_00000001 abc"}`,
		"[\"\xed\xa0\x80abc\\udc00\"]",
		`{"a":"{\"x\":\"\ud83d abc\",\"y\":\"\\udc00 cloak_\",\"z\":\"\udc00\\n abc\"}"}`,
		`{"env":{"abc\u0064ef":{"ghi":"jkl"}},"x cloak_f":1,"c":"{\"abc\":{\"def\":\"ghi\"}}"}`,
		`{"a":"{\"signature\":\"abc\",\"type\":\"thinking\",\"mime_type\":\"image/png\",\"data\":\"abc\"}"}`,
		`{"inlineData":{"mimeType":"text/plain","data":"abc"},"url":"data:image/png;base64,abc","file_data":"data:text/csv,abc"}`,
		`[{"type":"reasoning","summary":[{"text":"abc cloak_f"}],"encrypted_content":"abc","x abc":1},{"type":"thinking","type":"reasoning","thinking":"abc"}]`,
	} {
		f.Add([]byte(s))
	}
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// runs returns the maximal runs of at least 3 ASCII letters and digits in s. Their
// bounds never fall inside an escape sequence's decoded bytes.
func runs(s []byte) [][2]int {
	var out [][2]int
	for i := 0; i < len(s); {
		if !isAlnum(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && isAlnum(s[j]) {
			j++
		}
		if j-i >= 3 {
			out = append(out, [2]int{i, j})
		}
		i = j
	}
	return out
}

// FuzzRedactRoundTrip checks, for any input: Redact fails exactly when the input is not
// valid JSON; a callback that replaces nothing gives back the body itself; replacing
// word runs with tokens changes only string literals (values and member names), gives
// valid JSON, and Restore with
// the inverse mapping gives a document equal to the input (nested JSON text compared
// by value); replacing arbitrary spans still gives valid JSON.
func FuzzRedactRoundTrip(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := Redact(in, func(Field, []byte) ([]Replacement, error) { return nil, nil })
		if valid := json.Valid(in); valid != (err == nil) {
			t.Fatalf("json.Valid %v, Redact error %v", valid, err)
		}
		if err != nil {
			if !errors.Is(err, ErrInvalidJSON) && !errors.Is(err, ErrTooDeep) {
				t.Fatalf("got error %v, want ErrInvalidJSON or ErrTooDeep", err)
			}
			return
		}
		if !sameSlice(out, in) {
			t.Fatal("nil callback: got a new slice, want the body itself")
		}

		// Tokens carry a hash of the input so that the input cannot hold them.
		sum := sha256.Sum256(in)
		prefix := fmt.Sprintf("cloak_f%x_", sum[:4])
		values := map[string]string{}
		red, err := Redact(in, func(_ Field, s []byte) ([]Replacement, error) {
			var reps []Replacement
			for _, r := range runs(s) {
				tok := fmt.Sprintf("%s%08d", prefix, len(values))
				values[tok] = string(s[r[0]:r[1]])
				reps = append(reps, Replacement{Start: r[0], End: r[1], With: tok})
			}
			return reps, nil
		})
		if err != nil {
			t.Fatalf("Redact: %v", err)
		}
		if !json.Valid(red) {
			t.Fatalf("Redact gave invalid JSON %q", red)
		}
		checkFidelity(t, in, red, func(orig string) bool { return len(runs([]byte(orig))) > 0 })
		back, err := Restore(red, func(_ Field, s []byte) []byte {
			var out []byte
			last := 0
			for i := 0; ; {
				j := bytes.Index(s[i:], []byte(prefix))
				if j < 0 || i+j+len(prefix)+8 > len(s) {
					break
				}
				i += j
				tok := string(s[i : i+len(prefix)+8])
				v, ok := values[tok]
				if !ok {
					i++
					continue
				}
				out = append(append(out, s[last:i]...), v...)
				i += len(tok)
				last = i
			}
			if out == nil {
				return nil
			}
			return append(out, s[last:]...)
		})
		if err != nil {
			t.Fatalf("Restore: %v", err)
		}
		if len(values) == 0 && !sameSlice(back, red) {
			t.Fatal("Restore without tokens: got a new slice, want the body itself")
		}
		equalDocs(t, back, in)

		// Arbitrary spans, bounds anywhere, even inside escapes.
		arb, err := Redact(in, func(_ Field, s []byte) ([]Replacement, error) {
			var reps []Replacement
			for i := 0; i < len(s); i++ {
				if s[i]%5 == 0 {
					end := min(i+int(s[i]%3), len(s))
					reps = append(reps, Replacement{Start: i, End: end, With: "X_1"})
					i = end
				}
			}
			return reps, nil
		})
		if err != nil {
			t.Fatalf("Redact arbitrary spans: %v", err)
		}
		if !json.Valid(arb) {
			t.Fatalf("arbitrary spans gave invalid JSON %q", arb)
		}
		checkFidelity(t, in, arb, nil)
	})
}

// FuzzRestore checks that restoring values full of characters JSON must escape
// always gives valid JSON, and that only string literals (values and member names)
// change.
func FuzzRestore(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		nasty := []byte("\"\\\n\x00\x1f</>&\u00e9\u2028\xff")
		out, err := Restore(in, func(_ Field, s []byte) []byte {
			return bytes.ReplaceAll(s, []byte(marker), nasty)
		})
		if !bytes.Contains(in, []byte(marker)) {
			if err != nil || !sameSlice(out, in) {
				t.Fatalf("no marker: got error %v or a new slice, want the body itself", err)
			}
			return
		}
		if valid := json.Valid(in); valid != (err == nil) {
			t.Fatalf("json.Valid %v, Restore error %v", valid, err)
		}
		if err != nil {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("Restore gave invalid JSON %q", out)
		}
		checkFidelity(t, in, out, func(orig string) bool { return bytes.Contains([]byte(orig), []byte(marker)) })
	})
}
