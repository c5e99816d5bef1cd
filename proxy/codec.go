package proxy

import (
	"bytes"
	"compress/flate"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Errors a body can be refused with. Their text is safe to show the agent.
var (
	ErrBodyTooLarge    = errors.New("request body is larger than the configured limit")
	ErrUnknownEncoding = errors.New("request body has a Content-Encoding cloakroom cannot decode")
	ErrBrokenEncoding  = errors.New("request body could not be decoded with its Content-Encoding")
	ErrTooManyCodings  = errors.New("request body has more Content-Encoding layers than cloakroom decodes")
)

// Decoding limits: a few layers at most, and zstd frames may not ask for windows larger
// than maxZstdWindow (a 14-byte frame could otherwise make the decoder allocate 512 MiB).
const (
	maxCodings    = 3
	maxZstdWindow = 32 << 20
)

// decodeBody undoes the Content-Encoding list enc (applied in order, so undone in
// reverse) and returns the decoded body, never more than limit bytes.
func decodeBody(raw []byte, enc string, limit int64) ([]byte, error) {
	codings := splitCodings(enc)
	if len(codings) > maxCodings {
		return nil, ErrTooManyCodings
	}
	body := raw
	for i := len(codings) - 1; i >= 0; i-- {
		r, err := decoder(codings[i], body, limit)
		if err != nil {
			return nil, err
		}
		out, err := readLimited(r, limit)
		if cerr := r.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("%w (%s): %v", ErrBrokenEncoding, codings[i], cerr)
		}
		if err != nil {
			if errors.Is(err, ErrBodyTooLarge) {
				return nil, err
			}
			return nil, fmt.Errorf("%w (%s)", ErrBrokenEncoding, codings[i])
		}
		body = out
	}
	return body, nil
}

// splitCodings parses a Content-Encoding header value, dropping identity.
func splitCodings(enc string) []string {
	var out []string
	for _, c := range strings.Split(enc, ",") {
		c = strings.ToLower(strings.TrimSpace(c))
		if c != "" && c != "identity" {
			out = append(out, c)
		}
	}
	return out
}

func decoder(coding string, body []byte, limit int64) (io.ReadCloser, error) {
	switch coding {
	case "gzip", "x-gzip":
		r, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, fmt.Errorf("%w (gzip)", ErrBrokenEncoding)
		}
		return r, nil
	case "deflate":
		// RFC 9110 deflate is zlib-wrapped; some clients send raw deflate.
		if r, err := zlib.NewReader(bytes.NewReader(body)); err == nil {
			return r, nil
		}
		return flate.NewReader(bytes.NewReader(body)), nil
	case "br":
		return io.NopCloser(brotli.NewReader(bytes.NewReader(body))), nil
	case "zstd":
		r, err := zstd.NewReader(bytes.NewReader(body), zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderMaxWindow(uint64(max(min(limit, maxZstdWindow), zstd.MinWindowSize))),
			zstd.WithDecoderMaxMemory(uint64(limit)+1))
		if err != nil {
			return nil, fmt.Errorf("%w (zstd)", ErrBrokenEncoding)
		}
		return r.IOReadCloser(), nil
	default:
		return nil, fmt.Errorf("%w: %q", ErrUnknownEncoding, safeToken(coding))
	}
}

// readLimited reads r to the end, failing with ErrBodyTooLarge past limit bytes.
func readLimited(r io.Reader, limit int64) ([]byte, error) {
	return readSized(r, -1, limit)
}

// readSized is readLimited for a body whose length is announced (size >= 0): the
// buffer is allocated once, not grown by doubling, so a 32 MiB body costs 32 MiB
// rather than the ~80 MiB of garbage io.ReadAll leaves. A wrong announcement is no
// harm: the buffer still grows, and the limit still holds.
func readSized(r io.Reader, size, limit int64) ([]byte, error) {
	if size < 0 || size > limit {
		size = 512
	}
	lr := io.LimitReader(r, limit+1)
	b := make([]byte, 0, size+1) // +1: room to see EOF without growing
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)] // let append pick the growth
		}
		n, err := lr.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if int64(len(b)) > limit {
		return nil, ErrBodyTooLarge
	}
	return b, nil
}

// safeToken trims a header-supplied word for use in an error message.
func safeToken(s string) string {
	const max = 32
	b := make([]byte, 0, min(len(s), max))
	for i := 0; i < len(s) && len(b) < max; i++ {
		if c := s[i]; c >= 0x20 && c < 0x7f && c != '"' {
			b = append(b, c)
		}
	}
	return string(b)
}
