package detect

import (
	"bytes"
	"fmt"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

func TestKnownSet(t *testing.T) {
	type add struct{ value, class, rule string }
	tests := []struct {
		name   string
		minLen int
		adds   []add
		input  string
		want   []string // "rule:class:text"
	}{
		{name: "empty set", input: "anything at all"},
		{name: "one value anywhere", adds: []add{{"s3cr3tValue!", "password", "generic-password"}},
			input: "the old one was s3cr3tValue! (rotated)", want: []string{"generic-password:password:s3cr3tValue!"}},
		{name: "every occurrence", adds: []add{{"abcdefgh12", "secret", "r"}},
			input: "abcdefgh12 and abcdefgh12", want: []string{"r:secret:abcdefgh12", "r:secret:abcdefgh12"}},
		{name: "at very end", adds: []add{{"tailvalue", "secret", "r"}},
			input: "x tailvalue", want: []string{"r:secret:tailvalue"}},
		{name: "whole input", adds: []add{{"exactly8", "secret", "r"}},
			input: "exactly8", want: []string{"r:secret:exactly8"}},
		{name: "too short ignored", adds: []add{{"short", "secret", "r"}}, input: "short short"},
		{name: "min len honoured", minLen: 12, adds: []add{{"elevenchars", "secret", "r"}}, input: "elevenchars"},
		{name: "small min len", minLen: 4, adds: []add{{"abcd", "secret", "r"}},
			input: "xabcdx", want: []string{"r:secret:abcd"}},
		{name: "case sensitive", adds: []add{{"CaseSensitive", "secret", "r"}}, input: "casesensitive"},
		{name: "longest wins on same start", adds: []add{{"prefix12", "a", "short"}, {"prefix12345", "b", "long"}},
			input: "--prefix12345--", want: []string{"long:b:prefix12345"}},
		{name: "longest wins on overlap", adds: []add{{"abcdefgh", "a", "first"}, {"efghijklmnop", "b", "second"}},
			input: "abcdefghijklmnop", want: []string{"second:b:efghijklmnop"}},
		{name: "contained dropped", adds: []add{{"0123456789abcdef", "a", "outer"}, {"456789ab", "b", "inner"}},
			input: "0123456789abcdef", want: []string{"outer:a:0123456789abcdef"}},
		{name: "adjacent both kept", adds: []add{{"aaaabbbb", "a", "x"}, {"ccccdddd", "b", "y"}},
			input: "aaaabbbbccccdddd", want: []string{"x:a:aaaabbbb", "y:b:ccccdddd"}},
		{name: "duplicate add keeps first", adds: []add{{"dupvalue1", "a", "first"}, {"dupvalue1", "b", "second"}},
			input: "dupvalue1", want: []string{"first:a:dupvalue1"}},
		{name: "same prefix different tails", adds: []add{{"commonpfxAAA", "a", "x"}, {"commonpfxBBB", "b", "y"}},
			input: "commonpfxBBB commonpfxAAA commonpfxCCC", want: []string{"y:b:commonpfxBBB", "x:a:commonpfxAAA"}},
		{name: "nested prefixes, longest that fits", adds: []add{{"abcdefgh", "a", "8"}, {"abcdefghij", "b", "10"},
			{"abcdefghijkl", "c", "12"}, {"abcdefghizz", "d", "zz"}, {"abcdefghijkz", "e", "kz"}},
			input: "abcdefghijkX", want: []string{"10:b:abcdefghij"}},
		{name: "nested prefixes, sibling sorts between", adds: []add{{"abcdefgh", "a", "8"}, {"abcdefghAAAA", "b", "A"},
			{"abcdefghZZZZ", "c", "Z"}}, input: "abcdefghMMMM", want: []string{"8:a:abcdefgh"}},
		{name: "input sorts before every value", adds: []add{{"abcdefghM", "a", "x"}}, input: "abcdefghA abcdefgh"},
		{name: "multibyte", adds: []add{{"pässwörd-ñ", "password", "r"}},
			input: "x pässwörd-ñ y", want: []string{"r:password:pässwörd-ñ"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := NewKnownSet(tt.minLen)
			for _, a := range tt.adds {
				k.Add([]byte(a.value), a.class, a.rule)
			}
			fs := k.Scan([]byte(tt.input))
			var got []string
			for _, f := range fs {
				got = append(got, f.RuleID+":"+f.Class+":"+tt.input[f.Start:f.End])
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("got %d findings %s, want %d", len(got), describe(fs), len(tt.want))
			}
		})
	}
}

func TestKnownSetLenAndCopy(t *testing.T) {
	k := NewKnownSet(0)
	v := []byte("mutable-secret-1")
	k.Add(v, "secret", "r")
	k.Add(v, "secret", "r")
	k.Add([]byte("short"), "secret", "r")
	if got := k.Len(); got != 1 {
		t.Errorf("Len: got %d, want 1", got)
	}
	orig := string(v)
	v[0] = 'X' // the set must hold its own copy
	if fs := k.Scan([]byte("see " + orig)); len(fs) != 1 {
		t.Errorf("after caller mutation: got %d findings, want 1", len(fs))
	}
}

func TestKnownSetNeverPrints(t *testing.T) {
	k := NewKnownSet(0)
	const canary = "canary-known-value-42"
	k.Add([]byte(canary), "secret", "r")
	k.Scan([]byte(canary)) // build an index too
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
		out := fmt.Sprintf(verb, k)
		if strings.Contains(out, canary) || strings.Contains(out, fmt.Sprintf("%x", canary)) {
			t.Errorf("Sprintf(%s): got output holding the value, want it redacted", verb)
		}
	}
}

// TestKnownSetGrowth crosses the incremental and full rebuild paths: every value
// added so far must be found after each batch.
func TestKnownSetGrowth(t *testing.T) {
	k := NewKnownSet(0)
	var values []string
	for batch := 0; batch < 12; batch++ {
		n := 1 << batch // 1, 2, 4, ... 2048
		for i := 0; i < n; i++ {
			v := fake("growth"+strconv.Itoa(len(values)), csAlnum, 20)
			values = append(values, v)
			k.Add([]byte(v), "secret", "r")
		}
		text := strings.Join(values, " ")
		if got := len(k.Scan([]byte(text))); got != len(values) {
			t.Fatalf("batch %d: got %d findings, want %d", batch, got, len(values))
		}
	}
	if got := k.Len(); got != len(values) {
		t.Errorf("Len: got %d, want %d", got, len(values))
	}
}

// TestKnownSetConcurrent adds values while other goroutines scan; run under -race.
// A value added before a Scan starts must be found by it.
func TestKnownSetConcurrent(t *testing.T) {
	k := NewKnownSet(0)
	const writers, perWriter, readers = 3, 300, 3
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perWriter; i++ {
				v := []byte(fake(fmt.Sprintf("conc-%d-%d", w, i), csAlnum, 24))
				k.Add(v, "secret", "r")
				if fs := k.Scan(append([]byte("prefix "), v...)); len(fs) != 1 || fs[0].Start != 7 {
					t.Errorf("writer %d value %d: got %d findings, want its own value found", w, i, len(fs))
					return
				}
			}
		}()
	}
	text := []byte(benchText(8<<10, false))
	for r := 0; r < readers; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				if fs := k.Scan(text); len(fs) != 0 {
					t.Errorf("reader: got %d findings in text without values, want 0", len(fs))
					return
				}
			}
		}()
	}
	wg.Wait()
	if got := k.Len(); got != writers*perWriter {
		t.Errorf("Len: got %d, want %d", got, writers*perWriter)
	}
}

func TestKnownSetNoAllocs(t *testing.T) {
	k := NewKnownSet(0)
	for i := 0; i < 100; i++ {
		k.Add([]byte(fake("alloc"+strconv.Itoa(i), csAlnum, 30)), "secret", "r")
	}
	in := []byte(benchText(16<<10, false))
	k.Scan(in)
	if n := testing.AllocsPerRun(20, func() { k.Scan(in) }); n != 0 {
		t.Errorf("got %v allocations per Scan, want 0", n)
	}
}

// TestKnownSetSharedPrefix holds 5000 values that share their first 37 bytes, as JWTs
// with one header do, and scans text dense with that header: every value planted is
// found, nothing else is, and the value comparisons per header stay logarithmic in the
// number of values instead of linear.
func TestKnownSetSharedPrefix(t *testing.T) {
	const header, n = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.", 5000
	value := func(i int) string { return fmt.Sprintf("%s%08dabcdefgh", header, i) }
	k := NewKnownSet(0)
	for i := 0; i < n; i++ {
		k.Add([]byte(value(i)), "jwt", "known")
		if i%1000 == 999 { // leave part of the values in the recent table
			k.Scan([]byte(header))
		}
	}
	var sb strings.Builder
	var want []string
	for i := 0; i < 2*n; i++ {
		sb.WriteString(header)
		switch i % 7 {
		case 0: // a held value
			want = append(want, value(i*13%n))
			sb.WriteString(want[len(want)-1])
		case 3: // near misses: longer and shorter counters, another suffix
			sb.WriteString(fmt.Sprintf("%s%09dabcdefgh %s%07dabcdefgh %s%08dabcdefgX ", header, i, header, i, header, i%n))
		}
	}
	in := []byte(sb.String())
	before := k.probes.Load()
	fs := k.Scan(in)
	probes := k.probes.Load() - before
	var got []string
	for _, f := range fs {
		got = append(got, string(in[f.Start:f.End]))
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %d findings, want the %d planted values", len(got), len(want))
	}
	hits := bytes.Count(in, []byte(header[:8]))
	if limit := hits * 2 * (bits.Len(n) + 2); probes > int64(limit) {
		t.Errorf("got %d value comparisons for %d prefix hits, want at most %d", probes, hits, limit)
	}
}

// TestKnownSetMatchNaive checks the bucket lookup against a linear search for the
// longest held prefix, on values over a two-letter alphabet that nest and share keys.
func TestKnownSetMatchNaive(t *testing.T) {
	rnd := uint64(1)
	next := func(n int) int { rnd = rnd*6364136223846793005 + 1442695040888963407; return int(rnd>>33) % n }
	word := func(lo, hi int) []byte {
		w := []byte("aaaaaaa")
		for n := lo + next(hi-lo+1) - len(w); n > 0; n-- {
			w = append(w, "ab"[next(2)])
		}
		return w
	}
	k := NewKnownSet(0)
	var values [][]byte
	for i := 0; i < 300; i++ {
		v := word(8, 16)
		k.Add(v, "s", "r")
		if !slices.ContainsFunc(values, func(x []byte) bool { return bytes.Equal(x, v) }) {
			values = append(values, v)
		}
		if i%50 == 0 {
			k.Scan(v) // publish, so later values land in the recent table
		}
	}
	idx := k.snapshot()
	for i := 0; i < 3000; i++ {
		s := word(8, 20)
		want := -1
		for j, v := range values {
			if bytes.HasPrefix(s, v) && (want < 0 || len(v) > len(values[want])) {
				want = j
			}
		}
		var probes int
		e, ok := idx.match(s, k.key(s), &probes)
		if ok != (want >= 0) || ok && !bytes.Equal(idx.entries[e].value, values[want]) {
			t.Fatalf("input %d: got match %v, want %v", i, ok, want >= 0)
		}
	}
}

// AbsentSince looks only at the values added after the first n, by their longest
// run of letters and digits, and answers false when it cannot tell.
func TestAbsentSince(t *testing.T) {
	k := NewKnownSet(0)
	k.Add([]byte("old-value-1234567"), "c", "r")
	n := k.Len()
	if !k.AbsentSince(n, []byte("anything at all, old-value-1234567 too")) {
		t.Error("nothing added since: got false")
	}
	k.Add([]byte("ab/cdEFgh12+xy"), "c", "r") // longest run: cdEFgh12
	text := []byte("old-value-1234567 and ab/xy and cdEF gh12")
	if !k.AbsentSince(n, text) {
		t.Error("the new value's run is not in the text: got false")
	}
	if k.AbsentSince(n, append(text, " XcdEFgh12Y"...)) {
		t.Error("the new value's run is in the text: got true")
	}
	if k.AbsentSince(0, []byte("old-value-1234567")) {
		t.Error("an older value counted from n=0 is in the text: got true")
	}
	if !k.AbsentSince(k.Len(), []byte("cdEFgh12")) || !k.AbsentSince(k.Len()+5, nil) {
		t.Error("no value after n: got false")
	}
	k.Add([]byte("-_-_-_-_-_-_-_"), "c", "r") // no letter or digit: cannot be searched for
	if k.AbsentSince(k.Len()-1, []byte("nothing")) {
		t.Error("a value without letters or digits: got true")
	}
	m := NewKnownSet(0)
	for i := range maxSinceValues + 1 {
		m.Add(fmt.Appendf(nil, "value-number-%03d", i), "c", "r")
	}
	if m.AbsentSince(0, []byte("none of them")) {
		t.Errorf("more than %d values: got true", maxSinceValues)
	}
	if !m.AbsentSince(1, []byte("none of them")) {
		t.Errorf("%d values: got false", maxSinceValues)
	}
}
