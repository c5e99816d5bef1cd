package console

import (
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/cloakroom/cloakroom/internal/agentenv"
)

// Shown when the proxy does not say where it listens or keeps its files: the
// defaults of cloakroom serve.
const (
	defaultListen  = "127.0.0.1:8080"
	defaultDataDir = ".local/share/cloakroom" // under the home directory
)

type routeView struct{ Name, Origin, BaseURL string }

type setupView struct {
	ProxyURL, CAFile, Bundle string
	// Bash and Fish are the exports of `cloakroom env` for each shell.
	Bash, Fish                            string
	Routes                                []routeView
	AnthropicBase, OpenAIBase, GeminiBase string
	Agents                                []string
	AgentProxyURL                         string
	RequireAuth                           bool
	CurlProxy                             string
}

func (h *Handler) setupPage(w http.ResponseWriter, r *http.Request, s *session) {
	h.render(w, http.StatusOK, "setup", "layout", view{Title: "Agent setup", Page: "setup", CSRF: s.csrf, Data: setupData(h.cfg.Setup)})
}

// setupData is what `cloakroom env` prints, and the per-client notes of the README.
func setupData(c Setup) setupView {
	listen := agentenv.DialAddr(c.ListenAddr)
	if listen == "" {
		listen = defaultListen
	}
	dir := c.DataDir
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, defaultDataDir)
	}
	if abs, err := filepath.Abs(dir); err == nil { // as cloakroom env prints it
		dir = abs
	}
	v := setupView{
		ProxyURL: "http://" + listen,
		CAFile:   filepath.Join(dir, agentenv.CAFile), Bundle: filepath.Join(dir, agentenv.BundleFile),
		Agents: append([]string(nil), c.Agents...), RequireAuth: c.RequireAuth,
	}
	sort.Strings(v.Agents)
	// The variables, their order and quoting are those of `cloakroom env`.
	var bash, fish strings.Builder
	for _, e := range agentenv.Vars(v.ProxyURL, dir) {
		bash.WriteString(agentenv.Line("bash", e) + "\n")
		fish.WriteString(agentenv.Line("fish", e) + "\n")
	}
	v.Bash, v.Fish = bash.String(), fish.String()
	v.CurlProxy = v.ProxyURL
	if len(v.Agents) > 0 {
		v.AgentProxyURL = "http://" + v.Agents[0] + ":<agent token>@" + listen
		v.CurlProxy = v.AgentProxyURL
	}
	for _, name := range keys(c.Gateway) {
		origin := c.Gateway[name]
		if origin == "" {
			continue
		}
		base := v.ProxyURL + "/" + name
		switch name {
		case "anthropic":
			v.AnthropicBase = base
		case "openai":
			base += "/v1"
			v.OpenAIBase = base
		case "gemini":
			v.GeminiBase = base
		}
		v.Routes = append(v.Routes, routeView{Name: name, Origin: origin, BaseURL: base})
	}
	return v
}
