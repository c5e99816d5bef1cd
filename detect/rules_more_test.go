package detect

import (
	"encoding/base64"
	"strings"
	"testing"
)

// TestCatalogSize checks the size of the default catalog and that every rule carries
// at least two true and two false positive samples.
func TestCatalogSize(t *testing.T) {
	rules := DefaultRules()
	ids := map[string]bool{}
	for _, r := range rules {
		ids[r.ID] = true
		if len(r.TruePositives) < 2 || len(r.FalsePositives) < 2 {
			t.Errorf("rule %s: got %d true and %d false positives, want at least 2 of each", r.ID, len(r.TruePositives), len(r.FalsePositives))
		}
	}
	if len(ids) < 150 {
		t.Errorf("got %d distinct rule ids, want at least 150", len(ids))
	}
}

// TestHardNegatives scans text that looks like secrets to a careless scanner and is
// none: commit SHAs, UUIDs, integrity and go.sum hashes, image digests, base64 images,
// minified code, tool-use ids, thinking signatures and documented example values.
func TestHardNegatives(t *testing.T) {
	d := newDefault(t)
	png := "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAA" + fake("png", csB64, 4096) + "=="
	tests := []struct {
		name, text string
	}{
		{name: "git log", text: "commit 3f786850e387550fdab836ed7e6dc881de23001b\nAuthor: Dev <dev@acme.test>\n\n    fix: rotate token cache key\n"},
		{name: "packed refs", text: fake("sha1", csHex, 40) + " refs/heads/main\n" + fake("sha2", csHex, 40) + " refs/tags/v1.2.3\n"},
		{name: "uuids", text: `{"request_id": "` + fakeUUID("req") + `", "trace_id": "` + fake("trace", csHex, 32) + `", "session_key": "` + fakeUUID("sess") + `"}`},
		{name: "npm integrity", text: `"integrity": "sha512-` + fake("integ", csB64, 86) + `=="`},
		{name: "sri", text: `<script src="/app.js" integrity="sha384-` + fake("sri", csB64, 64) + `" crossorigin="anonymous"></script>`},
		{name: "go.sum", text: "golang.org/x/net v0.30.0 h1:" + fake("gosum", csB64, 43) + "=\ngolang.org/x/net v0.30.0/go.mod h1:" + fake("gosum2", csB64, 43) + "=\n"},
		{name: "image digest", text: "image: ghcr.io/acme/api@sha256:" + fake("digest", csHex, 64) + "\n"},
		{name: "base64 image", text: `<img src="` + png + `">`},
		{name: "minified js", text: `!function(e){var t={};function n(r){if(t[r])return t[r].exports;var o=t[r]={i:r,l:!1,exports:{}};return e[r].call(o.exports,o,o.exports,n),o.l=!0,o.exports}n.m=e,n.c=t,n.d=function(e,t,r){n.o(e,t)||Object.defineProperty(e,t,{enumerable:!0,get:r})}}([]);var apiKey=e.apiKey||"",token=r.token;`},
		{name: "tool ids", text: `{"type": "tool_use", "id": "toolu_01` + fake("toolu", csAlnum, 22) + `"} {"tool_call_id": "call_` + fake("call", csAlnum, 24) + `"} {"id": "msg_01` + fake("msg", csAlnum, 22) + `"}`},
		{name: "thinking signature", text: `{"type": "thinking", "thinking": "Let me check the key rotation.", "signature": "EqQBCkYIBhgCIkB` + fake("sig", csB64, 400) + `"}`},
		{name: "aws docs", text: "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"},
		{name: "env example", text: "OPENAI_API_KEY=sk-...\nANTHROPIC_API_KEY=<your key>\nSTRIPE_KEY=sk_test_xxxxxxxxxxxxxxxxxxxxxxxx\nGITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\nDATABASE_URL=postgres://user:password@localhost:5432/app\nENCRYPTION_KEY=\nHF_TOKEN=hf_...\n"},
		{name: "azurite", text: "AZURE_STORAGE_CONNECTION_STRING=DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=" + azuriteKey + ";BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;"},
		{name: "code", text: "const primaryKey = \"id\";\ncache_key = f\"user:{user_id}\"\nheaders = {\"Authorization\": f\"Bearer {token}\"}\nsigningKey := os.Getenv(\"SIGNING_KEY\")\n"},
		{name: "kubeconfig ca", text: "    certificate-authority-data: " + b64std("-----BEGIN CERTIFICATE-----\n"+fake("ca", csB64, 64)+"\n-----END CERTIFICATE-----\n") + "\n    server: https://10.0.0.1:6443\n"},
		{name: "checksums", text: fake("sum1", csHex, 64) + "  cloakroom_linux_amd64.tar.gz\n" + fake("sum2", csHex, 64) + "  cloakroom_darwin_arm64.tar.gz\n"},
		{name: "prose", text: "The machine learning team keeps the signing key in the vault; curl -u is how the script authenticates, and mysql -p prompts for the password."},
		{name: "commands", text: "curl -u \"$USER:$TOKEN\" https://api.acme.test\nmysql -u root -p\ndocker login --password-stdin ghcr.io\nsshpass -p \"$PASS\" ssh host\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if fs := d.Scan([]byte(tt.text)); len(fs) != 0 {
				t.Errorf("got %s, want no findings", describe(fs))
			}
		})
	}
}

func TestGrafanaSAToken(t *testing.T) {
	// Vectors computed independently: hex of the little-endian zlib.crc32 of
	// "glsa_" and the 32 characters.
	tests := []struct {
		name, body, sum string
	}{
		{name: "letters", body: "abcdefghijklmnopqrstuvwxyzABCDEF", sum: "ec61ef3f"},
		{name: "zeros", body: strings.Repeat("0", 32), sum: "162149fe"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := "glsa_" + tt.body + "_" + tt.sum
			if !grafanaSATokenOK([]byte(tok)) {
				t.Error("got checksum rejected, want accepted")
			}
			b := []byte(tok)
			b[10] ^= 0x20
			if grafanaSATokenOK(b) {
				t.Error("changed body: got checksum accepted, want rejected")
			}
		})
	}
	if grafanaSATokenOK([]byte("glsa_short")) {
		t.Error("short token: got accepted, want rejected")
	}
}

func TestBech32(t *testing.T) {
	// BIP 173 test vectors.
	valid := []struct{ s, hrp string }{
		{"A12UEL5L", "a"},
		{"a12uel5l", "a"},
		{"abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw", "abcdef"},
		{"split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w", "split"},
	}
	for _, v := range valid {
		t.Run(v.s, func(t *testing.T) {
			if !bech32OK([]byte(v.s), v.hrp) {
				t.Error("got rejected, want accepted")
			}
			b := []byte(v.s)
			i := len(b) - 3
			repl := byte('q')
			if b[i] == 'q' || b[i] == 'Q' {
				repl = 'p'
			}
			if b[i] >= 'A' && b[i] <= 'Z' {
				repl -= 'a' - 'A'
			}
			b[i] = repl
			if bech32OK(b, v.hrp) {
				t.Errorf("character %d changed: got accepted, want rejected", i)
			}
		})
	}
	for _, s := range []string{"A12uEL5L", "a12uel5", "x12uel5l", "a1b2uel5l"} {
		if bech32OK([]byte(s), "a") {
			t.Errorf("%q: got accepted, want rejected", s)
		}
	}
	key := fakeAgeKey("vector")
	if !ageSecretKeyOK([]byte(key)) || !ageSecretKeyOK([]byte(strings.ToLower(key))) {
		t.Error("fake age key: got rejected, want accepted")
	}
}

func TestSASSig(t *testing.T) {
	sig := base64.StdEncoding.EncodeToString([]byte(fake("sas", csAlnum, 32)))
	tests := []struct {
		name, sig string
		want      bool
	}{
		{name: "url-encoded", sig: strings.NewReplacer("+", "%2B", "/", "%2F", "=", "%3D").Replace(sig), want: true},
		{name: "raw", sig: sig, want: true},
		{name: "lower-case escapes", sig: strings.ReplaceAll(sig, "=", "%3d"), want: true},
		{name: "16 bytes", sig: base64.StdEncoding.EncodeToString([]byte(fake("sas16", csAlnum, 16))), want: false},
		{name: "bad escape", sig: sig[:40] + "%ZZ", want: false},
		{name: "cut escape", sig: sig[:42] + "%3", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sasSigOK([]byte(tt.sig)); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDecodeB64(t *testing.T) {
	tests := []struct {
		name, in, want string
		ok             bool
	}{
		{name: "std padded", in: "aGVsbG8gd29ybGQ=", want: "hello world", ok: true},
		{name: "std raw", in: "aGVsbG8gd29ybGQ", want: "hello world", ok: true},
		{name: "url", in: "Pz8-Pz8_", want: "??>???", ok: true},
		{name: "mixed alphabets", in: "Pz8-Pz8/", ok: false},
		{name: "bad length", in: "aGVsb", ok: false},
		{name: "bad byte", in: "aGVs*G8=", ok: false},
		{name: "empty", in: "", ok: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf [8]byte // smaller than some outputs: decodeB64 must then allocate
			got, ok := decodeB64(buf[:0], []byte(tt.in))
			if ok != tt.ok || ok && string(got) != tt.want {
				t.Errorf("got %q, %v, want %q, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestJSONObjectHas(t *testing.T) {
	tests := []struct {
		name, j string
		keys    []string
		want    bool
	}{
		{name: "all keys", j: `{"k":"x","n":"ci","id":1}`, keys: []string{"k", "n", "id"}, want: true},
		{name: "spaces", j: " {\"k\" : 1}", keys: []string{"k"}, want: true},
		{name: "key as value", j: `{"a":"k","b":1}`, keys: []string{"k"}, want: false},
		{name: "missing", j: `{"k":1}`, keys: []string{"k", "n"}, want: false},
		{name: "array", j: `[{"k":1}]`, keys: []string{"k"}, want: false},
		{name: "no keys", j: `{}`, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := jsonObjectHas([]byte(tt.j), tt.keys...); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestShapeMatcher(t *testing.T) {
	m := shapeMatcher(isAlnum, segRun(isDigit, 2, 3), segLit("_"), segRun(isUpperNum, 4, 4))
	tests := []struct {
		name, in string
		want     string // the match, "" for none
	}{
		{name: "min run", in: "pk_12_ABCD", want: "pk_12_ABCD"},
		{name: "max run", in: "pk_123_ABCD!", want: "pk_123_ABCD"},
		{name: "run too long", in: "pk_1234_ABCD"},
		{name: "run too short", in: "pk_1_ABCD"},
		{name: "missing literal", in: "pk_12-ABCD"},
		{name: "followed by tail", in: "pk_12_ABCDE"},
		{name: "not word start", in: "xpk_12_ABCD"},
		{name: "cut off", in: "pk_12_AB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ks := strings.Index(tt.in, "pk_")
			s, e, ok := m([]byte(tt.in), ks, ks+3)
			got := ""
			if ok {
				got = tt.in[s:e]
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestB64JSONValidators(t *testing.T) {
	tok := "glc_" + base64.StdEncoding.EncodeToString([]byte(`{"o":"1","n":"x","k":"y"}`))
	if !b64JSON(4, "", "o", "n", "k")([]byte(tok)) {
		t.Error("grafana cloud token: got rejected, want accepted")
	}
	if b64JSON(4, "", "o", "n", "k", "m")([]byte(tok)) {
		t.Error("missing key: got accepted, want rejected")
	}
	broken := "glc_" + base64.StdEncoding.EncodeToString([]byte(`{"o":"1","n":"x","k":"y"`))
	if b64JSON(4, "", "o")([]byte(broken)) {
		t.Error("truncated JSON: got accepted, want rejected")
	}
	if b64JSON(4, "")([]byte("glc_")) {
		t.Error("empty payload: got accepted, want rejected")
	}
}

func TestNamedKey(t *testing.T) {
	tests := []struct {
		key  string
		want bool
	}{
		{"ENCRYPTION_KEY", true}, {"stripeKey", true}, {"x-functions-key", true}, {"MASTER_KEY_2", true},
		{"API_KEY", false}, {"SECRET_KEY", false}, {"publicKey", false}, {"CACHE_KEY", false},
		{"key", false}, {"APP_KEY_ID", false}, {"primary_key", false}, {"KEY", false},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			if got := namedKey([]byte(tt.key)); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// BenchmarkScanAdversarialMore repeats the keywords of the extended catalog's rules
// with the shapes that make their bodies do the most work per hit; each must stay
// linear in the input.
func BenchmarkScanAdversarialMore(b *testing.B) {
	d := newDefault(b)
	cases := map[string]string{
		"named-key":    "a_key=a_key=",
		"camel-key":    `signingKey: "`,
		"netrc":        "machine a.b login c password ",
		"curl":         "curl -u a:b ",
		"mysql":        "mysql -u a ",
		"docker-login": "docker login -u a ",
		"auth-scheme":  "Authorization: ApiKey ",
		"jwk":          `"d":"` + strings.Repeat("A", 40) + `" `,
		"putty":        "PuTTY-User-Key-File-3: ",
		"sas":          "sv=2022-01-01&sp=r&",
		"auths":        `"auths": {"r": {"x": 1, `,
		"keyed":        "datadog_api_key: ",
		"prefix-runs":  "sk_ key- re_ pat fw_ hf_ pk_ cio ",
		"b64-prefixes": "ZXlK LS0tLS1CRUdJTi eyJrIjoi dG9rO ",
		"cask":         strings.Repeat("A", 52) + "JQQJ99 ",
	}
	for name, unit := range cases {
		in := []byte(strings.Repeat(unit, (1<<20)/len(unit)))
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				d.Scan(in)
			}
		})
	}
}

func TestMaxMatchLen(t *testing.T) {
	tests := []struct {
		re   string
		want int
	}{
		{`[a-f0-9]{32}`, 32},
		{`sk-[a-f0-9]{32}`, 35},
		{`(?:11)?[0-9a-f]{32}`, 34},
		{`[0-9]/[0-9]{16}(?:/[0-9]{16})?:[A-Za-z0-9]{32}`, 68},
		{`a|bcd`, 3},
		{`a+`, 256},
		{`(`, 256},
	}
	for _, tt := range tests {
		t.Run(tt.re, func(t *testing.T) {
			if got := maxMatchLen(tt.re); got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
		})
	}
}
