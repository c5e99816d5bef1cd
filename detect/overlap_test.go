package detect

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

type testSpan struct{ s, e, pref int }

// naiveKeep is the quadratic reference for keepBest.
func naiveKeep(cands []testSpan) []testSpan {
	order := slices.Clone(cands)
	slices.SortStableFunc(order, func(a, b testSpan) int { return a.pref - b.pref })
	var kept []testSpan
	for _, c := range order {
		ok := true
		for _, k := range kept {
			if c.s < k.e && k.s < c.e {
				ok = false
				break
			}
		}
		if ok {
			kept = append(kept, c)
		}
	}
	slices.SortFunc(kept, func(a, b testSpan) int {
		if a.s != b.s {
			return a.s - b.s
		}
		return a.e - b.e
	})
	return kept
}

func TestKeepBest(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 300; round++ {
		n := r.IntN(40)
		cands := make([]testSpan, n)
		for i := range cands {
			s := r.IntN(60)
			cands[i] = testSpan{s: s, e: s + 1 + r.IntN(12), pref: r.IntN(1000)*100 + i} // distinct prefs
		}
		got := keepBest(slices.Clone(cands), func(c testSpan) (int, int) { return c.s, c.e },
			func(a, b testSpan) int { return a.pref - b.pref })
		if want := naiveKeep(cands); !slices.Equal(got, want) {
			t.Fatalf("round %d: got %v, want %v", round, got, want)
		}
	}
}

// TestKeepBestSmall checks the pairwise path of keepBest (up to smallKeep candidates)
// against the reference, with many overlaps.
func TestKeepBestSmall(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for round := 0; round < 3000; round++ {
		n := 2 + r.IntN(smallKeep-1)
		cands := make([]testSpan, n)
		for i := range cands {
			s := r.IntN(20)
			cands[i] = testSpan{s: s, e: s + 1 + r.IntN(8), pref: r.IntN(1000)*100 + i}
		}
		got := keepBest(slices.Clone(cands), func(c testSpan) (int, int) { return c.s, c.e },
			func(a, b testSpan) int { return a.pref - b.pref })
		if want := naiveKeep(cands); !slices.Equal(got, want) {
			t.Fatalf("round %d: got %v, want %v", round, got, want)
		}
	}
}

// TestManyOverlaps feeds a self-overlapping value through KnownSet and a dense
// keyword run through Detector; both must resolve in near-linear time (a quadratic
// resolution would make this test take minutes).
func TestManyOverlaps(t *testing.T) {
	k := NewKnownSet(0)
	k.Add([]byte("aaaaaaaa"), "secret", "r")
	in := []byte(strings.Repeat("a", 256<<10))
	fs := k.Scan(in)
	if want := len(in) / 8; len(fs) != want {
		t.Errorf("known run: got %d findings, want %d", len(fs), want)
	}
	checkFindings(t, fs, len(in))
	d := newDefault(t)
	in = []byte(strings.Repeat(`password="Qz8vLm3pXw=`, 8<<10))
	checkFindings(t, d.Scan(in), len(in))
}
