package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cloakroom/cloakroom/resolver"
)

// Where approvers' tools find the admin API and its token.
const (
	adminTokenFile = "admin.token"
	adminTokenEnv  = "CLOAKROOM_ADMIN_TOKEN"
	adminURLEnv    = "CLOAKROOM_ADMIN_URL"
)

const approvalsUsage = `usage: cloakroom approvals <command> [flags]

commands:
  list [--status pending|granted|denied|expired|all]   approval requests, newest first
  show ID                                              one request, as JSON
  approve [--for 15m] [--note TEXT] ID                 grant once, or for a while
  deny [--note TEXT] ID                                refuse

flags of every command:
  --admin URL            the admin API (default $` + adminURLEnv + `, else http://` + defaultAdmin + `)
  --admin-token-file F   the admin token (default $` + adminTokenEnv + `, else <data-dir>/` + adminTokenFile + `)
  --data-dir DIR         the proxy's data directory
  --by NAME              the approver recorded in the audit trail (default $USER)
`

// approvalsCmd runs `cloakroom approvals ...` against the admin API.
func approvalsCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, approvalsUsage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd := args[0]
	fs := flag.NewFlagSet("approvals "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, approvalsUsage) }
	adminURL := fs.String("admin", "", "admin API base URL")
	tokenFile := fs.String("admin-token-file", "", "file holding the admin token")
	dataDir := fs.String("data-dir", defaultDataDir(), "the proxy's data directory")
	by := fs.String("by", os.Getenv("USER"), "approver name for the audit trail")
	status := fs.String("status", "pending", "list: pending, granted, denied, expired or all")
	dur := fs.String("for", "", "approve: how long the grant lasts (e.g. 15m); default one use")
	note := fs.String("note", "", "approve, deny: why")
	pos, err := parseInterleaved(fs, args[1:]) // flags may come before or after the id
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return 2
	}
	c, err := newAdminClient(*adminURL, *tokenFile, expandHome(*dataDir))
	if err != nil {
		fmt.Fprintln(stderr, "cloakroom approvals:", err)
		return 2
	}
	needID := func() (string, bool) {
		if len(pos) != 1 {
			fmt.Fprintf(stderr, "cloakroom approvals %s: give one approval id (apr_...)\n", cmd)
			return "", false
		}
		return pos[0], true
	}
	switch cmd {
	case "list":
		if len(pos) != 0 {
			fmt.Fprintln(stderr, "cloakroom approvals list: takes no arguments")
			return 2
		}
		q := url.Values{}
		if *status != "all" {
			q.Set("status", *status)
		}
		var list []resolver.Approval
		if err := c.do(http.MethodGet, "/v1/approvals?"+q.Encode(), nil, &list); err != nil {
			fmt.Fprintln(stderr, "cloakroom approvals list:", err)
			return 1
		}
		printApprovals(stdout, list)
	case "show":
		id, ok := needID()
		if !ok {
			return 2
		}
		var raw json.RawMessage
		if err := c.do(http.MethodGet, "/v1/approvals/"+url.PathEscape(id), nil, &raw); err != nil {
			fmt.Fprintln(stderr, "cloakroom approvals show:", err)
			return 1
		}
		_, _ = stdout.Write(raw)
	case "approve", "deny":
		id, ok := needID()
		if !ok {
			return 2
		}
		if *dur != "" {
			if cmd == "deny" {
				fmt.Fprintln(stderr, "cloakroom approvals deny: --for applies to approve only")
				return 2
			}
			if d, err := time.ParseDuration(*dur); err != nil || d <= 0 {
				fmt.Fprintf(stderr, "cloakroom approvals approve: --for wants a duration such as 15m or 8h, got %q\n", *dur)
				return 2
			}
		}
		var a resolver.Approval
		body := map[string]string{"for": *dur, "by": *by, "note": *note}
		if err := c.do(http.MethodPost, "/v1/approvals/"+url.PathEscape(id)+"/"+cmd, body, &a); err != nil {
			fmt.Fprintf(stderr, "cloakroom approvals %s: %v\n", cmd, err)
			return 1
		}
		switch {
		case a.Status == resolver.Denied:
			fmt.Fprintf(stdout, "%s denied: %s keeps %s as a token at %s\n", a.ID, a.Principal, a.Token, a.Host)
		case a.Grant != nil && a.Grant.Once:
			fmt.Fprintf(stdout, "%s granted once: %s may use %s at %s (until %s if unused)\n", a.ID, a.Principal, a.Token, a.Host, a.Grant.Expires.Local().Format(time.DateTime))
		case a.Grant != nil:
			fmt.Fprintf(stdout, "%s granted until %s: %s may use %s at %s\n", a.ID, a.Grant.Expires.Local().Format(time.DateTime), a.Principal, a.Token, a.Host)
		default:
			fmt.Fprintf(stdout, "%s: %s\n", a.ID, a.Status)
		}
	default:
		fmt.Fprintf(stderr, "cloakroom approvals: unknown command %q\n\n%s", cmd, approvalsUsage)
		return 2
	}
	return 0
}

func printApprovals(w io.Writer, list []resolver.Approval) {
	if len(list) == 0 {
		fmt.Fprintln(w, "no approval requests")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATUS\tAGE\tPRINCIPAL\tTOKEN\tDESTINATION\tDESCRIPTION")
	for _, a := range list {
		age := time.Since(a.Created).Round(time.Second)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s %s%s\t%s\n", a.ID, a.Status, age, a.Principal, a.Token, a.Direction, a.Host, a.Path, a.Description)
	}
	_ = tw.Flush()
}

// adminClient calls the admin API with the admin token, directly: never through a
// proxy from the environment (the proxy refuses to carry admin calls anyway).
type adminClient struct {
	base  string
	token string
	http  *http.Client
}

func newAdminClient(base, tokenFile, dataDir string) (*adminClient, error) {
	if base == "" {
		base = os.Getenv(adminURLEnv)
	}
	if base == "" {
		base = "http://" + defaultAdmin
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--admin wants a URL such as http://%s, got %q", defaultAdmin, base)
	}
	token := os.Getenv(adminTokenEnv)
	if tokenFile != "" || token == "" {
		if tokenFile == "" {
			tokenFile = filepath.Join(dataDir, adminTokenFile)
		}
		var err error
		if token, err = loadOrCreateAdminToken(tokenFile, false); err != nil {
			return nil, fmt.Errorf("%w (give --admin-token-file or set %s)", err, adminTokenEnv)
		}
	}
	return &adminClient{
		base:  strings.TrimSuffix(base, "/"),
		token: token,
		http:  &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{Proxy: nil}},
	}, nil
}

// do sends one call and decodes the JSON answer into out; an error answer becomes
// an error with the API's message.
func (c *adminClient) do(method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("admin API at %s: %w", c.base, errors.Unwrap(err))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("admin API at %s: %w", c.base, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			return fmt.Errorf("%s (HTTP %d)", e.Error, resp.StatusCode)
		}
		return fmt.Errorf("admin API answered HTTP %d", resp.StatusCode)
	}
	return json.Unmarshal(b, out)
}
