package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/cloakroom/cloakroom/internal/agentenv"
	"github.com/cloakroom/cloakroom/proxy"
)

// Environment variables that give `cloakroom env` and `cloakroom run` an agent's
// credentials when no flag does.
const (
	agentNameEnv  = "CLOAKROOM_AGENT"
	agentTokenEnv = "CLOAKROOM_AGENT_TOKEN"
)

// envOptions are the flags `cloakroom env` and `cloakroom run` share.
type envOptions struct {
	config, listen, dataDir string
	agent, tokenFile        string
}

func addEnvFlags(fs *flag.FlagSet) *envOptions {
	o := &envOptions{}
	fs.StringVar(&o.config, "config", "", "read listen and data_dir from this serve config file (flags win)")
	fs.StringVar(&o.listen, "listen", defaultListen, "the proxy's listen address")
	fs.StringVar(&o.dataDir, "data-dir", defaultDataDir(), "the proxy's data directory (its CA and the CA bundle)")
	fs.StringVar(&o.agent, "agent", "", "agent name for the proxy credentials (default $"+agentNameEnv+")")
	fs.StringVar(&o.tokenFile, "token-file", "", "file holding the agent's token, owner-only (default: the token in $"+agentTokenEnv+")")
	return o
}

// agentEnv is what an agent needs to go through cloakroom.
type agentEnv struct {
	listen string // host:port to reach the proxy at
	dir    string // absolute data directory
	agent  string // empty: no credentials
	token  string // empty: a name without a token (no agents configured)
}

// resolve turns the parsed flags (fs) and the environment (getenv) into an
// agentEnv. It reads the config and the token files.
func (o *envOptions) resolve(fs *flag.FlagSet, getenv func(string) string) (agentEnv, error) {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	listen, dir := o.listen, o.dataDir
	if o.config != "" {
		cfg, err := parseServe([]string{"--config", o.config})
		if err != nil {
			return agentEnv{}, err
		}
		if !set["listen"] {
			listen = cfg.Listen
		}
		if !set["data-dir"] {
			dir = cfg.DataDir
		}
	}
	e := agentEnv{listen: agentenv.DialAddr(listen), agent: o.agent}
	if dir == "" {
		return agentEnv{}, errors.New("no data directory: give --data-dir")
	}
	abs, err := filepath.Abs(expandHome(dir))
	if err != nil {
		return agentEnv{}, fmt.Errorf("data dir: %w", err)
	}
	e.dir = abs
	if e.agent == "" {
		e.agent = getenv(agentNameEnv)
	}
	switch {
	case o.tokenFile != "":
		b, err := readPrivate(o.tokenFile)
		if err != nil {
			return agentEnv{}, fmt.Errorf("agent token: %w", err)
		}
		e.token = strings.TrimSpace(string(b))
		clear(b)
		if e.token == "" {
			return agentEnv{}, fmt.Errorf("agent token: %s is empty", o.tokenFile)
		}
	default:
		e.token = strings.TrimSpace(getenv(agentTokenEnv))
	}
	if e.token != "" && e.agent == "" {
		return agentEnv{}, fmt.Errorf("an agent token needs the agent's name: --agent NAME or $%s", agentNameEnv)
	}
	if e.agent != "" {
		if err := proxy.ValidateAgentName(e.agent); err != nil {
			return agentEnv{}, fmt.Errorf("agent %q: %w", e.agent, err)
		}
	}
	if strings.IndexFunc(e.token, func(r rune) bool { return r <= ' ' || r > '~' }) >= 0 {
		return agentEnv{}, errors.New("agent token: it holds spaces or characters other than printable ASCII (see cloakroom agent add)")
	}
	return e, nil
}

// proxyURL is the HTTPS_PROXY value, with the agent's credentials in it.
func (e agentEnv) proxyURL() string { return agentenv.ProxyURL(e.listen, e.agent, e.token) }

// vars are the variables to set, in the order printed.
func (e agentEnv) vars() []agentenv.Var { return agentenv.Vars(e.proxyURL(), e.dir) }

// lines are the commands that set the variables in shell, and comments.
func (e agentEnv) lines(shell string) []string {
	var out []string
	for _, v := range e.vars() {
		out = append(out, agentenv.Line(shell, v))
	}
	if e.agent != "" {
		cred := e.agent + ":" + e.token
		if e.token == "" {
			cred = e.agent + ":"
		}
		out = append(out, fmt.Sprintf("# gateway mode (clients that ignore HTTPS_PROXY): set the base URL to http://%s/<route> (ANTHROPIC_BASE_URL=http://%s/anthropic) and send the header %s: %s",
			e.listen, e.listen, proxy.AgentHeader, cred))
	}
	return out
}

// envLines are the sh exports an agent needs to go through the proxy listening on
// listen with data directory dir, without credentials (serve prints them on its
// first start).
func envLines(listen, dir string) []string {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	return agentEnv{listen: agentenv.DialAddr(listen), dir: dir}.lines("bash")
}

const envUsage = `usage: cloakroom env [--shell bash|zsh|fish] [--listen ADDR] [--data-dir DIR] [--config FILE]
                     [--agent NAME [--token-file FILE]]

Prints the environment an agent needs to go through cloakroom:
  bash, zsh:  eval "$(cloakroom env)"
  fish:       cloakroom env --shell fish | source
Credentials come from --agent and --token-file, or $CLOAKROOM_AGENT and
$CLOAKROOM_AGENT_TOKEN.

`

// envCmd prints the exports (cloakroom env).
func envCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("env", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, envUsage); fs.PrintDefaults() }
	shell := fs.String("shell", "bash", "shell syntax: bash, zsh or fish")
	o := addEnvFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("env takes no arguments (got %q); see cloakroom env -h", fs.Arg(0))
	}
	if !agentenv.Shells[*shell] {
		return fmt.Errorf("--shell must be bash, zsh or fish, not %q", *shell)
	}
	e, err := o.resolve(fs, os.Getenv)
	if err != nil {
		return err
	}
	if !exists(filepath.Join(e.dir, caCertFile)) {
		fmt.Fprintf(stderr, "cloakroom env: warning: %s holds no CA yet: start cloakroom serve (with this --data-dir) to create it\n", e.dir)
	}
	for _, l := range e.lines(*shell) {
		fmt.Fprintln(stdout, l)
	}
	return nil
}
