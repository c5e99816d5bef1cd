package detect

import (
	"bytes"
	"strings"
)

// Context rules beyond generic.go: key names the generic rules leave alone
// (ENCRYPTION_KEY, signingKey), framework secrets, credentials on command lines and
// in .netrc files, and Authorization schemes other than Bearer, Basic and Token.

// notKeyNames are parts of key names ending in "key" that name something public or
// structural: public keys, database and cache keys, keyboard shortcuts.
var notKeyNames = []string{
	"public", "publishable", "pubkey", "anon", "sitekey", "recaptcha", "sort", "partition",
	"primary", "foreign", "unique", "cache", "idempot", "dedup", "routing", "object",
	"bucket", "mapkey", "jsonkey", "hotkey", "shortcut", "lookup", "query", "cursor",
	"group", "index", "range", "hashkey", "gpg", "pgp", "sshkey", "hostkey", "keykey",
	"translation", "i18n", "locale", "label", "column", "field", "prop", "redis", "kafka",
	"message", "event", "order", "row", "table", "dict", "metric", "tag", "storagekey",
}

// namedKey reports whether a key name ends in "key" after a word of its own (STRIPE_KEY,
// signingKey), is not one generic.go already handles (API_KEY, SECRET_KEY) and names
// nothing public or structural.
func namedKey(key []byte) bool {
	if len(key) > 64 || keyKind(key) != kindNone {
		return false
	}
	var buf [64]byte
	norm := normKey(&buf, key)
	if len(norm) <= 5 || !bytes.HasSuffix(norm, []byte("key")) {
		return false
	}
	for _, x := range notKeyNames {
		if bytes.Contains(norm, []byte(x)) {
			return false
		}
	}
	return true
}

// isUUID reports whether v is a UUID: an identifier far more often than a secret.
func isUUID(v []byte) bool {
	if len(v) != 36 {
		return false
	}
	for i, c := range v {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return false
			}
		} else if !isDigit(c) && !(c >= 'a' && c <= 'f') && !(c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// randomish reports whether v reads as generated key material rather than a word,
// a name or an identifier: at least 16 bytes of high entropy that mix upper case,
// lower case and digits, or at least 32 of hex or lower case base36.
func randomish(v []byte) bool {
	if len(v) < 16 || isUUID(v) || entropy(v) < 3.5 {
		return false
	}
	var lo, up, dg, sep bool
	for _, c := range v {
		switch {
		case c >= 'a' && c <= 'z':
			lo = true
		case c >= 'A' && c <= 'Z':
			up = true
		case isDigit(c):
			dg = true
		default:
			sep = true
		}
	}
	if lo && up && dg {
		return true
	}
	return len(v) >= 32 && dg && !up && !sep
}

// matchNamedKey finds a random value assigned to a key name namedKey accepts.
func matchNamedKey(in []byte, ks, ke int) (int, int, bool) {
	key, vs, ve, strong, ok := assignAt(in, ks, ke, false)
	if !ok || ve-vs < 16 {
		return 0, 0, false
	}
	k := key
	for len(k) > 0 && !isLetter(k[len(k)-1]) {
		k = k[:len(k)-1]
	}
	if len(k) < 4 || !hasPrefixFold(k[len(k)-3:], "key") { // cheap test before namedKey
		return 0, 0, false
	}
	v := in[vs:ve]
	if !randomish(v) || !namedKey(key) || !plausibleSecret(v, kindSecret, strong) || string(v) == azuriteKey {
		return 0, 0, false
	}
	return vs, ve, true
}

// lineEnd returns the end of the command line starting at i, bounded by limit: the
// first newline not escaped by a backslash continuation.
func lineEnd(in []byte, i, limit int) int {
	for i < limit {
		n := bytes.IndexByte(in[i:limit], '\n')
		if n < 0 {
			return limit
		}
		i += n
		if !(i > 0 && in[i-1] == '\\' || i > 1 && in[i-1] == '\r' && in[i-2] == '\\') {
			return i
		}
		i++
	}
	return limit
}

// argAt reads a command line argument at in[i] (quoted or bare) and returns the span
// of its content.
func argAt(in []byte, i, end int) (int, int, bool) {
	if i >= end {
		return 0, 0, false
	}
	if q := in[i]; q == '\'' || q == '"' {
		j := bytes.IndexByte(in[i+1:end], q)
		if j <= 0 {
			return 0, 0, false
		}
		return i + 1, i + 1 + j, true
	}
	j := i
	for j < end && !isSpace(in[j]) && in[j] != ';' && in[j] != '|' && in[j] != '&' && in[j] != ')' && in[j] != '`' && in[j] != '"' && in[j] != '\'' {
		j++
	}
	return i, j, j > i
}

// cliWindow bounds how far a command's arguments are searched for a credential flag.
const cliWindow = 1024

// flagValue finds the value of one of flags (such as "-p") given after a blank on the
// command line that starts at in[ke]. attached allows "-pVALUE"; spaced allows
// "-p VALUE"; "-p=VALUE" is always allowed.
func flagValue(in []byte, ke int, flags []string, attached, spaced bool) (int, int, bool) {
	end := lineEnd(in, ke, min(len(in), ke+cliWindow))
	for _, f := range flags {
		for i := ke; i < end; {
			p := bytes.Index(in[i:end], []byte(f))
			if p < 0 {
				break
			}
			at := i + p
			i = at + 1
			if at == 0 || !isBlank(in[at-1]) {
				continue
			}
			j := at + len(f)
			switch {
			case j < end && in[j] == '=':
				return argAt(in, j+1, end)
			case j < end && !isSpace(in[j]) && attached:
				return argAt(in, j, end)
			case j < end && isBlank(in[j]) && spaced:
				return argAt(in, skipBlanks(in, j), end)
			}
		}
	}
	return 0, 0, false
}

// cliPassword checks a password found on a command line.
func cliPassword(in []byte, s, e int, ok bool) (int, int, bool) {
	if !ok || e-s > maxBareValue || in[s] == '-' || !plausibleSecret(in[s:e], kindPassword, true) {
		return 0, 0, false
	}
	return s, e, true
}

// atCommand reports whether the keyword hit in[ks:ke] is a command name: it starts a
// word and is followed by a blank.
func atCommand(in []byte, ks, ke int) bool {
	return (ks == 0 || !isKeyChar(in[ks-1]) && in[ks-1] != '/') && ke < len(in) && (isBlank(in[ke]) || in[ke] == '\\')
}

// matchCurlUser finds the password of curl -u/--user user:password.
func matchCurlUser(in []byte, ks, ke int) (int, int, bool) {
	if !atCommand(in, ks, ke) {
		return 0, 0, false
	}
	s, e, ok := flagValue(in, ke, []string{"-u", "--user"}, true, true)
	if !ok {
		return 0, 0, false
	}
	c := bytes.IndexByte(in[s:e], ':')
	if c <= 0 || s+c+1 >= e {
		return 0, 0, false
	}
	return cliPassword(in, s+c+1, e, true)
}

// matchMySQLPassword finds the password of mysql -pPASSWORD (attached, as the mysql
// clients require).
func matchMySQLPassword(in []byte, ks, ke int) (int, int, bool) {
	if ks > 0 && (isKeyChar(in[ks-1]) || in[ks-1] == '/') {
		return 0, 0, false
	}
	for ke < len(in) && isLetter(in[ke]) { // mysqldump, mysqladmin, mariadb-dump
		ke++
	}
	if ke >= len(in) || !isBlank(in[ke]) {
		return 0, 0, false
	}
	s, e, ok := flagValue(in, ke, []string{"-p"}, true, false)
	return cliPassword(in, s, e, ok)
}

// cliPasswordFlags are commands whose short flag carries a password.
var cliPasswordFlags = map[string]string{
	"sshpass": "-p", "redis-cli": "-a", "docker login": "-p", "podman login": "-p",
}

// matchCLIPasswordFlag finds the password of sshpass -p, redis-cli -a and the
// container registry logins' -p.
func matchCLIPasswordFlag(in []byte, ks, ke int) (int, int, bool) {
	if ke-ks == len("is-cli") { // the keyword of redis-cli, whose "red" is common
		if ks < 3 || !hasPrefixFold(in[ks-3:], "red") {
			return 0, 0, false
		}
		ks -= 3
	}
	var buf [32]byte
	cmd := lower(buf[:], in[ks:ke])
	f, ok := cliPasswordFlags[string(cmd)]
	if !ok || !atCommand(in, ks, ke) {
		return 0, 0, false
	}
	s, e, ok := flagValue(in, ke, []string{f}, string(cmd) == "sshpass", true)
	return cliPassword(in, s, e, ok)
}

// netrcWindow bounds the bytes after "machine" searched for its password.
const netrcWindow = 512

// lineNumberArrow is what follows a line number in Claude Code's Read tool output.
const lineNumberArrow = "\u2192"

// skipLineNumber skips the line number that tools put at the start of each line of a
// file they show ("    12→", "12\t" of cat -n), if there is one at in[i].
func skipLineNumber(in []byte, i, end int) int {
	j := i
	for j < end && in[j] == ' ' {
		j++
	}
	d := j
	for j < end && isDigit(in[j]) {
		j++
	}
	switch {
	case j == d || j >= end:
		return i
	case in[j] == '\t':
		return j + 1
	case bytes.HasPrefix(in[j:end], []byte(lineNumberArrow)):
		return j + len(lineNumberArrow)
	}
	return i
}

// netrcToken returns the next whitespace-separated token at or after i, treating the
// escapes \n, \r and \t of JSON or shell text as whitespace and skipping line numbers.
func netrcToken(in []byte, i, end int) (int, int) {
	for i < end {
		switch {
		case in[i] == '\n':
			i = skipLineNumber(in, i+1, end)
		case isSpace(in[i]):
			i++
		case in[i] == '\\' && i+1 < end && in[i+1] == 'n':
			i = skipLineNumber(in, i+2, end)
		case in[i] == '\\' && i+1 < end && (in[i+1] == 'r' || in[i+1] == 't'):
			i += 2
		default:
			j := i
			for j < end && !isSpace(in[j]) && in[j] != '\\' && in[j] != '"' && in[j] != '\'' {
				j++
			}
			return i, j
		}
	}
	return end, end
}

// matchNetrc finds the password of a .netrc entry: machine HOST [login USER] password
// PASSWORD. HOST must look like a host name, so prose about machines does not count.
func matchNetrc(in []byte, ks, ke int) (int, int, bool) {
	if ks > 0 && !isSpace(in[ks-1]) && !isQuote(in[ks-1]) && !(ks > 1 && in[ks-2] == '\\' && in[ks-1] == 'n') &&
		!bytes.HasSuffix(in[:ks], []byte(lineNumberArrow)) {
		return 0, 0, false
	}
	end := min(len(in), ke+netrcWindow)
	if ke >= end || !isSpace(in[ke]) && in[ke] != '\\' {
		return 0, 0, false
	}
	hs, he := netrcToken(in, ke, end)
	host := in[hs:he]
	if len(host) < 3 || (bytes.IndexByte(host, '.') < 0 && !bytes.EqualFold(host, []byte("localhost"))) {
		return 0, 0, false
	}
	for i, n := he, 0; n < 6; n++ {
		ts, te := netrcToken(in, i, end)
		if ts == te {
			return 0, 0, false
		}
		vs, ve := netrcToken(in, te, end)
		switch string(in[ts:te]) {
		case "password":
			if vs == ve {
				return 0, 0, false
			}
			return cliPassword(in, vs, ve, true)
		case "login", "account", "port":
			i = ve
		default:
			return 0, 0, false
		}
	}
	return 0, 0, false
}

// otherSchemes are Authorization schemes other rules handle, or whose credentials are
// not one token.
var otherSchemes = map[string]bool{
	"bearer": true, "basic": true, "token": true, "digest": true, "negotiate": true,
	"ntlm": true, "aws4-hmac-sha256": true, "hawk": true, "oauth": true, "mutual": true,
	"vapid": true, "hoba": true, "scram-sha-1": true, "scram-sha-256": true, "signature": true,
}

// matchAuthScheme finds the credential of an Authorization header whose scheme is not
// one of otherSchemes (ApiKey, Key, SSWS, GenieKey, Bot, DeepL-Auth-Key...) or that
// holds a bare credential with no scheme.
func matchAuthScheme(in []byte, ks, ke int) (int, int, bool) {
	if ks > 0 && isAlnum(in[ks-1]) && in[ks-1] != '-' {
		return 0, 0, false
	}
	i := ke
	if i < len(in) && isQuote(in[i]) {
		i++
	}
	i = skipBlanks(in, i)
	if i >= len(in) || in[i] != ':' && in[i] != '=' || i+1 < len(in) && in[i+1] == '=' {
		return 0, 0, false
	}
	i = skipBlanks(in, i+1)
	if i < len(in) && isQuote(in[i]) {
		i++
	}
	ts := i
	for i < len(in) && i-ts <= maxBearer && isB64Token(in[i]) {
		i++
	}
	te := i
	if te == ts {
		return 0, 0, false
	}
	vs, ve := ts, te
	var buf [32]byte
	scheme := otherSchemes[string(lower(buf[:], in[ts:min(te, ts+len(buf))]))]
	if j := skipBlanks(in, te); j > te && j < len(in) && isB64Token(in[j]) {
		if scheme || te-ts > 32 {
			return 0, 0, false
		}
		vs = j
		for ve = j; ve < len(in) && ve-vs <= maxBearer && isB64Token(in[ve]); ve++ {
		}
	} else if scheme {
		return 0, 0, false
	}
	for ve > vs && in[ve-1] == '.' {
		ve--
	}
	v := in[vs:ve]
	if ve < len(in) && (in[ve] == '(' || in[ve] == '[' || in[ve] == '{') {
		return 0, 0, false
	}
	if len(v) < 16 || isPlaceholder(v) || identifierLike(v) || charClasses(v) < 2 || entropy(v) < 3.0 {
		return 0, 0, false
	}
	return vs, ve, true
}

// namedKeyField is the Field body of generic-json-named-key: the whole value of a JSON
// member whose key namedKey accepts, when it reads as generated key material.
func namedKeyField(key string, value []byte) (int, int, bool) {
	if len(value) < 16 || len(value) > maxBareValue || !tailIsKey(key) || !namedKey([]byte(key)) || !randomish(value) ||
		!plausibleSecret(value, kindSecret, true) || string(value) == azuriteKey {
		return 0, 0, false
	}
	return 0, len(value), true
}

func genericMoreRules() []Rule {
	hexKey := fake("encryptkey", csHex, 64)
	mixKey := fake("mixkey", csAlnum, 32)
	b64Key := b64std(fake("b64key", csAlnum, 32))
	skb := fake("skb", csHex, 128)
	laravel := "base64:" + b64std(fake("laravel", csAlnum, 32))
	pw := fake("netrcpw", csAlnum, 20)
	curlPW := fake("curlpw", csAlnum, 18) + "!"
	myPW := fake("mysqlpw", csAlnum, 16)
	sshPW := fake("sshpw", csAlnum, 14)
	apiKey := fake("authscheme", csAlnum, 40)
	return []Rule{
		sampled(Rule{
			ID: "generic-named-key", Class: ClassSecret,
			Description: "random value assigned to a *_KEY or *-key name (ENCRYPTION_KEY, STRIPE_KEY, LICENSE_KEY, x-functions-key)",
			Keywords:    []string{"_key", "-key"}, Generic: true,
			Match: matchNamedKey, keyHits: true,
		},
			[]Sample{
				tp("ENCRYPTION_KEY=@@\n", hexKey),
				tp(`STRIPE_KEY="@@"`, mixKey),
				tp("signing_key: '@@'\n", b64Key),
				tp(`curl -H "x-functions-key: @@" https://acme.azurewebsites.net/api/ingest`, mixKey),
				tp("[auth]\nmaster_key = \"@@\"\n", mixKey),
				tp("MASTER_KEY_2=@@", mixKey),
			},
			"CACHE_KEY=user-profile-v2-"+fake("ck", "abcdefghijklmnopqrstuvwxyz", 8),
			"STRIPE_PUBLISHABLE_KEY=pk_live_"+fake("pklive", csAlnum, 24),
			"primary_key: "+fake("pk", csAlnum, 32),
			"IDEMPOTENCY_KEY="+fakeUUID("idem"),
			"SSH_KEY=~/.ssh/id_ed25519",
			"license_key: ${LICENSE_KEY}",
			"partition_key = 'tenant_id'",
			"ENCRYPTION_KEY=0123456789abcdef",
			"GPG_KEY=3AA5C34371567BD2",
			"APP_KEY=",
			"SIGNING_KEY=/etc/keys/signing.pem",
			"sort_key: created_at",
			"ENCRYPTION_KEY_ID="+fake("kid", csAlnum, 32),
		),
		sampled(Rule{
			ID: "generic-camel-key", Class: ClassSecret,
			Description: "random value assigned to a camelCase *Key name in code (encryptionKey, signingKey, stripeKey)",
			Keywords:    []string{"Key"}, CaseSensitive: true, Generic: true,
			Match: matchNamedKey, keyHits: true,
		},
			[]Sample{
				tp(`const encryptionKey = "@@";`, hexKey),
				tp(`signingKey: '@@',`, mixKey),
				tp(`$config->masterKey = '@@';`, b64Key),
			},
			`const cacheKey = "user:" + id;`,
			`publicKey: "`+mixKey+`"`,
			`primaryKey: "`+mixKey+`"`,
			"Key features: fast, small, safe.",
			`encryptionKey = process.env.ENCRYPTION_KEY`,
			`const apiKey = "`+mixKey+`";`,
		),
		{
			ID: "generic-json-named-key", Class: ClassSecret,
			Description: "whole value of a JSON member named like a key (signingKey, encryption_key) that reads as generated key material",
			Generic:     true, Field: namedKeyField, onlyStemKeys: true,
			TruePositives: []Sample{
				ftp("signingKey", mixKey), ftp("encryption_key", hexKey), ftp("MASTER_KEY", b64Key),
			},
			FalsePositives: []Sample{
				ffp("cacheKey", mixKey), ffp("publicKey", mixKey), ffp("signingKey", "/etc/keys/signing.pem"),
				ffp("idempotencyKey", fakeUUID("jsonidem")), ffp("apiKey", mixKey), ffp("translationKey", "errors.network.timeout"),
			},
		},
		sampled(atKeyword(Rule{
			ID: "rails-secret-key-base", Class: ClassSecret,
			Description: "Rails secret_key_base (64 to 256 hex)",
			Keywords:    []string{"secret_key_base", "secret-key-base", "secretkeybase"},
			Pattern:     `(?i:secret[_.-]?key[_.-]?base)["']?\s*(?::=|=>|=|:)\s*["']?(?P<secret>[0-9a-f]{64,256})(?:[^A-Za-z0-9]|$)`,
			Before:      1, After: 300, MinEntropy: 3.0,
		}),
			[]Sample{
				tp("SECRET_KEY_BASE=@@", skb),
				tp("production:\n  secret_key_base: @@\n", skb),
			},
			"SECRET_KEY_BASE=$(openssl rand -hex 64)",
			"secret_key_base: <%= ENV[\"SECRET_KEY_BASE\"] %>",
			"SECRET_KEY_BASE="+strings.Repeat("0", 128),
		),
		validated(sampled(atKeyword(Rule{
			ID: "laravel-app-key", Class: ClassSecret,
			Description: "Laravel APP_KEY (base64: and 32 key bytes)",
			Keywords:    []string{"pp_key", "pp-key", "ppkey"},
			Pattern:     `(?i:a?pp[_.-]?key)["']?\s*(?::=|=>|=|:)\s*["']?(?P<secret>base64:[A-Za-z0-9+/]{22,44}={0,2})(?:[^A-Za-z0-9+/=]|$)`,
			Before:      1, After: 80, MinEntropy: 3.5,
		}),
			[]Sample{
				tp("APP_NAME=Acme\nAPP_ENV=production\nAPP_KEY=@@\nAPP_DEBUG=false\n", laravel),
				tp("services:\n  app:\n    environment:\n      APP_KEY: \"@@\"\n", laravel),
			},
			"APP_KEY=",
			"APP_KEY=base64:"+b64std("short"),
		), laravelKeyOK),
		sampled(Rule{
			ID: "netrc-password", Class: ClassPassword,
			Description: "password of a .netrc or _netrc machine entry",
			Keywords:    []string{"machine"}, Generic: true,
			Match: matchNetrc,
		},
			[]Sample{
				tp("machine api.acme.test\n  login deploy\n  password @@\n", pw),
				tp("machine git.acme.test login ci password @@", pw),
				tp(`{"content": "machine nexus.acme.test\nlogin ci\npassword @@\n"}`, pw),
				tp("     1\u2192machine api.acme.test\n     2\u2192  login deploy\n     3\u2192  password @@\n", pw),
			},
			"Training a machine learning model needs a password manager for the team.",
			"machine api.acme.test login ci password changeme",
			"machine api.acme.test login ci",
			"the virtual machine vm.local password is set by cloud-init: $VM_PASSWORD",
		),
		sampled(Rule{
			ID: "curl-basic-auth", Class: ClassPassword,
			Description: "password of curl -u/--user user:password",
			Keywords:    []string{"curl"}, Generic: true,
			Match: matchCurlUser,
		},
			[]Sample{
				tp("curl -u admin:@@ https://jenkins.acme.test/api/json", curlPW),
				tp(`curl -sS --user "deploy:@@" -X POST https://nexus.acme.test/service/rest/v1/components`, curlPW),
				tp("curl \\\n  -u 'ops:@@' \\\n  https://registry.acme.test/v2/_catalog", curlPW),
			},
			"curl -u admin https://jenkins.acme.test/",
			"curl -u $USER:$PASS https://api.acme.test",
			"curl --user ${USER}:${TOKEN} https://api.acme.test",
			"curl -u user:password https://httpbin.org/basic-auth/user/password",
			"curl -u \"$API_KEY:\" https://api.acme.test",
		),
		sampled(Rule{
			ID: "mysql-cli-password", Class: ClassPassword,
			Description: "password of mysql, mysqldump or mariadb -pPASSWORD",
			Keywords:    []string{"mysql", "mariadb"}, Generic: true,
			Match: matchMySQLPassword,
		},
			[]Sample{
				tp("mysql -h db.acme.test -u root -p@@ shop", myPW),
				tp("mysqldump -uroot -p'@@' --single-transaction shop > shop.sql", myPW),
				tp("mariadb -u app -p\"@@\" -e 'SELECT 1'", myPW),
			},
			"mysql -u root -p shop",
			"mysql -h 127.0.0.1 -P 3306 -u root -p",
			"mysqldump -u root -p$MYSQL_ROOT_PASSWORD shop",
			"DATABASE_URL=mysql://root@db/shop -p",
		),
		sampled(Rule{
			ID: "cli-password-flag", Class: ClassPassword,
			Description: "password given to sshpass -p, redis-cli -a, docker login -p or podman login -p",
			Keywords:    []string{"sshpass", "is-cli", "docker login", "podman login"},
			Generic:     true,
			Match:       matchCLIPasswordFlag,
		},
			[]Sample{
				tp("sshpass -p '@@' ssh deploy@10.0.0.5 uptime", sshPW),
				tp("redis-cli -h cache.acme.test -a @@ PING", sshPW),
				tp("docker login -u acme -p @@ registry.acme.test", sshPW),
				tp("sshpass -p@@ scp build.tar deploy@host:/srv", sshPW),
			},
			"docker login -u acme --password-stdin registry.acme.test",
			"sshpass -p \"$SSH_PASS\" ssh host",
			"redis-cli -a ${REDIS_PASSWORD} ping",
			"redis-cli -p 6380 ping",
			"docker login registry.acme.test",
		),
		sampled(Rule{
			ID: "http-auth-scheme", Class: ClassSecret,
			Description: "credential in an Authorization header with a scheme other than Bearer, Basic or Token (ApiKey, Key, SSWS, GenieKey...) or with none",
			Keywords:    []string{"authorization"}, Generic: true,
			Match: matchAuthScheme,
		},
			[]Sample{
				tp("Authorization: ApiKey @@", apiKey),
				tp(`curl -H "Authorization: GenieKey @@" https://api.opsgenie.com/v2/alerts`, apiKey),
				tp(`headers = {"Authorization": "@@"}`, apiKey),
				tp(`-H 'Proxy-Authorization: Key @@'`, apiKey),
			},
			"Authorization: Bearer "+apiKey,
			"Authorization: Basic "+b64std("user:"+fake("authbasic", csAlnum, 16)),
			"Authorization: Digest username=\"Mufasa\", realm=\"testrealm@host.com\"",
			`authorization = request.headers.get("Authorization")`,
			"authorization: Optional[str] = Header(None)",
			"Authorization: ApiKey ${API_KEY}",
			"Authorization: AWS4-HMAC-SHA256 Credential=AKIA/20250101/us-east-1/s3/aws4_request",
			"The Authorization header carries the credential.",
		),
	}
}
