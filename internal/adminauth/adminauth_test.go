package adminauth

import (
	"net/http"
	"testing"
)

func TestToken(t *testing.T) {
	tok := NewToken("the-admin-token-0123")
	for _, tt := range []struct {
		in   string
		want bool
	}{{"the-admin-token-0123", true}, {"the-admin-token-012", false}, {"", false}} {
		if got := tok.Matches(tt.in); got != tt.want {
			t.Errorf("Matches(%q): got %v, want %v", tt.in, got, tt.want)
		}
	}
	if NewToken("").Matches("") {
		t.Error("an empty token matched")
	}
}

func TestCarriesAgentCredentials(t *testing.T) {
	for _, tt := range []struct {
		name string
		h    http.Header
		want bool
	}{
		{"none", http.Header{"Authorization": {"Bearer x"}}, false},
		{"proxy credentials", http.Header{"Proxy-Authorization": {"Basic eA=="}}, true},
		{"agent header", http.Header{AgentHeader: {"a:b"}}, true},
		{"via", http.Header{"Via": {"1.1 proxy"}}, true},
	} {
		if got := CarriesAgentCredentials(tt.h); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}
