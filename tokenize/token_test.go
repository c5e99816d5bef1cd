package tokenize

import (
	"regexp"
	"strings"
	"testing"
)

const sampleToken = "cloak_aws_abcdefghijklmnopqrst"

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		in   string
		ok   bool
		want Token
	}{
		{name: "valid", in: sampleToken, ok: true, want: Token{Class: "aws", ID: "abcdefghijklmnopqrst"}},
		{name: "digits in class", in: "cloak_s3_22222222222222222222", ok: true, want: Token{Class: "s3", ID: "22222222222222222222"}},
		{name: "short id", in: "cloak_aws_abc", ok: false},
		{name: "long id", in: sampleToken + "a", ok: false},
		{name: "bad id char", in: "cloak_aws_abcdefghijklmnopqrs1", ok: false},
		{name: "no class", in: "cloak__abcdefghijklmnopqrst", ok: false},
		{name: "class too long", in: "cloak_" + strings.Repeat("a", 17) + "_abcdefghijklmnopqrst", ok: false},
		{name: "upper", in: "CLOAK_aws_abcdefghijklmnopqrst", ok: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Parse(tt.in)
			if ok != tt.ok || got != tt.want {
				t.Fatalf("Parse(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
			}
			if ok && got.String() != tt.in {
				t.Fatalf("String() = %q, want %q", got.String(), tt.in)
			}
		})
	}
}

func TestFindMatchesPattern(t *testing.T) {
	re := regexp.MustCompile(Pattern)
	text := "x cloak_ cloak_aws_abc " + sampleToken + "@host cloakcloak_pem_bbbbbbbbbbbbbbbbbbbb\"" + sampleToken + sampleToken
	spans := Find([]byte(text))
	locs := re.FindAllStringIndex(text, -1)
	if len(spans) != len(locs) {
		t.Fatalf("Find found %d tokens, regexp %d", len(spans), len(locs))
	}
	for i, s := range spans {
		if s.Start != locs[i][0] || s.End != locs[i][1] {
			t.Errorf("span %d: got [%d,%d), want %v", i, s.Start, s.End, locs[i])
		}
	}
}

func TestHoldBack(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want int
	}{
		{name: "plain", in: "hello world", want: 0},
		{name: "c", in: "abc", want: 1},
		{name: "cloa", in: "x cloa", want: 4},
		{name: "prefix", in: "x cloak_", want: 6},
		{name: "class", in: "x cloak_aws", want: 9},
		{name: "class sep", in: "x cloak_aws_", want: 10},
		{name: "partial id", in: "x cloak_aws_abcdefghij", want: 20},
		{name: "whole token not held", in: "x " + sampleToken, want: 0},
		{name: "broken", in: "x cloak_aws_ab1", want: 0},
		{name: "empty", in: "", want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := HoldBack([]byte(tt.in)); got != tt.want {
				t.Fatalf("HoldBack(%q) = %d, want %d", tt.in, got, tt.want)
			}
		})
	}
}

func FuzzHoldBackFind(f *testing.F) {
	f.Add([]byte("see "+sampleToken+" and cloak_x"), 5)
	f.Fuzz(func(t *testing.T, text []byte, cut int) {
		if cut < 0 || cut > len(text) {
			return
		}
		// Streaming invariant: emitting text[:cut] minus its hold-back never splits a
		// token that Find sees in the whole text.
		emit := cut - HoldBack(text[:cut])
		for _, s := range Find(text) {
			if s.Start < emit && emit < s.End {
				t.Fatalf("cut at %d splits token [%d,%d)", emit, s.Start, s.End)
			}
		}
	})
}
