package sse

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

// TestLoneCRLinearWork: a huge event whose lines end in a lone '\r' is read with a
// bounded number of newline searches per byte, not a rescan of the buffer per line.
// It counts bytes examined, never time.
func TestLoneCRIsNotQuadratic(t *testing.T) {
	ev := strings.Repeat("data: {\"type\":\"ping\"}\r", (2<<20)/22) + "\r"
	src := &countingReader{r: strings.NewReader(ev)}
	r := NewReader(io.NopCloser(src), passRestorer{})
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, []byte(ev)) {
		t.Fatal("stream changed")
	}
	rd := r.(*reader)
	if rd.nlSearched > 4*int64(len(ev)) {
		t.Fatalf("searched %d bytes for newlines in a %d-byte stream: quadratic", rd.nlSearched, len(ev))
	}
}

type countingReader struct{ r io.Reader }

func (c *countingReader) Read(p []byte) (int, error) { return c.r.Read(p[:min(len(p), 4096)]) }

type passRestorer struct{}

func (passRestorer) Text(f []byte, _ bool) []byte { return f }
func (passRestorer) JSON(d []byte) []byte         { return d }
