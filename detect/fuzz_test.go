package detect

import (
	"bytes"
	"testing"
)

// checkFindings fails unless fs are in range, sorted and non-overlapping.
func checkFindings(t *testing.T, fs []Finding, n int) {
	t.Helper()
	prev := 0
	for i, f := range fs {
		if f.Start < 0 || f.End > n || f.Start >= f.End {
			t.Fatalf("finding %d: got span [%d:%d], want inside [0:%d] and non-empty", i, f.Start, f.End, n)
		}
		if f.Start < prev {
			t.Fatalf("finding %d: got start %d before previous end %d, want sorted and non-overlapping", i, f.Start, prev)
		}
		if f.RuleID == "" || !validClass(f.Class) {
			t.Fatalf("finding %d: got rule %q class %q, want both set", i, f.RuleID, f.Class)
		}
		prev = f.End
	}
}

func FuzzScan(f *testing.F) {
	for _, r := range DefaultRules() {
		for _, s := range append(r.TruePositives, r.FalsePositives...) {
			f.Add(s.Key, []byte(s.Text))
		}
	}
	f.Add("", []byte(benchText(2048, true)))
	f.Add("password", []byte(`"\"password\": \"x`))
	d, err := New(Config{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, key string, in []byte) {
		orig := bytes.Clone(in)
		checkFindings(t, d.Scan(in), len(in))
		checkFindings(t, d.ScanField(key, in), len(in))
		if !bytes.Equal(in, orig) {
			t.Fatal("got input modified by a scan, want it untouched")
		}
	})
}

func FuzzKnownSet(f *testing.F) {
	f.Add([]byte("secretvalue1"), []byte("abcdefgh"), []byte("x secretvalue1 abcdefghij y"), 0)
	f.Add([]byte("aaaaaaaa"), []byte("aaaaaaaaaaaa"), []byte("aaaaaaaaaaaaaaaaaaaaaaaaa"), 4)
	f.Add([]byte("k"), []byte(""), []byte(""), -1)
	f.Fuzz(func(t *testing.T, v1, v2, in []byte, minLen int) {
		minLen %= 16
		k := NewKnownSet(minLen)
		k.Add(v1, "a", "one")
		k.Add(v2, "b", "two")
		fs := k.Scan(in)
		checkFindings(t, fs, len(in))
		for i, f := range fs {
			got := in[f.Start:f.End]
			if !(f.RuleID == "one" && bytes.Equal(got, v1) || f.RuleID == "two" && bytes.Equal(got, v2)) {
				t.Fatalf("finding %d: got span that is not the value its rule names", i)
			}
		}
		// A held value that occurs in the input is found or overlapped by a finding.
		for _, v := range [][]byte{v1, v2} {
			if len(v) < max(minLen, 1) || (minLen <= 0 && len(v) < DefaultKnownMinLen) {
				continue
			}
			if at := bytes.Index(in, v); at >= 0 {
				covered := false
				for _, f := range fs {
					if f.Start < at+len(v) && at < f.End {
						covered = true
					}
				}
				if !covered {
					t.Fatalf("value at %d: got no overlapping finding, want one", at)
				}
			}
		}
	})
}
