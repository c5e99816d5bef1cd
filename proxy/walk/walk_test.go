package walk

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const tokA = "cloak_test_aaaaaaaaaaaaaaaaaaaa" // newSecretsRedactor's token for its first secret

const pemDecoded = "-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\nKUpRKfFLfRYC9AIKjbJTWit+CqvjWYzvQwECAwEAAQ==\n-----END RSA PRIVATE KEY-----"

func TestRedactFidelity(t *testing.T) {
	pemRaw := strings.ReplaceAll(pemDecoded, "\n", `\n`)
	tests := []struct {
		name    string
		in      string
		secrets []string
		want    string
	}{
		{"no secret", `{"a":"b"}`, []string{"SECRET1"}, `{"a":"b"}`},
		{
			"whitespace, key order, numbers",
			"{ \"z\" :1.50e+3 ,\"a\":[ \"x\" ,\n\t\"my SECRET1 here\"\r\n],\"m\" : \"\\u00e9\\/\", \"n\":-0  }  ",
			[]string{"SECRET1"},
			"{ \"z\" :1.50e+3 ,\"a\":[ \"x\" ,\n\t\"my " + tokA + " here\"\r\n],\"m\" : \"\\u00e9\\/\", \"n\":-0  }  ",
		},
		{
			"escapes elsewhere in the literal stay",
			`{"a":"\/p\u00e9\n SECRET1 \/\"x\"\u0041"}`,
			[]string{"SECRET1"},
			`{"a":"\/p\u00e9\n ` + tokA + ` \/\"x\"\u0041"}`,
		},
		{
			"PEM key with \\n escapes is one span",
			`{"text":"key:\n` + pemRaw + `\nend","other":"\n"}`,
			[]string{pemDecoded},
			`{"text":"key:\n` + tokA + `\nend","other":"\n"}`,
		},
		{"u-escaped secret characters", `{"k":"key=\u0053ECRET\u0031!"}`, []string{"SECRET1"}, `{"k":"key=` + tokA + `!"}`},
		{"escaped quote and slash inside the secret", `{"k":"a pa\"ss\/w0rd b"}`, []string{`pa"ss/w0rd`}, `{"k":"a ` + tokA + ` b"}`},
		{"surrogate pair inside the secret", `{"k":"x\ud83d\ude00SECRET1"}`, []string{"\U0001F600SECRET1"}, `{"k":"x` + tokA + `"}`},
		{"lone surrogate decodes to U+FFFD", `{"k":"\ud800SECRET1"}`, []string{"\uFFFDSECRET1"}, `{"k":"` + tokA + `"}`},
		{"member names", `{"SECRET1":"SECRET1"}`, []string{"SECRET1"}, `{"` + tokA + `":"` + tokA + `"}`},
		{"escaped member name", "{ \"a\":{\"x\\u0053ECRET1\\n\" :\n1}}", []string{"SECRET1"}, "{ \"a\":{\"x" + tokA + "\\n\" :\n1}}"},
		{"several in one string", `["SECRET1 SECRET1\nSECRET1"]`, []string{"SECRET1"}, `["` + tokA + " " + tokA + `\n` + tokA + `"]`},
		{"top-level string", `"SECRET1"`, []string{"SECRET1"}, `"` + tokA + `"`},
		{"invalid UTF-8 passes through", "[\"\xff SECRET1 \xfe\"]", []string{"SECRET1"}, "[\"\xff " + tokA + " \xfe\"]"},
		{
			"nested arguments JSON",
			`{"arguments":"{\"command\":\"export K=SECRET1\",\"n\":1}"}`,
			[]string{"SECRET1"},
			`{"arguments":"{\"command\":\"export K=` + tokA + `\",\"n\":1}"}`,
		},
		{
			"nested JSON with escapes at both levels",
			`{"arguments":"{\"cmd\":\"a\\nSECRET\\u00311\\\"\",\"x\":\"\u0053ECRET11\"}"}`,
			[]string{"SECRET11"},
			`{"arguments":"{\"cmd\":\"a\\n` + tokA + `\\\"\",\"x\":\"` + tokA + `\"}"}`,
		},
		{
			"nested array with whitespace",
			`{"content":"  [ {\"t\": \"SECRET1\"} ] "}`,
			[]string{"SECRET1"},
			`{"content":"  [ {\"t\": \"` + tokA + `\"} ] "}`,
		},
		{
			"inner member names",
			`{"a":"{\"SECRET1\":1, \"b\":{\"SECRET1\":\"SECRET1\"}}"}`,
			[]string{"SECRET1"},
			`{"a":"{\"` + tokA + `\":1, \"b\":{\"` + tokA + `\":\"` + tokA + `\"}}"}`,
		},
		{"brace text that is not JSON is plain", `{"c":"{not json SECRET1"}`, []string{"SECRET1"}, `{"c":"{not json ` + tokA + `"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newSecretsRedactor(tt.secrets...)
			got, err := Redact([]byte(tt.in), r.fn)
			if err != nil {
				t.Fatalf("Redact: %v", err)
			}
			if string(got) != tt.want {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
			if !json.Valid(got) {
				t.Fatalf("got invalid JSON %s", got)
			}
			if tt.in == tt.want && !sameSlice(got, []byte(tt.in)) {
				// Compare with a slice we keep, since []byte(tt.in) copies.
				in := []byte(tt.in)
				if got, _ := Redact(in, r.fn); !sameSlice(got, in) {
					t.Fatalf("got a new slice, want the body itself")
				}
			}
			back, err := Restore(got, r.restore)
			if err != nil {
				t.Fatalf("Restore: %v", err)
			}
			equalDocs(t, back, []byte(tt.in))
		})
	}
}

func TestRedactNilKeepsBody(t *testing.T) {
	in := []byte(`{"a":["x","y\n",{"b":"{\"c\":\"d\"}"}]}`)
	values, names := 0, 0
	got, err := Redact(in, func(f Field, _ []byte) ([]Replacement, error) {
		if f.Name {
			names++
		} else {
			values++
		}
		return nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !sameSlice(got, in) {
		t.Fatalf("got a new slice %s, want the body itself", got)
	}
	if values != 3 || names != 3 {
		t.Fatalf("got %d values and %d names, want 3 and 3", values, names)
	}
}

// TestRedactSpans covers replacements whose bounds fall inside escape sequences.
func TestRedactSpans(t *testing.T) {
	const tok = "TOK"
	tests := []struct {
		name string
		in   string
		reps []Replacement
		want string
	}{
		{"start inside a multibyte escape", `"\u00e9x"`, []Replacement{{1, 2, tok}}, `"TOKx"`},
		{"end inside a multibyte escape", `"x\u00e9"`, []Replacement{{0, 2, tok}}, `"TOK"`},
		{"whole string", `"\u00e9x"`, []Replacement{{0, 3, tok}}, `"TOK"`},
		{"insertion", `"a\nb"`, []Replacement{{2, 2, tok}}, `"a\nTOKb"`},
		{"insertion at end", `"a\n"`, []Replacement{{2, 2, tok}}, `"a\nTOK"`},
		{"unsorted is sorted", `"abcd"`, []Replacement{{2, 3, "Y"}, {0, 1, "X"}}, `"XbYd"`},
		{"two bounds in one escape", `"\ud83d\ude00"`, []Replacement{{0, 1, "A"}, {2, 4, "B"}}, `"AB"`},
		{"escape between", `"a\tb"`, []Replacement{{0, 1, "X"}, {2, 3, "Y"}}, `"X\tY"`},
		{"plain bytes after escapes", `"\n0123456789"`, []Replacement{{5, 7, "X"}}, `"\n0123X6789"`},
		{"lone surrogate counts 3 bytes", `"\ud800abc\udfff"`, []Replacement{{3, 6, "X"}}, `"\ud800X\udfff"`},
		{"bound inside a lone surrogate", `"a\udc00b"`, []Replacement{{2, 3, "X"}, {4, 5, "Y"}}, `"aXY"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Redact([]byte(tt.in), func(Field, []byte) ([]Replacement, error) {
				return slices.Clone(tt.reps), nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestRedactBadReplacements(t *testing.T) {
	tests := []struct {
		name string
		reps []Replacement
	}{
		{"start past end", []Replacement{{5, 4, "x"}}},
		{"end past string", []Replacement{{0, 99, "x"}}},
		{"negative", []Replacement{{-1, 1, "x"}}},
		{"overlap", []Replacement{{0, 3, "x"}, {2, 4, "y"}}},
		{"quote in With", []Replacement{{0, 1, `a"b`}}},
		{"backslash in With", []Replacement{{0, 1, `a\b`}}},
		{"newline in With", []Replacement{{0, 1, "a\nb"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Redact([]byte(`["secretvalue"]`), func(Field, []byte) ([]Replacement, error) { return tt.reps, nil })
			if !errors.Is(err, ErrBadReplacement) {
				t.Fatalf("got error %v, want ErrBadReplacement", err)
			}
			if strings.Contains(err.Error(), "secretvalue") {
				t.Fatalf("error %q holds the content", err)
			}
		})
	}
}

func TestRedactFuncError(t *testing.T) {
	errBoom := errors.New("vault down")
	for _, in := range []string{`{"a":"x","b":"secretvalue"}`, `{"a":"x","b":"{\"c\":\"secretvalue\"}"}`} {
		_, err := Redact([]byte(in), func(_ Field, s []byte) ([]Replacement, error) {
			if strings.Contains(string(s), "secretvalue") {
				return nil, errBoom
			}
			return nil, nil
		})
		if !errors.Is(err, errBoom) {
			t.Fatalf("got error %v, want %v", err, errBoom)
		}
		if strings.Contains(err.Error(), "secretvalue") || !strings.Contains(err.Error(), "offset 13") {
			t.Fatalf("got error %q, want one naming offset 13 and no content", err)
		}
	}
}

func TestSkips(t *testing.T) {
	const tok = tokA
	// nested returns v as the JSON text of a tool result: {"content":"<v>"}.
	nested := func(v string) string { return `{"content":` + stringify(v) + `}` }
	tests := []struct {
		name string
		in   string
		want string // "" means unchanged
	}{
		// Signed reasoning, skipped whole at level 0, member names included. OpenAI
		// reasoning items, which Redact scans, are in TestReasoning.
		{"thinking, type first", `[{"type":"thinking","thinking":"SECRET","signature":"SECRET"}]`, ""},
		{"thinking, type last", `[{"thinking":"SECRET","extra":{"a":["SECRET"]},"signature":"x","type":"thinking"}]`, ""},
		{"redacted_thinking", `{"content":[{"data":"SECRET","type":"redacted_thinking"}]}`, ""},
		{"escaped type", `{"thinking":"SECRET","type":"thin\u006bing"}`, ""},
		{"duplicate type, one opaque", `{"type":"text","t":"SECRET","type":"thinking"}`, ""},
		{"member names in thinking, type first", `[{"type":"thinking","SECRET":{"SECRET":"SECRET"}}]`, ""},
		{"member names in thinking, type last", `[{"SECRET":{"SECRET":["SECRET"]},"type":"thinking"}]`, ""},
		{
			"blocks around thinking",
			`[{"type":"text","text":"SECRET"},{"thinking":"SECRET","type":"thinking"},{"text":"SECRET"}]`,
			`[{"type":"text","text":"` + tok + `"},{"thinking":"SECRET","type":"thinking"},{"text":"` + tok + `"}]`,
		},
		{"thinking config is not a block", `{"thinking":{"type":"enabled"},"x":"SECRET"}`, `{"thinking":{"type":"enabled"},"x":"` + tok + `"}`},
		{"encrypted_content", `{"encrypted_content":"SECRET"}`, ""},
		{"encrypted_content object", `{"encrypted_content":{"SECRET":["SECRET"]}}`, ""},
		{"encrypted_index", `{"type":"web_search_result_location","encrypted_index":"SECRET","cited_text":"SECRET"}`, `{"type":"web_search_result_location","encrypted_index":"SECRET","cited_text":"` + tok + `"}`},
		{"thought_signature", `{"thought_signature":"SECRET"}`, ""},
		{"thoughtSignature", `{"functionCall":{"args":{"c":"SECRET"}},"thoughtSignature":"SECRET"}`, `{"functionCall":{"args":{"c":"` + tok + `"}},"thoughtSignature":"SECRET"}`},

		// "signature" alone is user data.
		{"signature outside thinking", `{"signature":"SECRET","x":"SECRET"}`, `{"signature":"` + tok + `","x":"` + tok + `"}`},
		{"webhook signature", `{"webhook":{"signature":{"v":["SECRET"]}}}`, `{"webhook":{"signature":{"v":["` + tok + `"]}}}`},

		// No rule applies inside JSON text nested in a string.
		{"nested thinking", nested(`{"thinking":"SECRET","type":"thinking"}`), nested(`{"thinking":"` + tok + `","type":"thinking"}`)},
		{"nested reasoning", nested(`{"type":"reasoning","note":"SECRET"}`), nested(`{"type":"reasoning","note":"` + tok + `"}`)},
		{"nested webhook signature", nested(`{"webhook":{"signature":"SECRET"}}`), nested(`{"webhook":{"signature":"` + tok + `"}}`)},
		{"nested encrypted_content", nested(`{"encrypted_content":"SECRET","thoughtSignature":"SECRET"}`), nested(`{"encrypted_content":"` + tok + `","thoughtSignature":"` + tok + `"}`)},
		{"nested text media", nested(`{"mime_type":"text/plain","data":"SECRET"}`), nested(`{"mime_type":"text/plain","data":"` + tok + `"}`)},
		{"nested binary media", nested(`{"type":"base64","media_type":"image/png","data":"SECRET"}`), nested(`{"type":"base64","media_type":"image/png","data":"` + tok + `"}`)},
		{"nested data URL", nested(`{"image_url":"data:image/png;base64,SECRET"}`), nested(`{"image_url":"data:image/png;base64,` + tok + `"}`)},
		{"nested input_audio", nested(`{"input_audio":{"data":"SECRET"}}`), nested(`{"input_audio":{"data":"` + tok + `"}}`)},
		{"nested twice", nested(nested(`{"type":"thinking","SECRET":"SECRET"}`)), nested(nested(`{"type":"thinking","` + tok + `":"` + tok + `"}`))},

		// Binary media, skipped.
		{"Anthropic base64 image, data first", `{"source":{"data":"SECRET","media_type":"image/png","type":"base64"}}`, ""},
		{"Anthropic base64 PDF", `{"source":{"type":"base64","media_type":"application/pdf","data":"SECRET"}}`, ""},
		{"Gemini inlineData", `{"inlineData":{"mimeType":"image/png","data":"SECRET"}}`, ""},
		{"Gemini inline_data audio", `{"inline_data":{"data":"SECRET","mime_type":"audio/wav"}}`, ""},
		{"video", `{"inlineData":{"mimeType":"video/mp4","data":"SECRET"}}`, ""},
		{"octet-stream", `{"inlineData":{"mimeType":"application/octet-stream","data":"SECRET"}}`, ""},
		{"zip", `{"inlineData":{"mimeType":"application/zip","data":"SECRET"}}`, ""},
		{"office document", `{"inlineData":{"mimeType":"application/vnd.openxmlformats-officedocument.wordprocessingml.document","data":"SECRET"}}`, ""},
		{"case and parameters", `{"inlineData":{"mimeType":" Image/PNG ; q=1","data":"SECRET"}}`, ""},
		{"escaped media type", `{"inlineData":{"mimeType":"image\/png","data":"SECRET"}}`, ""},

		// Text-like media, scanned.
		{"Anthropic text document", `{"type":"text","media_type":"text/plain","data":"SECRET"}`, `{"type":"text","media_type":"text/plain","data":"` + tok + `"}`},
		{"base64 text/plain", `{"source":{"type":"base64","media_type":"text/plain","data":"SECRET"}}`, `{"source":{"type":"base64","media_type":"text/plain","data":"` + tok + `"}}`},
		{"application/json", `{"inlineData":{"data":"SECRET","mimeType":"application/json"}}`, `{"inlineData":{"data":"` + tok + `","mimeType":"application/json"}}`},
		{"+json", `{"inlineData":{"mimeType":"application/vnd.api+json","data":"SECRET"}}`, `{"inlineData":{"mimeType":"application/vnd.api+json","data":"` + tok + `"}}`},
		{"svg is xml", `{"inlineData":{"mimeType":"image/svg+xml","data":"SECRET"}}`, `{"inlineData":{"mimeType":"image/svg+xml","data":"` + tok + `"}}`},
		{"yaml", `{"inline_data":{"mime_type":"application/x-yaml","data":"SECRET"}}`, `{"inline_data":{"mime_type":"application/x-yaml","data":"` + tok + `"}}`},
		{"shell script", `{"inline_data":{"mime_type":"application/x-sh","data":"SECRET"}}`, `{"inline_data":{"mime_type":"application/x-sh","data":"` + tok + `"}}`},
		{"unknown type", `{"inline_data":{"mime_type":"application/x-terraform-state","data":"SECRET"}}`, `{"inline_data":{"mime_type":"application/x-terraform-state","data":"` + tok + `"}}`},
		{"empty media type", `{"media_type":"","data":"SECRET"}`, `{"media_type":"","data":"` + tok + `"}`},
		{"media type not a string", `{"media_type":null,"data":"SECRET"}`, `{"media_type":null,"data":"` + tok + `"}`},
		{"binary and text media types", `{"media_type":"image/png","mimeType":"text/csv","data":"SECRET"}`, `{"media_type":"image/png","mimeType":"text/csv","data":"` + tok + `"}`},
		{"data alone is scanned", `{"data":"SECRET"}`, `{"data":"` + tok + `"}`},
		{"data in nested object of a media object is scanned", `{"media_type":"image/png","data":"b64","meta":{"data":"SECRET"}}`, `{"media_type":"image/png","data":"b64","meta":{"data":"` + tok + `"}}`},

		// Data URLs: skipped only when binary.
		{"image_url data URL", `{"type":"input_image","image_url":"data:image/png;base64,SECRET"}`, ""},
		{"image_url.url data URL", `{"image_url":{"url":"data:image/jpeg;base64,SECRET","detail":"low"}}`, ""},
		{"binary data URL without base64", `{"url":"data:image/png,SECRET"}`, ""},
		{"data URL in upper case", `{"url":"DATA:IMAGE/PNG;base64,SECRET"}`, ""},
		{"data URL with escapes", `{"url":"data:image\/png;base64,SECRET\/"}`, ""},
		{"file_data PDF", `{"file_data":"data:application/pdf;base64,SECRET"}`, ""},
		{"https URL is scanned", `{"image_url":{"url":"https://x.test/?t=SECRET"}}`, `{"image_url":{"url":"https://x.test/?t=` + tok + `"}}`},
		{"text data URL is scanned", `{"url":"data:text/plain,SECRET"}`, `{"url":"data:text/plain,` + tok + `"}`},
		{"base64 text data URL is scanned", `{"file_data":"data:text/plain;base64,SECRET"}`, `{"file_data":"data:text/plain;base64,` + tok + `"}`},
		{"JSON data URL is scanned", `{"file_data":"data:application/json;base64,SECRET"}`, `{"file_data":"data:application/json;base64,` + tok + `"}`},
		{"data URL without a type is text", `{"url":"data:;base64,SECRET"}`, `{"url":"data:;base64,` + tok + `"}`},
		{"svg data URL is scanned", `{"url":"data:image/svg+xml;base64,SECRET"}`, `{"url":"data:image/svg+xml;base64,` + tok + `"}`},
		{"data URL without a comma is scanned", `{"url":"data:image/png;base64 SECRET"}`, `{"url":"data:image/png;base64 ` + tok + `"}`},
		{"file_data without data: is scanned", `{"file_data":"SECRET"}`, `{"file_data":"` + tok + `"}`},
		{"input_audio data", `{"type":"input_audio","input_audio":{"data":"SECRET","format":"wav"}}`, ""},

		// Member names.
		{"secret member name", `{"env":{"SECRET":"x"}}`, `{"env":{"` + tok + `":"x"}}`},
		{"secret name and value", `{"SECRET":{"a":"SECRET"}}`, `{"` + tok + `":{"a":"` + tok + `"}}`},
		{"name of a skipped member kept", `{"encrypted_content":"x","SECRET":1}`, `{"encrypted_content":"x","` + tok + `":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.want
			if want == "" {
				want = tt.in
			}
			r := newSecretsRedactor("SECRET")
			got, err := Redact([]byte(tt.in), r.fn)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != want {
				t.Fatalf("Redact got %s, want %s", got, want)
			}
			// Restore must skip the same values: with a token wherever the secret
			// was, only the values Redact changed may change back.
			tokenized := strings.ReplaceAll(tt.in, "SECRET", tok)
			wantBack := strings.ReplaceAll(want, "SECRET", "\x00")
			wantBack = strings.ReplaceAll(wantBack, tok, "SECRET")
			wantBack = strings.ReplaceAll(wantBack, "\x00", tok)
			back, err := Restore([]byte(tokenized), r.restore)
			if err != nil {
				t.Fatal(err)
			}
			if string(back) != wantBack {
				t.Fatalf("Restore got %s, want %s", back, wantBack)
			}
		})
	}
}

// TestReasoning checks OpenAI Responses reasoning items, the one rule that differs
// between the directions: Redact scans them but for encrypted_content, Restore skips
// them whole.
func TestReasoning(t *testing.T) {
	const tok = tokA
	// item returns a reasoning item with summary text s and member name name.
	item := func(s, name string) string {
		return `{"input":[{"type":"reasoning","id":"rs_1","summary":[{"type":"summary_text","text":"` + s +
			`"}],"` + name + `":"v","encrypted_content":"gAAA SECRET"}]}`
	}
	tests := []struct {
		name       string
		in         string
		wantRedact string // "" means the body itself
		wantSeen   []string
	}{
		{"tokens only, unchanged", item("saw "+tok+" in .env", "x"), "", []string{"reasoning", "rs_1", "summary_text", "saw " + tok + " in .env", "x", "v"}},
		{"planted secret replaced", item("saw SECRET in .env", "x"), item("saw "+tok+" in .env", "x"), nil},
		{"secret member name replaced", item("t", "SECRET"), item("t", tok), nil},
		{
			"type last",
			`[{"summary":[{"text":"SECRET","type":"summary_text"}],"encrypted_content":"SECRET","type":"reasoning"}]`,
			`[{"summary":[{"text":"` + tok + `","type":"summary_text"}],"encrypted_content":"SECRET","type":"reasoning"}]`,
			nil,
		},
		{
			"reasoning content",
			`[{"type":"reasoning","content":[{"type":"reasoning_text","text":"SECRET"}]}]`,
			`[{"type":"reasoning","content":[{"type":"reasoning_text","text":"` + tok + `"}]}]`,
			nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := []byte(tt.in)
			r := newSecretsRedactor("SECRET")
			got, err := Redact(in, r.fn)
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantRedact == "" {
				if !sameSlice(got, in) {
					t.Fatalf("Redact got %s, want the body itself", got)
				}
			} else if string(got) != tt.wantRedact {
				t.Fatalf("Redact got %s, want %s", got, tt.wantRedact)
			}
			if tt.wantSeen != nil && !slices.Equal(r.seen, tt.wantSeen) {
				t.Fatalf("callback got %q, want %q", r.seen, tt.wantSeen)
			}
			for _, s := range r.seen {
				if strings.Contains(s, "gAAA") {
					t.Fatalf("callback got encrypted_content %q", s)
				}
			}
			// Restore leaves every token in the redacted item as it is.
			back, err := Restore(got, r.restore)
			if err != nil {
				t.Fatal(err)
			}
			if !sameSlice(back, got) {
				t.Fatalf("Restore got %s, want the body itself", back)
			}
		})
	}

	// A response: Restore skips the reasoning item whole, names included, and
	// restores the message next to it.
	in := `{"output":[{"type":"reasoning","summary":[{"type":"summary_text","text":"saw ` + tok + `"}],"` + tok + `":1},` +
		`{"type":"message","content":[{"type":"output_text","text":"use ` + tok + `"}]}]}`
	want := `{"output":[{"type":"reasoning","summary":[{"type":"summary_text","text":"saw ` + tok + `"}],"` + tok + `":1},` +
		`{"type":"message","content":[{"type":"output_text","text":"use SECRET"}]}]}`
	got, err := Restore([]byte(in), newSecretsRedactor("SECRET").restore)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("Restore got %s, want %s", got, want)
	}
}

// seenField is a Field and the string it came with.
type seenField struct {
	Field
	S string
}

func TestFields(t *testing.T) {
	const tok = tokA
	v := func(path, key, s string) seenField { return seenField{Field{Path: path, Key: key}, s} }
	n := func(path, s string) seenField { return seenField{Field{Path: path, Name: true}, s} }
	m := func(path, key, mt, s string) seenField {
		return seenField{Field{Path: path, Key: key, MediaType: mt}, s}
	}
	tests := []struct {
		name string
		in   string
		want []seenField
	}{
		{"names", `{"a":{"b":[{"c":"x"}]}}`, []seenField{n("", "a"), n("a", "b"), n("a.b[0]", "c"), v("a.b[0].c", "c", "x")}},
		{"escaped name", `{"a\n":1}`, []seenField{n("", "a\n")}},
		{"nested names", `{"a":"{\"b\":1}"}`, []seenField{n("", "a"), n("a#", "b")}},
		{"no names in thinking", `[{"thinking":"t","type":"thinking"},{"type":"thinking","x":1}]`, nil},
		{"API names are not passed", `{"model":"m","messages":[{"role":"usr","x":1}]}`, []seenField{v("model", "model", "m"), v("messages[0].role", "role", "usr"), n("messages[0]", "x")}},
		{
			"API words of type and role are not passed",
			`{"messages":[{"role":"user","content":[{"type":"text","text":"t"}]},{"role":"User","type":"tool_use\u0020"}],"name":"user","tools":[{"type":"sk-live-x"}]}`,
			[]seenField{
				v("messages[0].content[0].text", "text", "t"), v("messages[1].role", "role", "User"),
				v("messages[1].type", "type", "tool_use "), v("name", "name", "user"), v("tools[0].type", "type", "sk-live-x"),
			},
		},
		{"API words in nested JSON are passed", `{"arguments":"{\"type\":\"text\"}"}`, []seenField{n("arguments#", "type"), v("arguments#.type", "type", "text")}},
		{"API names in nested JSON are passed", `{"arguments":"{\"type\":\"t\"}"}`, []seenField{n("arguments#", "type"), v("arguments#.type", "type", "t")}},
		{"escaped API name is not passed", `{"typ\u0065":1}`, nil},
		{
			"replaced name in the paths under it",
			`{"env":{"SECRET":{"k":["v"]},"o":"w"},"z":"SECRET"}`,
			[]seenField{
				n("", "env"), n("env", "SECRET"), n("env."+tok, "k"), v("env."+tok+".k[0]", "", "v"),
				n("env", "o"), v("env.o", "o", "w"), n("", "z"), v("z", "z", "SECRET"),
			},
		},
		{"replaced name is the key of its value", `{"SECRET":"v","a":"b"}`, []seenField{n("", "SECRET"), v(tok, tok, "v"), n("", "a"), v("a", "a", "b")}},
		{
			"replaced names nest",
			`{"SECRET":{"xSECRET":{"k":"v"}}}`,
			[]seenField{n("", "SECRET"), n(tok, "xSECRET"), n(tok+".x"+tok, "k"), v(tok+".x"+tok+".k", "k", "v")},
		},
		{
			"replaced name before nested JSON",
			`{"SECRET":"{\"a\":[\"v\"]}"}`,
			[]seenField{n("", "SECRET"), n(tok+"#", "a"), v(tok+"#.a[0]", "", "v")},
		},
		{
			"replaced name inside nested JSON",
			`{"c":"{\"SECRET\":{\"a\":1}}"}`,
			[]seenField{n("", "c"), n("c#", "SECRET"), n("c#."+tok, "a")},
		},
		{
			"text media",
			`{"source":{"type":"base64","media_type":"Text/Plain; charset=utf-8","data":"QUJD"}}`,
			[]seenField{
				v("source.media_type", "media_type", "Text/Plain; charset=utf-8"),
				m("source.data", "data", "text/plain", "QUJD"),
			},
		},
		{
			"media type after data",
			`{"inlineData":{"data":"e30=","mimeType":"application/json"}}`,
			[]seenField{m("inlineData.data", "data", "application/json", "e30="), v("inlineData.mimeType", "mimeType", "application/json")},
		},
		{
			"binary media",
			`{"inlineData":{"data":"iVBO","mimeType":"image/png"}}`,
			[]seenField{v("inlineData.mimeType", "mimeType", "image/png")},
		},
		{
			"Anthropic text document has no media type",
			`{"type":"text","media_type":"text/plain","data":"abc"}`,
			[]seenField{v("media_type", "media_type", "text/plain"), v("data", "data", "abc")},
		},
		{"unknown media type", `{"media_type":null,"data":"abc"}`, []seenField{v("data", "data", "abc")}},
		{"text data URL", `{"url":"data:TEXT/markdown;charset=utf-8;base64,IyBh"}`, []seenField{m("url", "url", "text/markdown", "data:TEXT/markdown;charset=utf-8;base64,IyBh")}},
		{"data URL without a type", `{"file_data":"data:,a%20b"}`, []seenField{m("file_data", "file_data", "text/plain", "data:,a%20b")}},
		{"escaped data URL", `{"url":"data:application\/json;base64,e30="}`, []seenField{m("url", "url", "application/json", "data:application/json;base64,e30=")}},
		{"binary data URL", `{"image_url":"data:image/png;base64,iVBO"}`, nil},
		{"URL", `{"url":"https://x.test/a.png"}`, []seenField{v("url", "url", "https://x.test/a.png")}},
		{"data URL elsewhere", `{"text":"data:image/png;base64,iVBO"}`, []seenField{v("text", "text", "data:image/png;base64,iVBO")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newSecretsRedactor("SECRET")
			if _, err := Redact([]byte(tt.in), r.fn); err != nil {
				t.Fatal(err)
			}
			var got []seenField
			for i, f := range r.fields {
				got = append(got, seenField{f, r.seen[i]})
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("got\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestPaths(t *testing.T) {
	in := `{"model":"m","messages":[{"role":"usr","content":[{"type":"txt","text":"hi"}]},` + // not API words: passed
		`{"tool_calls":[{"function":{"arguments":"{\"command\":\"ls\",\"argv\":[\"-l\",{\"k\":\"v\"}]}"}}]},` +
		`"{\"a\":\"[\\\"deep\\\"]\"}"],"we\"ird.key":"x"}`
	r := newSecretsRedactor()
	if _, err := Redact([]byte(in), r.fn); err != nil {
		t.Fatal(err)
	}
	r.fields = slices.DeleteFunc(r.fields, func(f Field) bool { return f.Name })
	want := []Field{
		{Path: "model", Key: "model"},
		{Path: "messages[0].role", Key: "role"},
		{Path: "messages[0].content[0].type", Key: "type"},
		{Path: "messages[0].content[0].text", Key: "text"},
		{Path: "messages[1].tool_calls[0].function.arguments#.command", Key: "command"},
		{Path: "messages[1].tool_calls[0].function.arguments#.argv[0]", Key: ""},
		{Path: "messages[1].tool_calls[0].function.arguments#.argv[1].k", Key: "k"},
		{Path: "messages[2]#.a#[0]", Key: ""},
		{Path: `we"ird.key`, Key: `we"ird.key`},
	}
	if !slices.Equal(r.fields, want) {
		t.Fatalf("got fields\n%+v\nwant\n%+v", r.fields, want)
	}
}

func TestInvalidJSON(t *testing.T) {
	inputs := []string{
		``, ` `, `{`, `}`, `[`, `]`, `{"a"}`, `{"a":}`, `{"a" 1}`, `{1:2}`, `{"a":1,}`, `[1,]`, `[1 2]`,
		`{"a":1}x`, `{"a":1}{}`, `01`, `1.`, `.5`, `-`, `+1`, `1e`, `1e+`, `-01`, `NaN`, `'a'`,
		`tru`, `nul`, `falsy`, `"abc`, `"\x"`, "\"a\tb\"", `"\u12"`, `"\u12G4"`, `"\`, "\"a\x00\"",
		`["a" "b"]`, `{"a":"b" "c":1}`, `[1,,2]`, `{,}`, "\xef\xbb\xbf{}",
	}
	for _, in := range inputs {
		t.Run(fmt.Sprintf("%q", in), func(t *testing.T) {
			if json.Valid([]byte(in)) {
				t.Fatalf("test input %q is valid JSON", in)
			}
			_, err := Redact([]byte(in), func(Field, []byte) ([]Replacement, error) { return nil, nil })
			if !errors.Is(err, ErrInvalidJSON) {
				t.Fatalf("Redact got %v, want ErrInvalidJSON", err)
			}
			_, err = Restore([]byte(in+" cloak_"), func(Field, []byte) []byte { return nil })
			if !errors.Is(err, ErrInvalidJSON) {
				t.Fatalf("Restore got %v, want ErrInvalidJSON", err)
			}
		})
	}
	_, err := Redact([]byte(`{"a":"secretvalue",}`), func(Field, []byte) ([]Replacement, error) { return nil, nil })
	if err == nil || strings.Contains(err.Error(), "secretvalue") || !strings.Contains(err.Error(), "offset 19") {
		t.Fatalf("got error %v, want one naming offset 19 and no content", err)
	}
}

func TestDepth(t *testing.T) {
	nop := func(Field, []byte) ([]Replacement, error) { return nil, nil }
	tests := []struct {
		name    string
		in      string
		wantErr error
	}{
		{"arrays at the limit", strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth), nil},
		{"arrays past the limit", strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1), ErrTooDeep},
		{"objects past the limit", strings.Repeat(`{"a":`, MaxDepth+1) + "1" + strings.Repeat("}", MaxDepth+1), ErrTooDeep},
		{"unclosed and deep", strings.Repeat(`[{"a":`, 1<<20), ErrTooDeep},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Redact([]byte(tt.in), nop)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Redact got %v, want %v", err, tt.wantErr)
			}
			_, err = Restore([]byte(tt.in+"cloak_"), func(Field, []byte) []byte { return nil })
			if tt.wantErr == nil {
				tt.wantErr = ErrInvalidJSON // the suffix makes it invalid
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Restore got %v, want %v", err, tt.wantErr)
			}
		})
	}
}

// stringify returns v as a JSON string literal, escaped like AppendEscaped.
func stringify(v string) string {
	return `"` + string(AppendEscaped(nil, []byte(v))) + `"`
}

func TestNestingLimit(t *testing.T) {
	// A secret MaxNesting+2 levels of JSON text deep is still seen, as text.
	doc := `{"k":"SECRET"}`
	for range MaxNesting + 2 {
		doc = `{"k":` + stringify(doc) + `}`
	}
	r := newSecretsRedactor("SECRET")
	got, err := Redact([]byte(doc), r.fn)
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(got) || strings.Contains(string(got), "SECRET") {
		t.Fatalf("got %s, want valid JSON without the secret", got)
	}
	wantPath := strings.Repeat("k#.", MaxNesting) + "k"
	r.fields = slices.DeleteFunc(r.fields, func(f Field) bool { return f.Name })
	if len(r.fields) != 1 || r.fields[0].Path != wantPath {
		t.Fatalf("got fields %+v, want one at %q", r.fields, wantPath)
	}
	back, err := Restore(got, r.restore)
	if err != nil {
		t.Fatal(err)
	}
	equalDocs(t, back, []byte(doc))
}

func TestRestore(t *testing.T) {
	const value = "line1\n\"quoted\" back\\slash\ttab\x01</>&é"
	values := map[string]string{"cloak_t_a": value, "cloak_t_b": "plain"}
	fn := func(_ Field, s []byte) []byte {
		out := string(s)
		for k, v := range values {
			out = strings.ReplaceAll(out, k, v)
		}
		if out == string(s) {
			return nil
		}
		return []byte(out)
	}
	escaped := `line1\n\"quoted\" back\\slash\ttab\u0001</>&é`
	tests := []struct {
		name string
		in   string
		want string // "" means the body itself
	}{
		{"no marker", `{"a":"b\u00e9"}`, ""},
		{"marker only in a key", `{"x cloak_t_a":"b", "c":{"cloak_t_b":1}}`, `{"x ` + escaped + `":"b", "c":{"plain":1}}`},
		{"key in a thinking block kept", `[{"cloak_t_b":"cloak_t_b","type":"thinking"}]`, ""},
		{"nested key", `{"arguments":"{\"cloak_t_b\":1}"}`, `{"arguments":"{\"plain\":1}"}`},
		{"unknown token", `{"a":"cloak_t_zzz"}`, ""},
		{"plain", `{"a" : "v=cloak_t_a;", "b":"\u00e9"}`, `{"a" : "v=` + escaped + `;", "b":"\u00e9"}`},
		{"literal re-encoded whole", `["\u00e9 cloak_t_b \/"]`, `["é plain /"]`},
		{"thinking kept", `[{"thinking":"cloak_t_a","type":"thinking"},{"text":"cloak_t_b"}]`, `[{"thinking":"cloak_t_a","type":"thinking"},{"text":"plain"}]`},
		{"encrypted_content kept", `{"encrypted_content":"cloak_t_a"}`, ""},
		{"signature outside thinking restored", `{"signature":"cloak_t_b"}`, `{"signature":"plain"}`},
		{
			"nested arguments",
			`{"arguments":"{\"content\":\"cloak_t_a\",\"n\":1}"}`,
			`{"arguments":` + stringify(`{"content":"`+escaped+`","n":1}`) + `}`,
		},
		// Lone surrogate escapes survive re-encoding (AppendUnquoted, AppendEscaped).
		{"lone high before a token", `{"a":"\ud83d cloak_t_b"}`, `{"a":"\ud83d plain"}`},
		{"lone low after a token", `["cloak_t_b\udc00\u00e9"]`, `["plain\udc00é"]`},
		{"lone halves apart", `["\ud83d cloak_t_a \ude00"]`, `["\ud83d ` + escaped + ` \ude00"]`},
		{"surrogate pair becomes the character", `["\ud83d\ude00cloak_t_b"]`, "[\"\U0001F600plain\"]"},
		{"lone surrogate in upper case", `["\uDBFFcloak_t_b"]`, `["\udbffplain"]`},
		{"raw surrogate encoding", "[\"\xed\xa0\x80cloak_t_b\"]", "[\"\uFFFD\uFFFD\uFFFDplain\"]"},
		{"lone surrogate, nothing restored", `["\ud800",{"b":"\ud800cloak_t_zzz"}]`, ""},
		{
			"nested, lone surrogate escaped in the inner text",
			`{"arguments":"{\"x\":\"\\ud83d cloak_t_b\"}"}`,
			`{"arguments":"{\"x\":\"\\ud83d plain\"}"}`,
		},
		{
			// The outer literal's escape holds the surrogate; the re-encoded inner
			// literal carries it as its own escape, which decodes the same.
			"nested, lone surrogate escaped in the outer literal",
			`{"arguments":"{\"x\":\"\ud83d cloak_t_b\",\"y\":\"\udc00\"}"}`,
			`{"arguments":"{\"x\":\"\\ud83d plain\",\"y\":\"\udc00\"}"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := []byte(tt.in)
			got, err := Restore(in, fn)
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == "" {
				if !sameSlice(got, in) {
					t.Fatalf("got %s, want the body itself", got)
				}
				return
			}
			if string(got) != tt.want {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
			if !json.Valid(got) {
				t.Fatalf("got invalid JSON %s", got)
			}
		})
	}
}

// TestRestoreNestedValue checks that a value restored two levels deep decodes back
// exactly.
func TestRestoreNestedValue(t *testing.T) {
	value := pemDecoded + "\n\"q\" \\ \x7f"
	inner := `{"old_string":"cloak_t_a","file":"a.go"}`
	body := `{"tool_calls":[{"function":{"arguments":` + stringify(`{"edits":[`+stringify(inner)+`]}`) + `}}]}`
	got, err := Restore([]byte(body), func(_ Field, s []byte) []byte {
		return []byte(strings.ReplaceAll(string(s), "cloak_t_a", value))
	})
	if err != nil {
		t.Fatal(err)
	}
	var outer struct {
		ToolCalls []struct {
			Function struct{ Arguments string }
		} `json:"tool_calls"`
	}
	if err := json.Unmarshal(got, &outer); err != nil {
		t.Fatalf("outer: %v in %s", err, got)
	}
	var args struct{ Edits []string }
	if err := json.Unmarshal([]byte(outer.ToolCalls[0].Function.Arguments), &args); err != nil {
		t.Fatalf("arguments: %v", err)
	}
	var edit struct {
		OldString string `json:"old_string"`
		File      string
	}
	if err := json.Unmarshal([]byte(args.Edits[0]), &edit); err != nil {
		t.Fatalf("edit: %v", err)
	}
	if edit.OldString != value || edit.File != "a.go" {
		t.Fatalf("got %q, %q, want %q, %q", edit.OldString, edit.File, value, "a.go")
	}
}

func TestAppendEscaped(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"empty", "", ""},
		{"plain", "abc xyz", "abc xyz"},
		{"quote and backslash", `a"b\c`, `a\"b\\c`},
		{"short escapes", "\n\r\t\b\f", `\n\r\t\b\f`},
		{"other controls", "\x00\x1f\x0b", `\u0000\u001f\u000b`},
		{"html and unicode kept", "<a>&é\u2028", "<a>&é\u2028"},
		{"invalid UTF-8 kept", "\xff\xfe", "\xff\xfe"},
		{"DEL kept", "\x7f", "\x7f"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(AppendEscaped([]byte("pre:"), []byte(tt.in)))
			if got != "pre:"+tt.want {
				t.Fatalf("got %q, want %q", got, "pre:"+tt.want)
			}
			var dec string
			if err := json.Unmarshal([]byte(`"`+tt.want+`"`), &dec); err != nil {
				t.Fatalf("not a valid literal: %v", err)
			}
		})
	}
}

func TestModel(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"first", `{"model":"claude-sonnet-4-5","max_tokens":1}`, "claude-sonnet-4-5"},
		{"after nested values", `{"a":{"b":["}{,]",1,{"c":null}]},"n":-1.5e3, "t":true ,"model" : "gpt-5"}`, "gpt-5"},
		{"escaped", `{"mod\u0065l":"a\u0062"}`, "ab"},
		{"missing", `{"a":1}`, ""},
		{"nested only", `{"a":{"model":"x"}}`, ""},
		{"not a string", `{"model":5}`, ""},
		{"array body", `[{"model":"x"}]`, ""},
		{"garbage", `{"a":`, ""},
		{"empty", ``, ""},
		{"too long", `{"model":"` + strings.Repeat("m", 300) + `"}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Model([]byte(tt.in)); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// Planted values in testdata: secrets must be replaced, canaries (in skipped values)
// must never reach the callback.
var (
	plantedSecrets = []string{
		"AKIAIOSFODNN7EXAMPLE",
		"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		"ghp_FAKEfakeFAKEfakeFAKEfakeFAKEfake1234",
		"sk_live_FAKEfakeFAKEfake0123456789",
		"sk-proj-FAKEfakeFAKEfakeFAKEfake0123",
		"hunter2-FAKE-PW-77",
		"Pa55w0rdDBsecret9",
		"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\nQyNTUxOQAAACDFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEAAAAJgAAAAA\n-----END OPENSSH PRIVATE KEY-----",
	}
	wantPaths = map[string][]string{
		"anthropic_messages.json": {
			"messages[0].content[0].text",
			"messages[1].content[3].input.command",
			"messages[2].content[1].content[0].text",
			"messages[2].content[2].content#.env.DATABASE_URL",
			"messages[2].content[2].content#.webhook.signature",
			"messages[2].content[2].content#.keys", // the member name
			"messages[2].content[4].source.data",
		},
		"openai_chat.json": {
			"messages[1].content[0].text",
			"messages[1].content[2].image_url.url",
			"messages[2].tool_calls[0].function.arguments#.content#.stripe_key",
			"messages[2].tool_calls[1].function.arguments#.command",
			"messages[4].content#.note",
			"messages[4].content#.env", // the member name
			"messages[4].content#.item.data",
		},
		"openai_responses.json": {
			"input[1].content[0].text",
			"input[2].summary[0].text", // a token, left as it is
			"input[3].arguments#.command[2]",
			"input[4].output#.output",
			"input[4].output#.item.note",
		},
		"gemini_generate.json": {
			"contents[0].parts[0].text",
			"contents[1].parts[1].functionCall.args.description",
			"contents[2].parts[0].functionResponse.response.output",
			"contents[2].parts[1].functionResponse.response.data",
		},
	}
)

func TestProviderBodies(t *testing.T) {
	files, err := filepath.Glob("testdata/*.json")
	if err != nil || len(files) != len(wantPaths) {
		t.Fatalf("got %d testdata files (%v), want %d", len(files), err, len(wantPaths))
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			in, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			r := newSecretsRedactor(plantedSecrets...)
			out, err := Redact(in, r.fn)
			if err != nil {
				t.Fatal(err)
			}
			if !json.Valid(out) {
				t.Fatalf("got invalid JSON")
			}
			for _, s := range r.seen {
				if strings.Contains(s, "CANARY") {
					t.Fatalf("callback saw skipped value %q", s)
				}
			}
			if got, want := strings.Count(string(out), "CANARY"), strings.Count(string(in), "CANARY"); got != want || want == 0 {
				t.Fatalf("got %d canaries, want %d (> 0)", got, want)
			}
			replaced := 0
			for _, s := range allStrings(t, out) {
				for _, sec := range plantedSecrets {
					if strings.Contains(s, sec) {
						t.Fatalf("secret %.8q... left in %q", sec, s)
					}
				}
				replaced += strings.Count(s, "cloak_test_")
			}
			if replaced == 0 {
				t.Fatal("nothing replaced")
			}
			checkFidelity(t, in, out, func(orig string) bool {
				for _, sec := range plantedSecrets {
					if strings.Contains(orig, sec) {
						return true
					}
				}
				return false
			})
			seen := map[string]bool{}
			for _, f := range r.fields {
				seen[f.Path] = true
				if !strings.HasSuffix(f.Path, f.Key) {
					t.Fatalf("key %q is not the end of path %q", f.Key, f.Path)
				}
			}
			for _, p := range wantPaths[filepath.Base(file)] {
				if !seen[p] {
					t.Errorf("path %q not seen", p)
				}
			}
			back, err := Restore(out, r.restore)
			if err != nil {
				t.Fatal(err)
			}
			equalDocs(t, back, in)
			if got, want := Model(in), modelOf(t, in); got != want {
				t.Fatalf("Model got %q, want %q", got, want)
			}
		})
	}
}

func modelOf(t *testing.T, b []byte) string {
	var v struct{ Model string }
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v.Model
}

// RedactSkip: a skipped string is neither decoded nor visited (nor the JSON inside
// it), the others are as with Redact, and raw is the literal with its escapes.
func TestRedactSkip(t *testing.T) {
	body := []byte(`{"a":"x\ny","b":"{\"c\":\"secret\"}","d":"secret"}`)
	var raws, visited []string
	skip := func(f Field, raw []byte) bool {
		raws = append(raws, string(raw))
		return f.Key == "b" || f.Key == "d"
	}
	out, err := RedactSkip(body, func(f Field, raw, s []byte) ([]Replacement, error) {
		visited = append(visited, f.Path+"="+string(s)+"|"+string(raw))
		if string(s) == "secret" {
			return []Replacement{{Start: 0, End: len(s), With: "T"}}, nil
		}
		return nil, nil
	}, skip)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != string(body) {
		t.Errorf("skipped strings were changed: %s", out)
	}
	wantRaws := []string{"a", `x\ny`, "b", `{\"c\":\"secret\"}`, "d", "secret"}
	if !slices.Equal(raws, wantRaws) {
		t.Errorf("raws: got %q, want %q", raws, wantRaws)
	}
	wantVisited := []string{"=a|a", "a=x\ny|x\\ny", "=b|b", "=d|d"}
	if !slices.Equal(visited, wantVisited) {
		t.Errorf("visited: got %q, want %q", visited, wantVisited)
	}
	// Not skipping b: its nested JSON is walked and the skip func asked about "c".
	raws, visited = nil, nil
	out, err = RedactSkip(body, func(f Field, raw, s []byte) ([]Replacement, error) {
		if string(s) == "secret" {
			return []Replacement{{Start: 0, End: len(s), With: "T"}}, nil
		}
		return nil, nil
	}, func(f Field, raw []byte) bool { raws = append(raws, f.Path+"|"+string(raw)); return false })
	if err != nil || string(out) != `{"a":"x\ny","b":"{\"c\":\"T\"}","d":"T"}` {
		t.Errorf("got %s, %v", out, err)
	}
	if !slices.Contains(raws, `b#.c|secret`) {
		t.Errorf("nested strings not offered to skip: %q", raws)
	}
}
