package proxy

import (
	"bytes"
	"context"
	"encoding/base64"
	"unicode/utf8"

	"github.com/cloakroom/cloakroom/proxy/walk"
)

// minEncodedLen is the shortest base64 payload worth decoding: shorter ones cannot
// carry a secret with its context.
const minEncodedLen = 16

// redactEncoded handles text that travels base64-encoded: a data: URL or the data of
// a media object with a text-like media type (walk skips binary media). It decodes the
// payload, scans the text, and when it holds secrets, replaces the whole payload with
// the base64 of the redacted text. ok is false when s is not such a payload, and the
// caller scans s as it is.
func (p *Proxy) redactEncoded(ctx context.Context, st *reqState, f walk.Field, s []byte) (reps []walk.Replacement, ok bool, err error) {
	start := 0
	if len(s) >= 5 && bytes.EqualFold(s[:5], []byte("data:")) {
		comma := bytes.IndexByte(s, ',')
		if comma < 0 || !bytes.HasSuffix(bytes.ToLower(s[:comma]), []byte(";base64")) {
			return nil, false, nil
		}
		start = comma + 1
	} else if f.MediaType == "" {
		return nil, false, nil
	}
	payload := bytes.Join(bytes.Fields(s[start:]), nil) // base64 may be wrapped
	if len(payload) < minEncodedLen {
		return nil, false, nil
	}
	enc := base64.StdEncoding
	if bytes.IndexByte(payload, '=') < 0 && len(payload)%4 != 0 {
		enc = base64.RawStdEncoding
	}
	text, derr := enc.DecodeString(string(payload))
	if derr != nil || !utf8.Valid(text) {
		return nil, false, nil // not base64 of text: scan it as it stands
	}
	st.payloads++
	inner, err := p.tokenizeFindings(ctx, st, f.Path+"(base64)", text, p.findings("", text, nil))
	if err != nil {
		return nil, true, err
	}
	if len(inner) == 0 {
		return nil, false, nil // nothing inside; the caller still scans s itself
	}
	redacted := enc.EncodeToString(walk.Splice(text, inner))
	return []walk.Replacement{{Start: start, End: len(s), With: redacted}}, true, nil
}
