package main

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cloakroom/cloakroom/bench"
)

// BenchmarkScan runs each engine on each corpus body. gitleaks takes about 10 s per
// 10 MB run: bound it with -benchtime, e.g.
//
//	go test -run '^$' -bench 'Scan/gitleaks/10MB' -benchtime 1x
func BenchmarkScan(b *testing.B) {
	c := bench.New(seed)
	engs, _, err := engines(c, 0)
	if err != nil {
		b.Fatal(err)
	}
	for _, e := range engs {
		for _, size := range []string{"10KB", "100KB", "1MB", "10MB"} {
			b.Run(e.id+"/"+size, func(b *testing.B) {
				body := c.Request(sizeBytes[size], false)
				b.SetBytes(int64(len(body)))
				b.ReportAllocs()
				for b.Loop() {
					e.scan(body)
				}
			})
		}
	}
}

// TestPlanted checks the sanity column of the report on a 100 KB body, where the AWS
// secret also comes back in plain prose: cloakroom as the proxy uses it finds every
// occurrence (the prose one through its known-value set) and nothing else; its raw
// scan finds all but the prose one; gitleaks finds the secrets its default rules
// cover, the AWS key id, the GitHub token and the private key.
func TestPlanted(t *testing.T) {
	c := bench.New(seed)
	engs, _, err := engines(c, 0)
	if err != nil {
		t.Fatal(err)
	}
	body := c.Request(100<<10, false)
	tests := []struct {
		id         string
		wantMissed []string
	}{
		{"cloakroom-json", nil},
		{"cloakroom-raw", []string{"aws-secret"}},
		{"gitleaks", []string{"aws-secret", "pg-password"}},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			i := slices.IndexFunc(engs, func(e engine) bool { return e.id == tt.id })
			if i < 0 {
				t.Fatalf("no engine %s", tt.id)
			}
			e := engs[i]
			res := e.scan(body)
			vals, rules := e.values(body, res)
			if got := e.count(res); got != len(vals) {
				t.Errorf("count: got %d, want %d values", got, len(vals))
			}
			found, total, missed, other := planted(body, c.Secrets.All(), vals, rules)
			if total != 6 {
				t.Errorf("planted occurrences: got %d, want 6", total)
			}
			if !slices.Equal(missed, tt.wantMissed) {
				t.Errorf("missed: got %v, want %v (found %d of %d)", missed, tt.wantMissed, found, total)
			}
			if tt.id != "gitleaks" && len(other) > 0 {
				t.Errorf("other findings: got %v, want none", other)
			}
		})
	}
}

func TestPlantedCounts(t *testing.T) {
	body := []byte(`{"a":"x SECRET1 y","b":"SECRET1","c":"line\nSECRET2"}`)
	secrets := []string{"SECRET1", "line\nSECRET2"}
	tests := []struct {
		name       string
		vals       []string
		wantFound  int
		wantMissed []string
		wantOther  int
	}{
		{name: "all", vals: []string{"SECRET1", "SECRET1", `line\nSECRET2`}, wantFound: 3},
		{name: "one occurrence short", vals: []string{"SECRET1", "line\nSECRET2", "other"}, wantFound: 2,
			wantMissed: []string{secretNames[0]}, wantOther: 1},
		{name: "none", vals: nil, wantFound: 0, wantMissed: []string{secretNames[0], secretNames[1]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rules := make([]string, len(tt.vals))
			for i := range rules {
				rules[i] = "r"
			}
			found, total, missed, other := planted(body, secrets, tt.vals, rules)
			if total != 3 || found != tt.wantFound {
				t.Errorf("got %d of %d found, want %d of 3", found, total, tt.wantFound)
			}
			if !slices.Equal(missed, tt.wantMissed) {
				t.Errorf("missed: got %v, want %v", missed, tt.wantMissed)
			}
			if other["r"] != tt.wantOther {
				t.Errorf("other: got %d, want %d", other["r"], tt.wantOther)
			}
		})
	}
}

func TestReport(t *testing.T) {
	var b bytes.Buffer
	if err := run(&b, "10KB", 0, 5, 3, 0, 1, 1, 0, 1); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"| 10KB (", engineJSON, engineRaw, engineGitleaks, "at least 200 MB/s per core", "3 rounds", "MB/s range"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	for _, s := range bench.New(seed).Secrets.All() {
		if strings.Contains(out, s) || strings.Contains(out, jsonText(s)) {
			t.Error("report holds a planted secret")
		}
	}
}

// A cell's CPU time is the median of its rounds'.
func TestSettle(t *testing.T) {
	for _, tt := range []struct {
		cpus []time.Duration
		want time.Duration
	}{
		{[]time.Duration{5}, 5},
		{[]time.Duration{9, 1, 5}, 5},
		{[]time.Duration{9, 1, 5, 7}, 5},
		{[]time.Duration{3, 3, 8, 1, 2}, 3},
	} {
		r := result{cpu: 100, cpus: tt.cpus}
		r.settle()
		if r.cpu != tt.want {
			t.Errorf("settle(%v) = %v, want %v", tt.cpus, r.cpu, tt.want)
		}
	}
}
