package detect

import (
	"slices"
	"testing"
)

func TestMerge(t *testing.T) {
	f := func(s, e int, id string) Finding { return Finding{RuleID: id, Start: s, End: e} }
	for _, tc := range []struct {
		name string
		a, b []Finding
		want []Finding
	}{
		{"empty b", []Finding{f(0, 4, "a")}, nil, []Finding{f(0, 4, "a")}},
		{"empty a", nil, []Finding{f(0, 4, "b")}, []Finding{f(0, 4, "b")}},
		{"disjoint interleave", []Finding{f(0, 2, "a"), f(10, 12, "a")}, []Finding{f(5, 7, "b")}, []Finding{f(0, 2, "a"), f(5, 7, "b"), f(10, 12, "a")}},
		{"overlap: earlier wins", []Finding{f(3, 9, "a")}, []Finding{f(1, 5, "b")}, []Finding{f(1, 5, "b")}},
		{"same start: longer wins", []Finding{f(2, 5, "a")}, []Finding{f(2, 9, "b")}, []Finding{f(2, 9, "b")}},
		{"touching is not overlapping", []Finding{f(0, 3, "a")}, []Finding{f(3, 6, "b")}, []Finding{f(0, 3, "a"), f(3, 6, "b")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Merge(tc.a, tc.b); !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}
