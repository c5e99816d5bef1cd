package proxy

import (
	"errors"
	"runtime"
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
