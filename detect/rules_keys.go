package detect

import (
	"bytes"
	"strings"
)

// Token classes of the key material rules.
const (
	ClassAge       = "age"
	ClassWireGuard = "wireguard"
)

// maxPPK bounds the bytes searched for the end of a PuTTY key file.
const maxPPK = 16 << 10

// matchPuTTY matches a PuTTY private key file from its PuTTY-User-Key-File- line
// through the hex of its Private-MAC line (Private-Hash in version 1). Its keyword is
// "-User-Key-File-", whose first bytes are rarer in text than those of "PuTTY".
func matchPuTTY(in []byte, ks, ke int) (int, int, bool) {
	if ks < len("PuTTY") || string(in[ks-len("PuTTY"):ks]) != "PuTTY" {
		return 0, 0, false
	}
	ks -= len("PuTTY")
	if ks > 0 && isWordChar(in[ks-1]) {
		return 0, 0, false
	}
	w := in[ks:min(len(in), ks+maxPPK)]
	if next := bytes.Index(w[ke-ks:], []byte("PuTTY-User-Key-File-")); next >= 0 {
		w = w[:ke-ks+next] // each hit looks no further than the next key file
	}
	pl := bytes.Index(w, []byte("Private-Lines:"))
	if pl < 0 {
		return 0, 0, false
	}
	rest := w[pl:]
	mac := bytes.Index(rest, []byte("Private-MAC:"))
	if mac < 0 {
		mac = bytes.Index(rest, []byte("Private-Hash:"))
	}
	if mac < 0 {
		return 0, 0, false
	}
	body := rest[len("Private-Lines:"):mac]
	n := 0
	for _, c := range body {
		if isB64(c) {
			n++
		}
	}
	if n < 40 || bytes.Contains(body, []byte("...")) || entropy(body) < 4.0 {
		return 0, 0, false
	}
	e := mac + bytes.IndexByte(rest[mac:], ':') + 1
	for e < len(rest) && isBlank(rest[e]) {
		e++
	}
	hs := e
	for e < len(rest) && (isDigit(rest[e]) || rest[e] >= 'a' && rest[e] <= 'f' || rest[e] >= 'A' && rest[e] <= 'F') {
		e++
	}
	if e-hs < 40 {
		return 0, 0, false
	}
	return ks, ks + pl + e, true
}

// Bounds of how far matchJWK looks for the braces of the enclosing object, before
// and after the "d" member: an RSA-4096 JWK fits.
const (
	maxJWKBefore = 2 << 10
	maxJWKAfter  = 4 << 10
)

// matchJWK matches the private exponent or key ("d") of a JSON Web Key: a base64url
// member "d" in an object that names "kty".
func matchJWK(in []byte, ks, ke int) (int, int, bool) {
	i := ke
	for i < len(in) && isSpace(in[i]) {
		i++
	}
	if i >= len(in) || in[i] != ':' {
		return 0, 0, false
	}
	i++
	for i < len(in) && isSpace(in[i]) {
		i++
	}
	if i >= len(in) || in[i] != '"' {
		return 0, 0, false
	}
	vs := i + 1
	j := vs
	for j < len(in) && j-vs <= 2048 && isB64URL(in[j]) {
		j++
	}
	if j >= len(in) || in[j] != '"' || j-vs < 40 {
		return 0, 0, false
	}
	bs := max(0, ks-maxJWKBefore)
	lo := bytes.LastIndexByte(in[bs:ks], '{')
	if lo < 0 || bytes.IndexByte(in[bs+lo:ks], '}') >= 0 {
		return 0, 0, false
	}
	after := in[j:min(len(in), j+maxJWKAfter)]
	hi := bytes.IndexByte(after, '}')
	if hi < 0 || bytes.IndexByte(after[:hi], '{') >= 0 || !bytes.Contains(in[bs+lo:j+hi], []byte(`"kty"`)) {
		return 0, 0, false
	}
	return vs, j, true
}

func keyMoreRules() []Rule {
	age := fakeAgeKey("age")
	badAge := []byte(fakeAgeKey("agebad"))
	if badAge[30] == 'Q' { // another bech32 character: the checksum no longer holds
		badAge[30] = 'P'
	} else {
		badAge[30] = 'Q'
	}
	ppkLines := func(seed string, n int) string {
		var b strings.Builder
		for i := 0; i < n; i++ {
			b.WriteString(fake(seed+string(rune('a'+i)), csB64, 64) + "\n")
		}
		return b.String()
	}
	ppk := "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: ed25519-key-20250101\nPublic-Lines: 2\n" +
		ppkLines("ppkpub", 2) + "Private-Lines: 1\n" + ppkLines("ppkpriv", 1) + "Private-MAC: " + fake("ppkmac", csHex, 64)
	ppk2 := "PuTTY-User-Key-File-2: ssh-rsa\r\nEncryption: none\r\nComment: rsa-key-20190101\r\nPublic-Lines: 6\r\n" +
		strings.ReplaceAll(ppkLines("ppk2pub", 6), "\n", "\r\n") + "Private-Lines: 14\r\n" +
		strings.ReplaceAll(ppkLines("ppk2priv", 14), "\n", "\r\n") + "Private-MAC: " + fake("ppk2mac", csHex, 40)
	pem := fakePEM("RSA PRIVATE KEY", "kubekey", 14, "\n") + "\n"
	kube := b64std(pem)
	certB64 := b64std("-----BEGIN CERTIFICATE-----\n" + fake("kubecert", csB64, 64) + "\n" + fake("kubecert2", csB64, 64) + "\n-----END CERTIFICATE-----\n")
	d := fake("jwkd", csURL, 342)
	jwk := `{"kty":"RSA","n":"` + fake("jwkn", csURL, 342) + `","e":"AQAB","d":"@@","p":"` + fake("jwkp", csURL, 171) + `"}`
	ecjwk := "{\n  \"kty\": \"EC\",\n  \"crv\": \"P-256\",\n  \"x\": \"" + fake("ecx", csURL, 43) + "\",\n  \"y\": \"" + fake("ecy", csURL, 43) + "\",\n  \"d\": \"@@\"\n}"
	ecd := fake("ecd", csURL, 43)
	wg := b64std(fake("wg", csAlnum, 32))
	wg2 := b64std(fake("wgpsk", csAlnum, 32))
	jwtB64 := b64std(fakeJWT("jwtb64"))
	return []Rule{
		validated(sampled(tokenRule("age-secret-key", ClassAge, "age encryption identity (AGE-SECRET-KEY-1, bech32 checksum checked)",
			[]string{"AGE-|SECRET-KEY-1"}, `AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}`, tailAlnum, 80, 3.5),
			[]Sample{
				tp("# created: 2025-01-01T00:00:00Z\n# public key: age1"+fake("agepub", bech32Charset, 58)+"\n@@\n", age),
				tp("SOPS_AGE_KEY=@@", age),
			},
			string(badAge),
			"AGE-SECRET-KEY-1"+strings.Repeat("Q", 58),
		), ageSecretKeyOK),
		sampled(Rule{
			ID: "putty-private-key", Class: ClassPrivateKey,
			Description: "PuTTY private key file (.ppk), header through Private-MAC",
			Keywords:    []string{"-User-Key-File-"}, CaseSensitive: true,
			Match: matchPuTTY,
		},
			[]Sample{
				tp("$ cat ~/.ssh/deploy.ppk\n@@\n", ppk),
				tp("@@\r\n", ppk2),
				tp(`{"content": "`+strings.ReplaceAll(ppk, "\n", `\n`)+`"}`, strings.ReplaceAll(ppk, "\n", `\n`)),
			},
			"PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nPublic-Lines: 2\n"+ppkLines("ppkpub", 2),
			"PuTTY-User-Key-File-2: ssh-rsa\nPrivate-Lines: 1\nAAAA...\nPrivate-MAC: "+fake("ppkmac", csHex, 40),
		),
		validated(sampled(tokenRule("private-key-base64", ClassPrivateKey, "base64-encoded PEM private key (kubeconfig client-key-data, CI secrets)",
			[]string{"LS0tLS1CRUdJTi"}, `LS0tLS1CRUdJTi[A-Za-z0-9+/]{100,}={0,2}`, tailB64, 12<<10, 4.5),
			[]Sample{
				tp("users:\n- name: admin\n  user:\n    client-certificate-data: "+certB64+"\n    client-key-data: @@\n", kube),
				tp("SSH_PRIVATE_KEY_B64=@@", kube),
			},
			"    certificate-authority-data: "+certB64,
			"LS0tLS1CRUdJTi"+fake("pemb64fp", csB64, 120),
		), pemB64OK),
		validated(sampled(Rule{
			ID: "private-jwk", Class: ClassPrivateKey,
			Description: "private key member (d) of a JSON Web Key",
			Keywords:    []string{`"d"`}, CaseSensitive: true,
			Match: matchJWK, MinEntropy: 4.0,
		},
			[]Sample{
				tp(jwk, d),
				tp(`{"keys": [`+ecjwk+`]}`, ecd),
			},
			`{"d": "`+fake("jwkfp", csURL, 60)+`", "type": "delta"}`,
			`{"kty":"RSA","n":"`+fake("jwkn", csURL, 60)+`","e":"AQAB"}`,
			`{"kty":"EC","d":"short"}`,
		), func(b []byte) bool {
			var buf [1024]byte
			k, ok := decodeB64(buf[:0], b)
			return ok && len(k) >= 30
		}),
		validated(sampled(Rule{
			ID: "wireguard-private-key", Class: ClassWireGuard,
			Description: "WireGuard private key in a wg-quick config",
			Keywords:    []string{"PrivateKey"}, CaseSensitive: true, Anchored: true,
			Pattern: `PrivateKey\s*=\s*(?P<secret>[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=)(?:[^A-Za-z0-9+/=]|$)`, After: 64,
			MinEntropy: 4.0,
		},
			[]Sample{
				tp("[Interface]\nAddress = 10.8.0.2/24\nPrivateKey = @@\nDNS = 1.1.1.1\n", wg),
				tp("cat > /etc/wireguard/wg0.conf <<EOF\n[Interface]\nPrivateKey=@@\nListenPort=51820\nEOF", wg2),
			},
			"PublicKey = "+wg,
			"PrivateKey = <client-private-key>",
		), b64Bytes(32)),
		validated(sampled(tokenRule("jwt-base64", ClassJWT, "base64-encoded JSON Web Token",
			[]string{"ZXlK"}, `ZXlK[A-Za-z0-9+/]{40,}={0,2}`, tailB64, 4096, 4.0),
			[]Sample{
				tp("SERVICE_JWT_B64=@@", jwtB64),
				tp("data:\n  token: @@\n", jwtB64),
			},
			"ZXlK"+fake("jwtb64fp", csB64, 80),
			b64std(`eyJ`+fake("nojwt", csAlnum, 60)),
		), jwtB64OK),
	}
}
