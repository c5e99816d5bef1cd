package detect

import (
	"bytes"
)

// Hand-written matchers for secrets whose shape a bounded regular expression window
// handles badly: long (JWT, PEM) or context-heavy (URIs, bearer tokens).

const (
	maxJWT    = 16 << 10 // longest JWT taken
	maxPEM    = 64 << 10 // longest PEM block searched for its END line
	maxBearer = 8 << 10  // longest bearer credential
)

func isB64URL(c byte) bool { return isAlnum(c) || c == '-' || c == '_' }
func isB64(c byte) bool    { return isAlnum(c) || c == '+' || c == '/' || c == '=' }

// isPEMBody reports bytes that may occur in a PEM body, armor headers included.
func isPEMBody(c byte) bool {
	switch c {
	case '\\', ':', ',', '-', '.', '(', ')', '@', '<', '>':
		return true
	}
	return isB64(c) || isSpace(c)
}

// matchJWT matches header.payload.signature (or a five-part JWE) starting at the
// keyword "eyJ".
func matchJWT(in []byte, ks, _ int) (int, int, bool) {
	if ks > 0 && (isB64URL(in[ks-1]) || in[ks-1] == '.') {
		return 0, 0, false
	}
	i, parts := ks, 0
	var lens [5]int
	for parts < 5 {
		s := i
		for i < len(in) && i-ks < maxJWT && isB64URL(in[i]) {
			i++
		}
		lens[parts] = i - s
		parts++
		if i < len(in) && in[i] == '.' && parts < 5 {
			i++
			continue
		}
		break
	}
	if parts > 3 && lens[parts-1] == 0 { // "header.payload.sig." ends a sentence
		parts--
		i--
	}
	if i < len(in) && (isB64URL(in[i]) || in[i] == '=' || in[i] == '.' && i+1 < len(in) && isB64URL(in[i+1])) {
		return 0, 0, false
	}
	switch {
	case parts == 3 && lens[0] >= 10 && lens[1] >= 2 && lens[2] >= 16:
	case parts == 5 && lens[0] >= 10 && lens[2] >= 8 && lens[3] >= 8 && lens[4] >= 8:
	default:
		return 0, 0, false
	}
	if !jwtOK(in[ks:i]) {
		return 0, 0, false
	}
	return ks, i, true
}

// matchPEM matches a PEM private key block from its -----BEGIN line through its
// -----END line. A block cut off before its END line runs to the end of its body.
func matchPEM(in []byte, ks, ke int) (int, int, bool) {
	i := ke
	if i >= len(in) || in[i] != ' ' {
		return 0, 0, false
	}
	i++
	ls := i
	for i < len(in) && i-ls < 40 && (in[i] >= 'A' && in[i] <= 'Z' || isDigit(in[i]) || in[i] == ' ') {
		i++
	}
	label := in[ls:i]
	if !bytes.HasPrefix(in[i:], []byte("-----")) ||
		!(bytes.HasSuffix(label, []byte("PRIVATE KEY")) || bytes.HasSuffix(label, []byte("PRIVATE KEY BLOCK"))) {
		return 0, 0, false
	}
	// Walk the body (base64, whitespace, escaped newlines, armor headers) up to the
	// next dashes, so each BEGIN costs only its own body.
	bs := i + 5
	j, limit := bs, min(len(in), bs+maxPEM)
	for j < limit && isPEMBody(in[j]) && !(in[j] == '-' && bytes.HasPrefix(in[j:], []byte("-----"))) {
		j++
	}
	be, end := j, j
	if bytes.HasPrefix(in[j:], []byte("-----END ")) {
		e := j + len("-----END ")
		if !bytes.HasPrefix(in[e:], label) || !bytes.HasPrefix(in[e+len(label):], []byte("-----")) {
			return 0, 0, false
		}
		end = e + len(label) + 5
	} else {
		// Cut off before its END line: the body so far is still secret.
		for be > bs && (isSpace(in[be-1]) || in[be-1] == '-' || in[be-1] == '\\') {
			be--
		}
		end = be
	}
	body := in[bs:be]
	n := 0
	for _, c := range body {
		if isB64(c) {
			n++
		}
	}
	if n < 64 || bytes.Contains(body, []byte("...")) || entropy(body) < 4.0 {
		return 0, 0, false
	}
	return ks, end, true
}

// uriSchemes are the schemes whose user:password@ part is checked. A driver suffix
// (postgresql+psycopg2) is allowed.
var uriSchemes = []string{
	"postgres", "postgresql", "mysql", "mariadb", "mongodb", "redis", "rediss", "amqp",
	"amqps", "http", "https", "ftp", "ftps", "sftp", "ssh", "smtp", "smtps", "ldap",
	"ldaps", "mssql", "sqlserver", "clickhouse", "nats", "cockroachdb", "oracle",
	"kafka", "memcached", "couchdb", "neo4j", "bolt", "influxdb", "elasticsearch", "git",
}

func isSchemeChar(c byte) bool { return isAlnum(c) || c == '+' || c == '-' || c == '.' }

// matchURIPassword finds the password of a scheme://user:password@host URI around
// the keyword "://".
func matchURIPassword(in []byte, ks, ke int) (int, int, bool) {
	ss := ks
	for ss > 0 && ks-ss < 32 && isSchemeChar(in[ss-1]) {
		ss--
	}
	scheme := in[ss:ks]
	if p := bytes.IndexByte(scheme, '+'); p >= 0 {
		scheme = scheme[:p]
	}
	known := false
	for _, s := range uriSchemes {
		if equalFold(scheme, s) {
			known = true
			break
		}
	}
	if !known {
		return 0, 0, false
	}
	at, end := -1, ke
	for ; end < len(in) && end-ke < 512; end++ {
		c := in[end]
		if c == '/' || c == '?' || c == '#' || c <= ' ' || c == '"' || c == '\'' || c == '<' || c == '>' || c == '`' || c == '\\' {
			break
		}
		if c == '@' {
			at = end
		}
	}
	if at < 0 || at+1 >= end {
		return 0, 0, false
	}
	colon := bytes.IndexByte(in[ke:at], ':')
	if colon < 0 {
		return 0, 0, false
	}
	user, ps := in[ke:ke+colon], ke+colon+1
	pw, host := in[ps:at], in[at+1:end]
	if len(pw) < 4 || isPlaceholder(pw) {
		return 0, 0, false
	}
	if bytes.Equal(pw, user) && localHost(host) {
		return 0, 0, false
	}
	return ps, at, true
}

// localHost reports whether host[:port] names this machine.
func localHost(host []byte) bool {
	if i := bytes.LastIndexByte(host, ':'); i >= 0 && !bytes.HasSuffix(host, []byte("]")) {
		host = host[:i]
	}
	for _, h := range []string{"localhost", "127.0.0.1", "[::1]", "0.0.0.0"} {
		if equalFold(host, h) {
			return true
		}
	}
	return false
}

func isB64Token(c byte) bool {
	return isAlnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' || c == '='
}

// matchBearer finds the credential after "Bearer " (RFC 6750 b64token syntax).
func matchBearer(in []byte, ks, ke int) (int, int, bool) {
	if ks > 0 && isAlnum(in[ks-1]) {
		return 0, 0, false
	}
	i := ke
	for i < len(in) && i-ke < 8 && isBlank(in[i]) {
		i++
	}
	if i == ke {
		return 0, 0, false
	}
	vs := i
	for i < len(in) && i-vs <= maxBearer && isB64Token(in[i]) {
		i++
	}
	for i > vs && in[i-1] == '.' { // sentence end
		i--
	}
	v := in[vs:i]
	if len(v) < 16 || len(v) > maxBearer || isPlaceholder(v) || charClasses(v) < 2 || entropy(v) < 3.0 {
		return 0, 0, false
	}
	return vs, i, true
}

// matchGitLabPAT matches a GitLab access token after its "glpat-" keyword, at the
// start of a word: 20 to 64 URL-safe base64 bytes, then optionally ".xx.yyyyyyy" (2,
// then 7 to 9 lower-case letters or digits: the routable form), then no URL-safe
// byte. It is the pattern
// glpat-[A-Za-z0-9_-]{20,64}(?:\.[0-9a-z]{2}\.[0-9a-z]{7,9})?(?:[^A-Za-z0-9_-]|$)
// without its cost on text made of the keyword repeated.
func matchGitLabPAT(in []byte, ks, ke int) (int, int, bool) {
	if ks > 0 && isWordChar(in[ks-1]) {
		return 0, 0, false
	}
	i := ke
	for i < len(in) && i-ke < 64 && isB64URL(in[i]) {
		i++
	}
	if i-ke < 20 || i < len(in) && isB64URL(in[i]) {
		return 0, 0, false // too short, or a run longer than any token
	}
	lowerAlnum := func(c byte) bool { return isDigit(c) || 'a' <= c && c <= 'z' }
	if i+4 <= len(in) && in[i] == '.' && lowerAlnum(in[i+1]) && lowerAlnum(in[i+2]) && in[i+3] == '.' {
		j := i + 4
		for j < len(in) && j-(i+4) < 9 && lowerAlnum(in[j]) {
			j++
		}
		if j-(i+4) >= 7 && (j == len(in) || !isB64URL(in[j])) {
			return ks, j, true
		}
	}
	return ks, i, true
}
