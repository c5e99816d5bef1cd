package main

import (
	"strings"
	"testing"
)

func TestParseVmHWM(t *testing.T) {
	for _, tc := range []struct {
		name    string
		status  string
		want    int64
		wantErr bool
	}{
		{"linux", "Name:\tcloakroom\nVmPeak:\t 1300000 kB\nVmHWM:\t   45312 kB\nVmRSS:\t   20000 kB\n", 45312, false},
		{"missing", "Name:\tcloakroom\nVmRSS:\t 20000 kB\n", 0, true},
		{"garbled", "VmHWM:\tlots kB\n", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseVmHWM([]byte(tc.status))
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("got %d, %v; want %d, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestProxyAddr(t *testing.T) {
	log := "\nA new CA was created\n" +
		`{"time":"x","level":"INFO","msg":"other","proxy":"1.2.3.4:5"}` + "\n" +
		`{"time":"x","level":"INFO","msg":"cloakroom serving","proxy":"127.0.0.1:34485","admin":"127.0.0.1:39091"}` + "\n"
	got, err := proxyAddr(strings.NewReader(log))
	if err != nil || got != "127.0.0.1:34485" {
		t.Errorf("got %q, %v; want 127.0.0.1:34485", got, err)
	}
	if _, err := proxyAddr(strings.NewReader("cloakroom: listen and admin must differ\n")); err == nil ||
		!strings.Contains(err.Error(), "must differ") {
		t.Errorf("got %v, want an error quoting the last line", err)
	}
}

func TestParseSizes(t *testing.T) {
	if got, err := parseSizes("32, 64"); err != nil || len(got) != 2 || got[0] != 32 || got[1] != 64 {
		t.Errorf("got %v, %v; want [32 64]", got, err)
	}
	for _, bad := range []string{"", "0", "x", "32,-1"} {
		if _, err := parseSizes(bad); err == nil {
			t.Errorf("parseSizes(%q): got no error", bad)
		}
	}
}
