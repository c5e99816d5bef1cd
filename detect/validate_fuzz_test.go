package detect

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
)

// Fuzz targets for the validators and matchers of validate_more.go and rules_*.go.
// Each checks that its function never panics and keeps the property that makes it
// worth having.

func FuzzDecodeB64(f *testing.F) {
	f.Add([]byte("aGVsbG8gd29ybGQ="))
	f.Add([]byte("Pz8-Pz8_"))
	f.Add([]byte("===="))
	f.Fuzz(func(t *testing.T, in []byte) {
		var buf [16]byte
		d, ok := decodeB64(buf[:0], in)
		if !ok {
			return
		}
		src := strings.TrimRight(string(in), "=")
		re := base64.RawStdEncoding.EncodeToString(d)
		if strings.ContainsAny(src, "-_") {
			re = base64.RawURLEncoding.EncodeToString(d)
		}
		// Non-canonical trailing bits decode too; compare all but the last character.
		if len(re) != len(src) || re[:len(re)-1] != src[:len(src)-1] {
			t.Fatalf("decoded %d bytes do not encode back to the input", len(d))
		}
	})
}

func FuzzB64Bytes(f *testing.F) {
	f.Add([]byte(b64std(fake("fz", csAlnum, 32))), 32)
	f.Add([]byte("abc"), 2)
	f.Fuzz(func(t *testing.T, in []byte, n int) {
		n %= 100
		if b64Bytes(n)(in) {
			var buf [128]byte
			if d, ok := decodeB64(buf[:0], in); !ok || len(d) != n {
				t.Fatalf("accepted input that does not decode to %d bytes", n)
			}
		}
	})
}

func FuzzB64JSON(f *testing.F) {
	f.Add([]byte(`{"o":"1","n":"x","k":"y"}`), "k")
	f.Add([]byte(`{"k":`), "k")
	f.Add([]byte("[1]"), "")
	f.Fuzz(func(t *testing.T, payload []byte, key string) {
		if len(payload) > 8<<10 {
			return
		}
		tok := []byte("glc_" + base64.StdEncoding.EncodeToString(payload))
		keys := []string{key}
		if key == "" {
			keys = nil
		}
		got := b64JSON(4, "", keys...)(tok)
		trimmed := bytes.TrimSpace(payload)
		want := len(payload) > 0 && json.Valid(payload) && len(trimmed) > 0 && trimmed[0] == '{' && jsonObjectHas(payload, keys...)
		if got != want {
			t.Fatalf("got %v, want %v", got, want)
		}
		if got && key != "" && !bytes.Contains(payload, []byte(`"`+key+`"`)) {
			t.Fatal("accepted a payload that does not name the key")
		}
	})
}

func FuzzB64Prefix(f *testing.F) {
	f.Add([]byte(b64std("tok:" + fakeUUID("fz") + ":1:0")))
	f.Add([]byte("dG9rOg=="))
	f.Fuzz(func(t *testing.T, in []byte) {
		if !b64Prefix("tok:")(in) {
			return
		}
		var buf [512]byte
		d, ok := decodeB64(buf[:0], in)
		if !ok || !bytes.HasPrefix(d, []byte("tok:")) {
			t.Fatal("accepted input that does not decode to the prefix")
		}
	})
}

func FuzzGrafanaSAToken(f *testing.F) {
	f.Add([]byte(grafanaSAToken("fz")), 7)
	f.Add([]byte("glsa__"), 0)
	f.Fuzz(func(t *testing.T, in []byte, at int) {
		grafanaSATokenOK(in) // must not panic
		// A token built from any 32 characters passes; changing one byte breaks it.
		body := make([]byte, 32)
		for i := range body {
			c := byte(0)
			if i < len(in) {
				c = in[i]
			}
			body[i] = csAlnum[int(c)%len(csAlnum)]
		}
		tok := []byte(grafanaSATokenFor(string(body)))
		if !grafanaSATokenOK(tok) {
			t.Fatal("built token: got rejected, want accepted")
		}
		i := len("glsa_") + (at%32+32)%32
		tok[i] = csAlnum[(strings.IndexByte(csAlnum, tok[i])+1)%len(csAlnum)]
		if grafanaSATokenOK(tok) {
			t.Fatalf("byte %d changed: got accepted, want rejected", i)
		}
	})
}

func FuzzBech32(f *testing.F) {
	f.Add([]byte("abcdef"), "age-secret-key-", 3)
	f.Add([]byte{}, "a", 0)
	f.Fuzz(func(t *testing.T, data []byte, hrp string, at int) {
		bech32OK(data, hrp) // must not panic on anything
		ageSecretKeyOK(data)
		if len(hrp) == 0 || len(hrp) > 30 || len(data) > 80 {
			return
		}
		for i := 0; i < len(hrp); i++ {
			if hrp[i] < 'a' || hrp[i] > 'z' && hrp[i] != '-' {
				return
			}
		}
		d := make([]byte, len(data))
		for i, c := range data {
			d[i] = c & 31
		}
		s := []byte(bech32Encode(hrp, d))
		if !bech32OK(s, hrp) || !bech32OK(bytes.ToUpper(s), hrp) {
			t.Fatal("encoded string: got rejected, want accepted")
		}
		// Any single substitution in the data part is detected.
		i := len(hrp) + 1 + (at%(len(s)-len(hrp)-1)+len(s)-len(hrp)-1)%(len(s)-len(hrp)-1)
		s[i] = bech32Charset[(strings.IndexByte(bech32Charset, s[i])+1)%32]
		if bech32OK(s, hrp) {
			t.Fatalf("character %d changed: got accepted, want rejected", i)
		}
	})
}

func FuzzPEMB64(f *testing.F) {
	f.Add([]byte(b64std(fakePEM("EC PRIVATE KEY", "fz", 3, "\n"))))
	f.Add([]byte(b64std("-----BEGIN PUBLIC KEY-----\nabc\n-----END PUBLIC KEY-----")))
	f.Fuzz(func(t *testing.T, in []byte) {
		if !pemB64OK(in) {
			return
		}
		var buf [4096]byte
		d, _ := decodeB64(buf[:0], in)
		if !bytes.HasPrefix(d, []byte("-----BEGIN")) || !bytes.Contains(d, []byte("PRIVATE KEY")) {
			t.Fatal("accepted base64 that is not a private key block")
		}
	})
}

func FuzzJWTB64(f *testing.F) {
	f.Add([]byte(b64std(fakeJWT("fz"))))
	f.Add([]byte("ZXlKaGJHY2lPaUpJVXpJMU5pSjku"))
	f.Fuzz(func(t *testing.T, in []byte) {
		if !jwtB64OK(in) {
			return
		}
		var buf [2048]byte
		d, _ := decodeB64(buf[:0], in)
		if !jwtOK(bytes.TrimRight(d, "\r\n")) {
			t.Fatal("accepted base64 that is not a JWT")
		}
	})
}

func FuzzDiscordBotToken(f *testing.F) {
	f.Add([]byte(fakeDiscordBotToken("123456789012345678", "fz")))
	f.Add([]byte("MTIz.abc.def"))
	f.Fuzz(func(t *testing.T, in []byte) {
		if !discordBotTokenOK(in) {
			return
		}
		var buf [32]byte
		d, ok := decodeB64(buf[:0], in[:bytes.IndexByte(in, '.')])
		if !ok || len(d) < 17 || len(d) > 20 || strings.Trim(string(d), "0123456789") != "" {
			t.Fatal("accepted a token whose id is not a snowflake")
		}
	})
}

func FuzzLaravelAndPrintable(f *testing.F) {
	f.Add([]byte("base64:" + b64std(fake("fz", csAlnum, 32))))
	f.Add([]byte(b64std("hunter2hunter2")))
	f.Fuzz(func(t *testing.T, in []byte) {
		if laravelKeyOK(in) && !bytes.HasPrefix(in, []byte("base64:")) {
			t.Fatal("accepted an APP_KEY without base64:")
		}
		if printableB64OK(in) {
			var buf [512]byte
			d, ok := decodeB64(buf[:0], in)
			if !ok || len(d) < 6 || bytes.IndexFunc(d, func(r rune) bool { return r < 0x21 || r > 0x7e }) >= 0 {
				t.Fatal("accepted base64 of non-printable or short bytes")
			}
		}
		mixedCase(len(in) / 2)(in)
		hasDigitAndLetter(in)
	})
}

func FuzzSASSig(f *testing.F) {
	f.Add([]byte(strings.ReplaceAll(b64std(fake("fz", csAlnum, 32)), "=", "%3D")))
	f.Add([]byte("%2"))
	f.Fuzz(func(t *testing.T, in []byte) {
		if !sasSigOK(in) {
			return
		}
		un := strings.NewReplacer("%2B", "+", "%2b", "+", "%2F", "/", "%2f", "/", "%3D", "=", "%3d", "=").Replace(string(in))
		d, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(un, "="))
		if err != nil || len(d) != 32 {
			t.Fatal("accepted a signature that is not 32 bytes of base64")
		}
	})
}

// FuzzMoreMatchers runs the hand-written matchers of the extended catalog at every
// occurrence of their keywords: each must return an in-range, non-empty span.
func FuzzMoreMatchers(f *testing.F) {
	type m struct {
		kws []string
		fn  Matcher
	}
	ms := []m{}
	for _, r := range DefaultRules() {
		if r.Match != nil {
			ms = append(ms, m{r.Keywords, r.Match})
		}
	}
	for _, r := range append(genericMoreRules(), keyMoreRules()...) {
		for _, s := range append(r.TruePositives, r.FalsePositives...) {
			f.Add([]byte(s.Text))
		}
	}
	f.Add([]byte("machine a.b\\n login x\\n password"))
	f.Add([]byte("curl -u a:"))
	f.Add([]byte(`{"kty":"d","d":"`))
	f.Fuzz(func(t *testing.T, in []byte) {
		low := make([]byte, len(in)) // ASCII folding, as the prefilter does: offsets stay put
		for i, c := range in {
			low[i] = lowerASCII(c)
		}
		for _, mm := range ms {
			for _, kw := range mm.kws {
				k := []byte(strings.ToLower(kw))
				for off := 0; ; {
					i := bytes.Index(low[off:], k)
					if i < 0 {
						break
					}
					ks := off + i
					if s, e, ok := mm.fn(in, ks, ks+len(k)); ok && (s < 0 || e > len(in) || s >= e) {
						t.Fatalf("keyword %q at %d: got span [%d:%d] of %d bytes", kw, ks, s, e, len(in))
					}
					off = ks + 1
				}
			}
		}
	})
}
