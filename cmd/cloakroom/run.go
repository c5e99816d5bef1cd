package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/cloakroom/cloakroom/internal/agentenv"
	"github.com/cloakroom/cloakroom/proxy"
)

// Exit codes of cloakroom run when the command itself did not run, as env(1) and
// container runtimes use them.
const (
	exitRunFailed   = 125 // cloakroom run itself failed (flags, the registration)
	exitCannotRun   = 126 // the command was found but could not be started
	exitNotFound    = 127 // the command was not found
	registerTimeout = 10 * time.Second
)

const runUsage = `usage: cloakroom run [--listen ADDR] [--data-dir DIR] [--config FILE]
                     [--agent NAME [--token-file FILE]] [--no-register] [-v] -- CMD [ARGS...]

Runs CMD with the environment of cloakroom env (proxy, CA files, credentials). First
it sends the values of the environment's secret-looking variables (*_TOKEN, *_KEY,
*_SECRET, *PASSWORD*, the password of a URL such as DATABASE_URL's...) to the proxy
as known values, so they are replaced by tokens wherever they appear in the agent's
requests, even where no rule would find them. The exit code is CMD's (125: cloakroom
run failed, 126: CMD could not be started, 127: CMD not found).

`

// runCmd runs a command in the agent's environment (cloakroom run) and returns its
// exit code. On Unix, CMD replaces this process (exec), so it keeps the terminal,
// gets every signal and its exit code is the process's own.
func runCmd(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, runUsage); fs.PrintDefaults() }
	o := addEnvFlags(fs)
	noRegister := fs.Bool("no-register", false, "run CMD without registering the environment's secrets with the proxy (needed when the proxy is not running)")
	verbose := fs.Bool("v", false, "print the names of the variables registered (never their values)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	argv := fs.Args()
	if len(argv) == 0 {
		fmt.Fprint(stderr, "cloakroom run: no command given\n\n", runUsage)
		return 2
	}
	e, err := o.resolve(fs, os.Getenv)
	if err != nil {
		fmt.Fprintln(stderr, "cloakroom run:", err)
		return exitRunFailed
	}
	environ := os.Environ()
	if !*noRegister {
		values := secretValues(environ, e)
		ans, err := registerValues(context.Background(), e, values)
		if err != nil {
			fmt.Fprintln(stderr, "cloakroom run:", err)
			return exitRunFailed
		}
		if *verbose {
			names := make([]string, 0, len(values))
			for _, v := range values {
				names = append(names, v.Name)
			}
			fmt.Fprintf(stderr, "cloakroom run: %d values registered, %d skipped, from %s\n", ans.Registered, ans.Skipped, strings.Join(names, ", "))
		}
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		fmt.Fprintln(stderr, "cloakroom run:", err)
		if errors.Is(err, exec.ErrNotFound) {
			return exitNotFound
		}
		return exitCannotRun
	}
	return execCommand(path, argv, mergeEnv(environ, e.vars()), stderr)
}

// mergeEnv returns environ with vars set (replacing any earlier value).
func mergeEnv(environ []string, vars []agentenv.Var) []string {
	ours := make(map[string]bool, len(vars))
	for _, v := range vars {
		ours[v.Name] = true
	}
	out := make([]string, 0, len(environ)+len(vars))
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !ours[name] {
			out = append(out, kv)
		}
	}
	for _, v := range vars {
		out = append(out, v.Name+"="+v.Value)
	}
	return out
}

// secretValues picks the values worth registering from environ: those of
// secret-looking variables, the passwords of URLs, and the agent's own token. The
// variables cloakroom sets are left out.
func secretValues(environ []string, e agentEnv) []proxy.KnownValue {
	skip := map[string]bool{agentNameEnv: true}
	for _, v := range e.vars() {
		skip[v.Name] = true
	}
	var out []proxy.KnownValue
	seen := map[string]bool{}
	add := func(name, value string) {
		if !seen[value] {
			seen[value] = true
			out = append(out, proxy.KnownValue{Name: name, Value: value})
		}
	}
	if e.token != "" {
		add(agentTokenEnv, e.token)
	}
	for _, kv := range environ {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || skip[name] || !proxy.KnownName(name) {
			continue
		}
		if secretName(name) && secretValue(value) {
			add(name, value)
		}
		if pw := urlPassword(value); pw != "" {
			add(name, pw)
		}
	}
	return out
}

// Words of variable names, split at '_', that say what the value is.
var (
	// secretWords anywhere in a name mark a secret: GITHUB_TOKEN, CLIENT_SECRET_VALUE.
	secretWords = map[string]bool{
		"TOKEN": true, "SECRET": true, "SECRETS": true, "PASSWORD": true, "PASSWD": true,
		"PASS": true, "PASSPHRASE": true, "APIKEY": true, "CREDENTIAL": true,
		"CREDENTIALS": true, "CREDS": true, "PRIVATEKEY": true, "ACCESSKEY": true,
		"SECRETKEY": true, "AUTHTOKEN": true,
	}
	// lastSecretWords mark a secret at the end of a name only: OPENAI_API_KEY,
	// MYSQL_PWD (but not PWD, the working directory).
	lastSecretWords = map[string]bool{"KEY": true, "PWD": true, "DSN": true}
	// notSecretLast end names of things that are not secrets: GITHUB_TOKEN_FILE,
	// AWS_ACCESS_KEY_ID, SECRET_NAME, TOKEN_URL.
	notSecretLast = map[string]bool{
		"FILE": true, "PATH": true, "DIR": true, "HOME": true, "URL": true, "URI": true,
		"HOST": true, "PORT": true, "ENDPOINT": true, "NAME": true, "ID": true,
		"TYPE": true, "USER": true, "USERNAME": true, "TTL": true, "EXPIRY": true,
		"EXPIRES": true, "LENGTH": true, "SIZE": true, "REGION": true, "VERSION": true,
		"MODE": true, "ENABLED": true, "DISABLED": true, "LIMIT": true, "COUNT": true,
		"MAX": true, "MIN": true, "PREFIX": true, "HEADER": true, "FORMAT": true,
	}
)

// secretName reports whether a variable's name says it holds a secret.
func secretName(name string) bool {
	up := strings.ToUpper(name)
	words := strings.FieldsFunc(up, func(r rune) bool { return r == '_' })
	if len(words) == 0 || notSecretLast[words[len(words)-1]] {
		return false
	}
	if len(words) > 1 && lastSecretWords[words[len(words)-1]] {
		return true
	}
	for _, w := range words {
		if secretWords[w] {
			return true
		}
	}
	// PGPASSWORD, MYSQLPASSWORD, CLIENTSECRET
	return strings.Contains(up, "PASSWORD") || strings.Contains(up, "PASSWD") || strings.Contains(up, "SECRET")
}

// notSecretValues are values that are settings, not secrets, whatever the name.
var notSecretValues = map[string]bool{
	"true": true, "false": true, "yes": true, "no": true, "on": true, "off": true,
	"enabled": true, "disabled": true, "none": true, "null": true, "nil": true,
	"undefined": true, "unset": true,
}

// secretValue reports whether a secret-named variable's value may be a secret:
// long enough to register, and not a setting, a number or a path.
func secretValue(v string) bool {
	if len(v) < proxy.KnownMinLen || len(v) > proxy.KnownMaxLen || strings.TrimSpace(v) == "" {
		return false
	}
	if notSecretValues[strings.ToLower(strings.TrimSpace(v))] {
		return false
	}
	if strings.Trim(v, "0123456789.-+eE") == "" { // a number
		return false
	}
	if strings.Trim(v, v[:1]) == "" { // xxxxxxxx, ********: a placeholder
		return false
	}
	if strings.HasPrefix(v, "~/") || strings.HasPrefix(v, "./") || strings.HasPrefix(v, "../") {
		return false
	}
	if strings.HasPrefix(v, "/") || len(v) > 2 && v[1] == ':' && (v[2] == '\\' || v[2] == '/') {
		if _, err := os.Stat(v); err == nil { // a path to an existing file
			return false
		}
	}
	return true
}

// urlPassword returns the password of a URL value (postgres://app:PASSWORD@db/x),
// when it is long enough to register.
func urlPassword(v string) string {
	if !strings.Contains(v, "://") || !strings.Contains(v, "@") {
		return ""
	}
	u, err := url.Parse(strings.TrimSpace(v))
	if err != nil || u.User == nil {
		return ""
	}
	pw, ok := u.User.Password()
	if !ok || !secretValue(pw) {
		return ""
	}
	return pw
}

// registerValues sends values to the proxy's known-values API.
func registerValues(ctx context.Context, e agentEnv, values []proxy.KnownValue) (proxy.KnownAnswer, error) {
	body, err := json.Marshal(proxy.KnownRequest{Values: values})
	if err != nil {
		return proxy.KnownAnswer{}, err
	}
	defer clear(body)
	ctx, cancel := context.WithTimeout(ctx, registerTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+e.listen+proxy.KnownPath, bytes.NewReader(body))
	if err != nil {
		return proxy.KnownAnswer{}, fmt.Errorf("the proxy address %q: %w", e.listen, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if e.agent != "" {
		req.Header.Set(proxy.AgentHeader, e.agent+":"+e.token)
	}
	// Straight to the proxy: never through the proxies of the environment.
	client := &http.Client{Transport: &http.Transport{Proxy: nil}}
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return proxy.KnownAnswer{}, fmt.Errorf("cannot reach the proxy at %s to register the environment's secrets (%v): start cloakroom serve, give its address with --listen, or pass --no-register to run without registering them", e.listen, err)
	}
	defer resp.Body.Close()
	var ans proxy.KnownAnswer
	derr := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&ans)
	switch {
	case resp.StatusCode == http.StatusOK && derr == nil:
		return ans, nil
	case resp.StatusCode == http.StatusNotFound:
		return ans, fmt.Errorf("the proxy at %s has no known-values API (%s): is it an older cloakroom? Pass --no-register to run without registering", e.listen, proxy.KnownPath)
	case resp.StatusCode == http.StatusUnauthorized:
		return ans, fmt.Errorf("the proxy at %s refused the agent credentials: %s (give --agent and --token-file, or $%s and $%s)", e.listen, ans.Error, agentNameEnv, agentTokenEnv)
	case ans.Error != "":
		return ans, fmt.Errorf("the proxy at %s did not register the environment's secrets (%d): %s", e.listen, resp.StatusCode, ans.Error)
	default:
		return ans, fmt.Errorf("the proxy at %s answered %s to the registration of the environment's secrets", e.listen, resp.Status)
	}
}
