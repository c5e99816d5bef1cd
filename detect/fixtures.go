package detect

import (
	"encoding/base64"
	"hash/fnv"
	"strings"
)

// Sample builders. Secrets in samples are generated when the catalog is built, never
// written out literally: they are fake, and this keeps provider secret scanners from
// flagging the source.

const (
	csAlnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	csUpper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	csHex   = "0123456789abcdef"
	csB64   = csAlnum + "+/"
	csURL   = csAlnum + "-_"
)

var base64Std = base64.StdEncoding

// fake returns n pseudo-random characters of charset, fixed by seed.
func fake(seed, charset string, n int) string {
	h := fnv.New64a()
	_, _ = h.Write([]byte(seed))
	x := h.Sum64() | 1
	b := make([]byte, n)
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = charset[x%uint64(len(charset))]
	}
	return string(b)
}

// githubToken returns a fake GitHub token with prefix (such as "ghp_") and a valid
// checksum: 30 random base62 characters, then the 6-character base62 CRC-32 of them.
func githubToken(prefix, seed string) string {
	r := fake(seed, csAlnum, 30)
	sum := base62CRC([]byte(r))
	return prefix + r + string(sum[:])
}

// fakeJWT returns a fake HS256 JWT.
func fakeJWT(seed string) string {
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." +
		enc.EncodeToString([]byte(`{"sub":"`+fake(seed, csAlnum, 10)+`","iat":1516239022}`)) + "." +
		fake(seed+"sig", csURL, 43)
}

// fakePEM returns a fake PEM block with the given label (such as "RSA PRIVATE KEY")
// and lines of 64 base64 characters, joined with nl.
func fakePEM(label, seed string, lines int, nl string) string {
	var b strings.Builder
	b.WriteString("-----BEGIN " + label + "-----" + nl)
	for i := 0; i < lines; i++ {
		b.WriteString(fake(seed+string(rune('a'+i)), csB64, 64) + nl)
	}
	b.WriteString("-----END " + label + "-----")
	return b.String()
}

// tp builds a true positive: text is a template in which "@@" stands for secret.
func tp(text, secret string) Sample {
	return Sample{Text: strings.ReplaceAll(text, "@@", secret), Secret: secret}
}

// fp builds false positives.
func fp(texts ...string) []Sample {
	out := make([]Sample, len(texts))
	for i, t := range texts {
		out[i] = Sample{Text: t}
	}
	return out
}

// ftp builds a JSON member true positive for a Field rule.
func ftp(key, value string) Sample { return Sample{Key: key, Text: value, Secret: value} }

// ffp builds a JSON member false positive for a Field rule.
func ffp(key, value string) Sample { return Sample{Key: key, Text: value} }
