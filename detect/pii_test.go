package detect

import (
	"fmt"
	"strings"
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
			if len(r.TruePositives) == 0 || len(r.FalsePositives) == 0 {
				t.Fatalf("got %d true and %d false positives, want at least one of each",
					len(r.TruePositives), len(r.FalsePositives))
			}
			if r.Description == "" {
				t.Error("got no description, want one")
			}
			for i, s := range r.TruePositives {
				if s.Secret == "" || !strings.Contains(s.Text, s.Secret) {
					t.Errorf("true positive %d: secret is empty or not in its text", i)
					continue
				}
				fs := run(d, s)
				ok := false
				for _, f := range fs {
					if f.RuleID == r.ID && s.Text[f.Start:f.End] == s.Secret {
						ok = true
					}
				}
				if !ok {
					want := strings.Index(s.Text, s.Secret)
					t.Errorf("true positive %d (%q): got %s, want %s[%d:%d]", i, s.Text, describe(fs), r.ID, want, want+len(s.Secret))
				}
			}
			for i, s := range r.FalsePositives {
				for _, f := range run(d, s) {
					if f.RuleID == r.ID {
						t.Errorf("false positive %d (%q): got %s[%d:%d], want none", i, s.Text, f.RuleID, f.Start, f.End)
					}
				}
			}
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
