package detect

import (
	"fmt"
	"testing"
)

func newPII(t testing.TB) *Detector {
	t.Helper()
	d, err := New(Config{PII: true})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return d
}

// TestPIIRuleSamples runs the PII rules' own samples through a Detector holding the
// default catalog and the PII class, as TestRuleSamples does for the catalog.
func TestPIIRuleSamples(t *testing.T) {
	d := newPII(t)
	for _, r := range PIIRules() {
		t.Run(r.ID, func(t *testing.T) {
			if r.Description == "" {
				t.Error("got no description, want one")
			}
			checkSamples(t, d, r)
		})
	}
}

// BenchmarkScanPII is BenchmarkScan's 1 MiB body with the PII class on (its e-mail,
// phone, card and IBAN keywords add prefilter hits on ordinary text).
func BenchmarkScanPII(b *testing.B) {
	d := newPII(b)
	for _, planted := range []bool{false, true} {
		in := []byte(benchText(1<<20, planted))
		b.Run(fmt.Sprintf("1024KB/planted=%v", planted), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				d.Scan(in)
			}
		})
	}
}
