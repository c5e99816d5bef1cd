package e2e_test

import (
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// nodeCase is one Node SDK call: which API, which route to cloakroom.
type nodeCase struct {
	api  string // client.mjs api argument
	path string // upstream path the call must reach
	// gateway is the environment for gateway (base-URL) mode, given the proxy's
	// http://host:port; nil means the API is not driven in that mode.
	gateway func(base string) []string
	// proxyMode says whether the API is also driven through HTTPS_PROXY with undici's
	// EnvHttpProxyAgent as the fetch dispatcher.
	proxyMode bool
}

var nodeCases = []nodeCase{
	{
		api: "anthropic", path: "/v1/messages", proxyMode: true,
		gateway: func(base string) []string {
			return []string{"ANTHROPIC_BASE_URL=" + base + "/anthropic", "ANTHROPIC_API_KEY=" + fakeAPIKey}
		},
	},
	{
		api: "openai-chat", path: "/v1/chat/completions", proxyMode: true,
		gateway: func(base string) []string {
			return []string{"OPENAI_BASE_URL=" + base + "/openai/v1", "OPENAI_API_KEY=" + fakeAPIKey}
		},
	},
	{
		api: "openai-responses", path: "/v1/responses", proxyMode: true,
		gateway: func(base string) []string {
			return []string{"OPENAI_BASE_URL=" + base + "/openai/v1", "OPENAI_API_KEY=" + fakeAPIKey}
		},
	},
	{
		api: "gemini", path: "/models/gemini-2.5-pro:",
		gateway: func(base string) []string {
			return []string{"GOOGLE_GEMINI_BASE_URL=" + base + "/gemini", "GEMINI_API_KEY=" + fakeAPIKey}
		},
	},
}

// nodeOut is what client.mjs prints.
type nodeOut struct {
	Text       string  `json:"text"`
	ToolText   string  `json:"toolText"`
	StreamText *string `json:"streamText"`
}

// runNodeClient runs client.mjs for api and mode with env and the prompt on stdin.
func runNodeClient(t *testing.T, api, mode string, env []string, prompt string) nodeOut {
	t.Helper()
	dir := nodeClients(t)
	ctx, cancel := context.WithTimeout(context.Background(), nodeRunTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", filepath.Join(dir, "client.mjs"), api, mode)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdin = strings.NewReader(prompt)
	cmd.WaitDelay = 5 * time.Second
	var out nodeOut
	if err := json.Unmarshal(run(t, ctx, cmd), &out); err != nil {
		t.Fatalf("client.mjs printed no JSON result: %v", err)
	}
	if mode == "stream" && out.StreamText == nil {
		t.Fatal("client.mjs streamed but reported no deltas")
	}
	return out
}

func (o nodeOut) assertRestored(t *testing.T, c canary) {
	t.Helper()
	e := echo{Text: o.Text, ToolText: o.ToolText}
	e.assertRestored(t, c)
	if o.StreamText != nil && *o.StreamText != c.Prompt() {
		t.Errorf("streamed text deltas: got %d bytes (tokens left: %v), want the prompt back (%d bytes)",
			len(*o.StreamText), strings.Contains(*o.StreamText, "cloak_"), len(c.Prompt()))
	}
}

// TestNodeSDKsGateway drives the official Node SDKs (@anthropic-ai/sdk, openai,
// @google/genai) in gateway mode: their base URL is set to a route on the proxy
// listener (ANTHROPIC_BASE_URL=http://<proxy>/anthropic, ...), which is how Node 20
// programs whose fetch ignores HTTPS_PROXY reach cloakroom without code changes.
func TestNodeSDKsGateway(t *testing.T) {
	nodeClients(t)
	for _, tc := range nodeCases {
		for _, mode := range []string{"once", "stream"} {
			t.Run(tc.api+"/"+mode, func(t *testing.T) {
				h := newHarness(t)
				c := newCanary(h)
				out := runNodeClient(t, tc.api, mode, clientEnv(t.TempDir(), tc.gateway(h.ProxyURL())...), c.Prompt())
				out.assertRestored(t, c)
				h.assertTokenized(c, tc.path)
				h.assertKeySent(tc.path)
				host := strings.TrimPrefix(h.ProxyURL(), "http://")
				for _, s := range h.Seen() {
					if !strings.HasPrefix(s, "POST "+host+"/") {
						t.Errorf("proxy listener was asked %q, want only gateway POSTs to %s", s, host)
					}
				}
			})
		}
	}
}

// TestNodeSDKsEnvProxyAgent drives the Node SDKs through HTTPS_PROXY, as the README
// tells Node users to: undici's EnvHttpProxyAgent passed as the fetch dispatcher, and
// NODE_EXTRA_CA_CERTS for cloakroom's CA.
func TestNodeSDKsEnvProxyAgent(t *testing.T) {
	nodeClients(t)
	for _, tc := range nodeCases {
		if !tc.proxyMode {
			continue
		}
		for _, mode := range []string{"once", "stream"} {
			t.Run(tc.api+"/"+mode, func(t *testing.T) {
				h := newHarness(t)
				c := newCanary(h)
				env := clientEnv(t.TempDir(),
					"HTTPS_PROXY="+h.ProxyURL(),
					"NODE_EXTRA_CA_CERTS="+h.CAFile,
					"ANTHROPIC_API_KEY="+fakeAPIKey,
					"OPENAI_API_KEY="+fakeAPIKey,
					"CLOAKROOM_E2E_DISPATCHER=env-proxy", // stands for the two lines of code the README shows
				)
				out := runNodeClient(t, tc.api, mode, env, c.Prompt())
				out.assertRestored(t, c)
				h.assertTokenized(c, tc.path)
				h.assertKeySent(tc.path)
				for _, s := range h.Seen() {
					if !strings.HasPrefix(s, "CONNECT ") {
						t.Errorf("proxy listener was asked %q, want only CONNECT tunnels", s)
					}
				}
			})
		}
	}
}
