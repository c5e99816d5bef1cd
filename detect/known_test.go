package detect

import (
	"fmt"
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
