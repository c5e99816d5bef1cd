package proxy

import (
	"errors"
	"runtime"
	"strings"
	"testing"
)

// TestZstdWindowBounded: a tiny frame asking for a 512 MiB window is refused without
// the decoder allocating anything like it.
func TestZstdWindowBounded(t *testing.T) {
	bomb := []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x98, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := decodeBody(bomb, "zstd", DefaultMaxBodyBytes)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrBrokenEncoding) {
		t.Fatalf("got %v, want ErrBrokenEncoding", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20 {
		t.Fatalf("decoding a 14-byte frame allocated %d MiB", grew>>20)
	}
}

func TestSplitCodings(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{"", 0}, {"identity", 0}, {"gzip", 1}, {" GZIP , identity, br ", 2}, {",,zstd,", 1},
	}
	for _, tt := range tests {
		if got := splitCodings(tt.in); len(got) != tt.want {
			t.Errorf("splitCodings(%q) = %v, want %d codings", tt.in, got, tt.want)
		}
	}
	if _, err := decodeBody([]byte("x"), "gzip,gzip,gzip,gzip", 100); !errors.Is(err, ErrTooManyCodings) {
		t.Fatalf("got %v, want ErrTooManyCodings", err)
	}
}

func TestReadSized(t *testing.T) {
	body := strings.Repeat("x", 1000)
	for _, tc := range []struct {
		name        string
		size, limit int64
		wantErr     error
	}{
		{"announced", 1000, 2000, nil},
		{"unknown", -1, 2000, nil},
		{"announced too small", 10, 2000, nil},
		{"announced too large", 5000, 2000, nil},
		{"at the limit", 1000, 1000, nil},
		{"over the limit", 1000, 999, ErrBodyTooLarge},
		{"over the limit, unannounced", -1, 999, ErrBodyTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readSized(strings.NewReader(body), tc.size, tc.limit)
			if err != tc.wantErr || (err == nil && string(got) != body) {
				t.Errorf("got %d bytes, %v; want %v", len(got), err, tc.wantErr)
			}
		})
	}
}
