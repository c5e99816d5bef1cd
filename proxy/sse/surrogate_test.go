package sse

import (
	"strings"
	"testing"
)

// TestLoneSurrogates checks that a delta string re-encoded around a restored token keeps
// its lone surrogate escapes exactly, held-back text or not.
func TestLoneSurrogates(t *testing.T) {
	delta := func(typ, field, lit string) string {
		return sseEvent("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"`+typ+`","`+field+`":"`+lit+`"}}`)
	}
	text := func(lit string) string { return delta("text_delta", "text", lit) }
	args := func(lit string) string { return delta("input_json_delta", "partial_json", lit) }
	chat := func(lit string) string {
		return sseEvent("", `{"object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"`+lit+`"},"finish_reason":null}]}`)
	}
	stop := sseEvent("content_block_stop", `{"type":"content_block_stop","index":0}`)
	done := sseEvent("", "[DONE]")
	tests := []struct {
		name string
		in   []string // events
		want []string
	}{
		{
			"lone high before a token",
			[]string{text(`\ud83d ` + tokAWS), stop},
			[]string{text(`\ud83d ` + valAWS), stop},
		},
		{
			"lone low after a token, upper-case hex",
			[]string{text(tokAWS + `\uDC00!`), stop},
			[]string{text(valAWS + `\udc00!`), stop},
		},
		{
			"both halves apart around a token",
			[]string{text(`\ud83d ` + tokPass + ` \ude00`), stop},
			[]string{text(`\ud83d ` + valPass + ` \ude00`), stop}, // valPass needs no escaping
		},
		{
			"token then a held prefix",
			[]string{text(tokAWS + `\udc00 clo`), text(`ak_`), stop},
			[]string{text(valAWS + `\udc00 `), text(``), text(`cloak_`), stop},
		},
		{
			"held prefix, own escaping kept",
			[]string{text(`\ud83d\u0041 clo`), stop},
			[]string{text(`\ud83d\u0041 `), text(`clo`), stop},
		},
		{
			"held prefix completes a token after a surrogate",
			[]string{text(`\ud800 cloak_aws_`), text(tokAWS[len("cloak_aws_"):] + `\ud800`), stop},
			[]string{text(`\ud800 `), text(valAWS + `\ud800`), stop},
		},
		{
			"JSON text, surrogate escaped in the text",
			[]string{args(`{\"a\":\"\\ud83d ` + tokPEM + `\"}`), stop},
			[]string{args(`{\"a\":\"\\ud83d ` + jsonBody(jsonBody(valPEM)) + `\"}`), stop},
		},
		{
			"JSON text, surrogate escaped in the delta",
			[]string{args(`{\"a\":\"\ud83d ` + tokAWS + `\"}`), stop},
			[]string{args(`{\"a\":\"\ud83d ` + valAWS + `\"}`), stop},
		},
		{
			"openai chat",
			[]string{chat(`\udbff` + tokAWS + `\udfff`), done},
			[]string{chat(`\udbff` + valAWS + `\udfff`), done},
		},
		{
			// Raw (invalid UTF-8) surrogate bytes are not an escape: re-encoded, they
			// become the three U+FFFD decoders read them as.
			"raw surrogate encoding",
			[]string{text("\xed\xa0\x80" + tokAWS), stop},
			[]string{text("\uFFFD\uFFFD\uFFFD" + valAWS), stop},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, want := strings.Join(tt.in, ""), strings.Join(tt.want, "")
			if got := run(t, chop(in, 3), &fakeRestorer{}); string(got) != want {
				t.Errorf("got  %q\nwant %q", got, want)
			}
		})
	}
}
