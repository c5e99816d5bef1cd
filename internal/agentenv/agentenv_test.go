package agentenv

import "testing"

func TestQuote(t *testing.T) {
	tests := []struct {
		name, in, wantSh, wantFish string
	}{
		{name: "plain path", in: "/home/a/.local/share/cloakroom/ca.pem", wantSh: "/home/a/.local/share/cloakroom/ca.pem", wantFish: "/home/a/.local/share/cloakroom/ca.pem"},
		{name: "proxy url", in: "http://a:cra_x-Y@127.0.0.1:8080", wantSh: "http://a:cra_x-Y@127.0.0.1:8080", wantFish: "http://a:cra_x-Y@127.0.0.1:8080"},
		{name: "space", in: "/a b/c", wantSh: "'/a b/c'", wantFish: "'/a b/c'"},
		{name: "single quote", in: "/it's", wantSh: `'/it'\''s'`, wantFish: `'/it\'s'`},
		{name: "backslash", in: `/a\b`, wantSh: `'/a\b'`, wantFish: `'/a\\b'`},
		{name: "dollar and backtick", in: "/$HOME/`x`", wantSh: "'/$HOME/`x`'", wantFish: "'/$HOME/`x`'"},
		{name: "leading tilde", in: "~/x", wantSh: "'~/x'", wantFish: "'~/x'"},
		{name: "empty", in: "", wantSh: "''", wantFish: "''"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ShQuote(tt.in); got != tt.wantSh {
				t.Errorf("shQuote: got %s, want %s", got, tt.wantSh)
			}
			if got := FishQuote(tt.in); got != tt.wantFish {
				t.Errorf("fishQuote: got %s, want %s", got, tt.wantFish)
			}
		})
	}
}

func TestVars(t *testing.T) {
	vars := Vars(ProxyURL(DialAddr("0.0.0.0:8080"), "build", "cra_x"), "/data")
	want := map[string]string{
		"HTTPS_PROXY": "http://build:cra_x@127.0.0.1:8080", "https_proxy": "http://build:cra_x@127.0.0.1:8080",
		"NO_PROXY": NoProxy, "NODE_EXTRA_CA_CERTS": "/data/ca.pem", "SSL_CERT_FILE": "/data/ca-bundle.pem",
		"REQUESTS_CA_BUNDLE": "/data/ca-bundle.pem", "CODEX_CA_CERTIFICATE": "/data/ca-bundle.pem",
	}
	got := map[string]string{}
	for _, v := range vars {
		got[v.Name] = v.Value
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %q, want %q", k, got[k], v)
		}
	}
	if l := Line("fish", Var{"A", "b c"}); l != "set -gx A 'b c'" {
		t.Errorf("fish line: got %q", l)
	}
	if l := Line("bash", Var{"A", "b c"}); l != "export A='b c'" {
		t.Errorf("bash line: got %q", l)
	}
	if got := DialAddr("[::]:9"); got != "[::1]:9" {
		t.Errorf("DialAddr: got %q", got)
	}
}
