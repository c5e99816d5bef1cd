package sse

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

const benchProse = "The deploy script reads the AWS credentials from the environment, " +
	"so the quickest fix is to export them before running `make release`. " +
	"In `config/settings.py` the client is created once per process:\n\n" +
	"```python\nclient = boto3.client(\"s3\", region_name=\"eu-west-1\")\n```\n\n" +
	"If the bucket policy denies access, check the IAM role attached to the instance. "

// benchStream is an Anthropic stream of about size bytes of small text deltas, with a
// token every tokenEvery deltas (never if 0).
func benchStream(size, tokenEvery int) []byte {
	var b bytes.Buffer
	b.WriteString(sseEvent("message_start", `{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5"}}`))
	b.WriteString(sseEvent("content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`))
	text := benchProse
	for i := 0; b.Len() < size; i++ {
		if len(text) < 64 {
			text += benchProse
		}
		n := 8 + i%17
		d := text[:n]
		text = text[n:]
		if tokenEvery > 0 && i%tokenEvery == 0 {
			d += " " + tokAWS[:i%len(tokAWS)]
			text = tokAWS[i%len(tokAWS):] + " " + text
		}
		b.WriteString(textDelta(0, d))
		if i%50 == 0 {
			b.WriteString(sseEvent("ping", `{"type": "ping"}`))
		}
	}
	b.WriteString(sseEvent("content_block_stop", `{"type":"content_block_stop","index":0}`))
	b.WriteString(sseEvent("message_stop", `{"type":"message_stop"}`))
	return b.Bytes()
}

type rewindReader struct{ bytes.Reader }

func (*rewindReader) Close() error { return nil }

func BenchmarkReader(b *testing.B) {
	for _, bc := range []struct {
		name  string
		every int
	}{{"no tokens", 0}, {"token every 100 deltas", 100}} {
		b.Run(strings.ReplaceAll(bc.name, " ", "_"), func(b *testing.B) {
			in := benchStream(1<<20, bc.every)
			src := &rewindReader{}
			rs := &fakeRestorer{}
			buf := make([]byte, 32<<10)
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				src.Reset(in)
				if _, err := io.CopyBuffer(io.Discard, onlyReader{NewReader(src, rs)}, buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// onlyReader hides any WriterTo/ReaderFrom so that CopyBuffer uses buf.
type onlyReader struct{ io.Reader }
