package resolver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/metrics"
	"github.com/open-policy-agent/opa/v1/rego"
)

// Defaults of EngineOptions and Watch.
const (
	// DefaultEvalTimeout bounds one policy evaluation. Evaluations take tens of
	// microseconds; the bound stops a runaway policy, not a slow machine.
	DefaultEvalTimeout = time.Second
	// DefaultWatchInterval is how often Watch looks at the policy file.
	DefaultWatchInterval = time.Second
	// MaxPolicyBytes is the largest policy file LoadFile and Watch read.
	MaxPolicyBytes = 4 << 20
)

// The policy contract: package cloakroom, rule decision, optional egress_hosts.
const (
	policyPackage    = "cloakroom"
	decisionRule     = "decision"
	decisionQuery    = "data.cloakroom.decision"
	egressHostsQuery = "data.cloakroom.egress_hosts"
	// loadTimeout bounds the evaluation of egress_hosts at load.
	loadTimeout = 5 * time.Second
	// maxReasonLen caps a policy's reason, which goes into audit records and errors.
	maxReasonLen = 512
)

// ReasonNoPolicy is the reason of every decision an Engine makes before it has
// loaded a valid policy.
const ReasonNoPolicy = "no valid policy loaded"

// noMetrics spares each evaluation the cost of OPA's timers.
var noMetrics = metrics.NoOp()

// networkBuiltins are the built-in functions a policy may not call: policy runs on
// every request and must not wait on the network.
var networkBuiltins = []string{"http.send", "net.lookup_ip_addr"}

// NewPolicyCompiler returns an OPA compiler set up as Engine.Load compiles
// policies: Rego v1, strict mode, without the network built-ins (http.send,
// net.lookup_ip_addr). cloakroom policy test compiles with it too, so a policy that
// passes its tests also loads.
func NewPolicyCompiler() *ast.Compiler {
	caps := ast.CapabilitiesForThisVersion()
	caps.Builtins = slices.DeleteFunc(caps.Builtins, func(b *ast.Builtin) bool {
		return slices.Contains(networkBuiltins, b.Name)
	})
	return ast.NewCompiler().
		WithCapabilities(caps).
		WithDefaultRegoVersion(ast.RegoV1).
		WithStrict(true)
}

// EngineOptions configure an Engine. The zero value is ready to use.
type EngineOptions struct {
	// Timeout bounds each evaluation of the decision; zero means
	// DefaultEvalTimeout. An evaluation that runs out of time is a deny.
	Timeout time.Duration
	// Now is the clock policies see (time.now_ns); nil means time.Now.
	Now func() time.Time
}

// Engine evaluates a Rego policy (package cloakroom, rule decision) for every
// request. It starts with no policy and denies everything until Load succeeds; a
// later Load that fails keeps the last good policy. Engine is safe for concurrent
// use: Decide never waits for a Load.
type Engine struct {
	opts   EngineOptions
	cur    atomic.Pointer[compiledPolicy]
	loadMu sync.Mutex // orders Loads; Decide does not take it
}

// compiledPolicy is one loaded policy, immutable once built.
type compiledPolicy struct {
	name        string
	version     string
	query       rego.PreparedEvalQuery
	hosts       []string
	readsGrants bool // the policy may read input.grants (refersToGrants)
}

var _ Policy = (*Engine)(nil)

// NewEngine returns an Engine with no policy loaded: it denies every request with
// ReasonNoPolicy until Load succeeds.
func NewEngine(opts EngineOptions) *Engine {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultEvalTimeout
	}
	return &Engine{opts: opts}
}

// Version identifies the loaded policy: "sha256:" and the 64 hex digits of the
// SHA-256 of its source. It is empty while no policy is loaded. Every Decision
// carries it, so audit records say which policy decided.
func (e *Engine) Version() string {
	if p := e.cur.Load(); p != nil {
		return p.version
	}
	return ""
}

// Name is the file name the loaded policy was loaded as; empty while none is.
func (e *Engine) Name() string {
	if p := e.cur.Load(); p != nil {
		return p.name
	}
	return ""
}

// Loaded reports whether a valid policy is loaded.
func (e *Engine) Loaded() bool { return e.cur.Load() != nil }

// EgressHosts returns the loaded policy's egress_hosts, sorted and lower case: the
// hosts cloakroom intercepts for egress injection and the leak guard. A name
// starting with "*." stands for every subdomain of the rest. Nil while no policy is
// loaded or when the policy defines none.
func (e *Engine) EgressHosts() []string {
	if p := e.cur.Load(); p != nil {
		return slices.Clone(p.hosts)
	}
	return nil
}

// PolicyVersion returns "sha256:" and the hex SHA-256 of src, the Version an Engine
// reports once it has loaded src.
func PolicyVersion(src []byte) string {
	sum := sha256.Sum256(src)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Load parses and compiles src (Rego v1, strict; name is its file name in error
// messages), checks that it is package cloakroom and defines decision, and
// evaluates and checks egress_hosts. On success the policy replaces the loaded one
// at once; on error the loaded one stays and the error names the file and, for
// Rego errors, the line.
func (e *Engine) Load(name string, src []byte) error {
	e.loadMu.Lock()
	defer e.loadMu.Unlock()
	p, err := e.compile(name, src)
	if err != nil {
		return fmt.Errorf("load policy %s: %w", name, err)
	}
	e.cur.Store(p)
	return nil
}

// LoadFile reads the policy at path (at most MaxPolicyBytes) and loads it as Load
// does, named by its path.
func (e *Engine) LoadFile(path string) error {
	src, err := readPolicyFile(path)
	if err != nil {
		return fmt.Errorf("load policy: %w", err)
	}
	return e.Load(path, src)
}

func readPolicyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	src, err := io.ReadAll(io.LimitReader(f, MaxPolicyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(src) > MaxPolicyBytes {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, MaxPolicyBytes)
	}
	return src, nil
}

func (e *Engine) compile(name string, src []byte) (*compiledPolicy, error) {
	mod, err := ast.ParseModuleWithOpts(name, string(src), ast.ParserOptions{RegoVersion: ast.RegoV1})
	if err != nil {
		return nil, err
	}
	if got := strings.TrimPrefix(mod.Package.Path.String(), "data."); got != policyPackage {
		return nil, fmt.Errorf("%s:%d: package is %s, want package %s", name, mod.Package.Location.Row, got, policyPackage)
	}
	if !definesRule(mod, decisionRule) {
		return nil, fmt.Errorf("%s: no rule %q: the policy must define decision", name, decisionRule)
	}
	c := NewPolicyCompiler()
	if c.Compile(map[string]*ast.Module{name: mod}); c.Failed() {
		for _, b := range networkBuiltins {
			if strings.Contains(c.Errors.Error(), "undefined function "+b) {
				return nil, fmt.Errorf("%w (network built-ins are disabled in cloakroom policies)", c.Errors)
			}
		}
		return nil, c.Errors
	}
	ctx, cancel := context.WithTimeout(context.Background(), loadTimeout)
	defer cancel()
	pq, err := rego.New(
		rego.Compiler(c),
		rego.Query(decisionQuery),
		rego.StrictBuiltinErrors(true),
	).PrepareForEval(ctx)
	if err != nil {
		return nil, err
	}
	hosts, err := egressHosts(ctx, c)
	if err != nil {
		return nil, err
	}
	return &compiledPolicy{name: name, version: PolicyVersion(src), query: pq, hosts: hosts, readsGrants: refersToGrants(mod)}, nil
}

// refersToGrants reports whether mod may read input.grants: it names it, or names
// input as a whole or by a key that is not a plain string (input[k], object.get(input,
// ...)), in a rule or an import.
func refersToGrants(mod *ast.Module) bool {
	reads := func(ref ast.Ref) bool {
		if len(ref) == 0 || !ref[0].Equal(ast.InputRootDocument) {
			return false
		}
		if len(ref) == 1 {
			return true
		}
		key, ok := ref[1].Value.(ast.String)
		return !ok || key == "grants"
	}
	found := false
	var vis *ast.GenericVisitor
	vis = ast.NewGenericVisitor(func(x any) bool {
		switch x := x.(type) {
		case ast.Ref:
			found = found || reads(x)
			for i, t := range x {
				if _, v := t.Value.(ast.Var); i > 0 || !v { // a head var: input.token is no bare input
					vis.Walk(t)
				}
			}
			return true
		case ast.Var:
			found = found || x.Equal(ast.InputRootDocument.Value) // input alone
		}
		return found
	})
	vis.Walk(mod)
	return found
}

// ReadsGrants reports whether the loaded policy may read input.grants, and the
// version of the policy it answers for: a Resolver fills the grants in only for a
// policy that reads them, and decides again with them if the decision came from
// another version (a Load in between).
func (e *Engine) ReadsGrants() (reads bool, version string) {
	if p := e.cur.Load(); p != nil {
		return p.readsGrants, p.version
	}
	return false, ""
}

// definesRule reports whether mod has a rule whose name is rule.
func definesRule(mod *ast.Module, rule string) bool {
	for _, r := range mod.Rules {
		if ref := r.Head.Ref(); len(ref) > 0 && ref[0].Value.Compare(ast.Var(rule)) == 0 {
			return true
		}
	}
	return false
}

// egressHosts evaluates egress_hosts (undefined is none) and checks each host.
func egressHosts(ctx context.Context, c *ast.Compiler) ([]string, error) {
	rs, err := rego.New(rego.Compiler(c), rego.Query(egressHostsQuery), rego.StrictBuiltinErrors(true)).Eval(ctx)
	if err != nil {
		return nil, fmt.Errorf("egress_hosts: %w", err)
	}
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return nil, nil
	}
	list, ok := rs[0].Expressions[0].Value.([]any)
	if !ok {
		return nil, fmt.Errorf("egress_hosts is %s, want a set or array of host names", jsonType(rs[0].Expressions[0].Value))
	}
	var hosts []string
	var errs []error
	for _, v := range list {
		s, ok := v.(string)
		if !ok {
			errs = append(errs, fmt.Errorf("egress_hosts: %s is not a string", jsonType(v)))
			continue
		}
		h := strings.ToLower(s)
		if !validHostPattern(h) {
			errs = append(errs, fmt.Errorf("egress_hosts: %q is not a host name or *.domain", s))
			continue
		}
		hosts = append(hosts, h)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	slices.Sort(hosts)
	return slices.Compact(hosts), nil
}

// validHostPattern reports whether s is a lower-case DNS name (letters, digits,
// hyphens; labels of 1 to 63 bytes, not starting or ending with a hyphen; no
// trailing dot), optionally preceded by "*." for every subdomain.
func validHostPattern(s string) bool {
	s = strings.TrimPrefix(s, "*.")
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// jsonType names the JSON type of a value decoded by OPA, for error messages.
func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	default:
		return "a number"
	}
}

// Decide evaluates the loaded policy for req (see InputValue for the input
// document) and reads its decision. Every failure is a Deny with a reason saying
// why: no policy loaded, decision undefined or malformed, or an unknown effect
// (with a nil error), or an evaluation error or timeout (with the error too).
// The Decision's Policy is the policy's Version.
func (e *Engine) Decide(ctx context.Context, req Request) (Decision, error) {
	return e.eval(ctx, InputValue(req))
}

// DecideInput is Decide for an input document given as decoded JSON (objects as
// map[string]any), as cloakroom policy eval reads it from a file.
func (e *Engine) DecideInput(ctx context.Context, input any) (Decision, error) {
	v, err := ast.InterfaceToValue(input)
	if err != nil {
		return Decision{Effect: Deny, Reason: "policy input is not a JSON document"}, fmt.Errorf("policy input: %w", err)
	}
	return e.eval(ctx, v)
}

func (e *Engine) eval(ctx context.Context, input ast.Value) (Decision, error) {
	p := e.cur.Load()
	if p == nil {
		return Decision{Effect: Deny, Reason: ReasonNoPolicy}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, e.opts.Timeout)
	defer cancel()
	opts := []rego.EvalOption{rego.EvalParsedInput(input), rego.EvalMetrics(noMetrics)}
	if e.opts.Now != nil {
		opts = append(opts, rego.EvalTime(e.opts.Now()))
	}
	rs, err := p.query.Eval(ctx, opts...)
	if err != nil {
		reason := "policy evaluation failed"
		if ctx.Err() != nil {
			reason = "policy evaluation timed out or was canceled"
		}
		return Decision{Effect: Deny, Reason: reason, Policy: p.version}, fmt.Errorf("evaluate policy %s: %w", p.name, err)
	}
	d := readDecision(rs)
	d.Policy = p.version
	return d, nil
}

// readDecision maps the query's result to a Decision; anything but an object
// with a known effect and a string reason (or none) is a Deny.
func readDecision(rs rego.ResultSet) Decision {
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return Decision{Effect: Deny, Reason: "policy decision is undefined"}
	}
	obj, ok := rs[0].Expressions[0].Value.(map[string]any)
	if !ok {
		return Decision{Effect: Deny, Reason: "policy decision is " + jsonType(rs[0].Expressions[0].Value) + ", want an object"}
	}
	s, ok := obj["effect"].(string)
	if !ok {
		return Decision{Effect: Deny, Reason: "policy decision has no effect string"}
	}
	eff, ok := ParseEffect(s)
	if !ok {
		return Decision{Effect: Deny, Reason: fmt.Sprintf("policy decision has unknown effect %q", clip(s, 32))}
	}
	reason, ok := obj["reason"].(string)
	switch {
	case !ok && obj["reason"] != nil:
		return Decision{Effect: Deny, Reason: "policy decision's reason is " + jsonType(obj["reason"]) + ", want a string"}
	case reason == "":
		reason = "policy gave no reason"
	}
	return Decision{Effect: eff, Reason: clip(reason, maxReasonLen)}
}

// clip cuts s to at most n bytes, on a rune boundary, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}

// Watch checks the policy file at path every interval (zero means
// DefaultWatchInterval) and loads it when its content has changed and then stayed
// the same for one more interval, so that a file caught half-written is not
// loaded; it returns when ctx ends. A file whose content differs from the loaded
// policy when Watch starts is loaded likewise. onReload, if not nil, is called
// after each load attempt with its error (nil on success), and with the error
// when the file cannot be read (once, until it can be again). A broken edit keeps
// the last good policy and is not retried until the file changes again. SIGHUP is
// the caller's: call LoadFile.
func (e *Engine) Watch(ctx context.Context, path string, interval time.Duration, onReload func(err error)) {
	if interval <= 0 {
		interval = DefaultWatchInterval
	}
	if onReload == nil {
		onReload = func(error) {}
	}
	w := fileWatch{e: e, path: path, report: onReload, last: e.Version()}
	w.check()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			w.check()
		}
	}
}

// fileWatch remembers what Watch last saw of the policy file.
type fileWatch struct {
	e       *Engine
	path    string
	report  func(error)
	last    string // PolicyVersion of the content last loaded (or tried)
	pending string // PolicyVersion of new content seen once, to load if seen again
	readErr string // the read error last reported, until a read succeeds
}

// check reads the file and loads it if its content is new and was the same at the
// previous check. Policy files are small, so reading and hashing one is cheap and
// surer than comparing mtime and size, which miss same-size edits made within the
// file system's timestamp granularity.
func (w *fileWatch) check() {
	src, err := readPolicyFile(w.path)
	if err != nil {
		if msg := err.Error(); msg != w.readErr {
			w.readErr = msg
			w.report(fmt.Errorf("watch policy: %w", err))
		}
		w.pending = ""
		return
	}
	w.readErr = ""
	v := PolicyVersion(src)
	switch v {
	case w.last:
		w.pending = ""
	case w.pending:
		w.last, w.pending = v, ""
		w.report(w.e.Load(w.path, src))
	default:
		w.pending = v
	}
}

// Interned keys of the input document.
var (
	keyToken       = ast.InternedTerm("token")
	keyID          = ast.InternedTerm("id")
	keyClass       = ast.InternedTerm("class")
	keyRule        = ast.InternedTerm("rule")
	keySubmittedBy = ast.InternedTerm("submitted_by")
	keyFirstSeen   = ast.InternedTerm("first_seen")
	keyRequester   = ast.InternedTerm("requester")
	keyPrincipal   = ast.InternedTerm("principal")
	keyClient      = ast.InternedTerm("client")
	keyDirection   = ast.InternedTerm("direction")
	keyDestination = ast.InternedTerm("destination")
	keyHost        = ast.InternedTerm("host")
	keyMethod      = ast.InternedTerm("method")
	keyPath        = ast.InternedTerm("path")
	keyGrants      = ast.InternedTerm("grants")
	keyTokenID     = ast.InternedTerm("token_id")
	keyOnce        = ast.InternedTerm("once")
	keyExpires     = ast.InternedTerm("expires")
)

// InputValue builds the policy's input document for req, as the README documents
// it (times in RFC 3339, UTC; first_seen and a grant's expires left out when zero):
//
//	{"token": {"id", "token", "class", "rule", "submitted_by": [...], "first_seen"},
//	 "requester": {"principal", "client"},
//	 "direction": "restore" | "egress" | "api",
//	 "destination": {"host", "method", "path"},
//	 "grants": [{"id", "token_id", "principal", "direction", "host", "once", "expires"}]}
func InputValue(req Request) ast.Value {
	t := req.Token
	subs := make([]*ast.Term, len(t.Submitters))
	for i, s := range t.Submitters {
		subs[i] = ast.StringTerm(s)
	}
	token := ast.NewObjectWithCapacity(7)
	token.Insert(keyID, ast.StringTerm(t.ID))
	token.Insert(keyToken, ast.StringTerm(t.Token))
	token.Insert(keyClass, ast.StringTerm(t.Class))
	token.Insert(keyRule, ast.StringTerm(t.Rule))
	token.Insert(keySubmittedBy, ast.ArrayTerm(subs...))
	if !t.FirstSeen.IsZero() {
		token.Insert(keyFirstSeen, ast.StringTerm(rfc3339(t.FirstSeen)))
	}
	grants := make([]*ast.Term, len(req.Grants))
	for i, g := range req.Grants {
		o := ast.NewObjectWithCapacity(7)
		o.Insert(keyID, ast.StringTerm(g.ID))
		o.Insert(keyTokenID, ast.StringTerm(g.TokenID))
		o.Insert(keyPrincipal, ast.StringTerm(g.Principal))
		o.Insert(keyDirection, ast.StringTerm(string(g.Direction)))
		o.Insert(keyHost, ast.StringTerm(g.Host))
		o.Insert(keyOnce, ast.InternedTerm(g.Once))
		if !g.Expires.IsZero() {
			o.Insert(keyExpires, ast.StringTerm(rfc3339(g.Expires)))
		}
		grants[i] = ast.NewTerm(o)
	}
	return ast.NewObject(
		ast.Item(keyToken, ast.NewTerm(token)),
		ast.Item(keyRequester, ast.ObjectTerm(
			ast.Item(keyPrincipal, ast.StringTerm(req.Principal)),
			ast.Item(keyClient, ast.StringTerm(req.Client)),
		)),
		ast.Item(keyDirection, ast.StringTerm(string(req.Direction))),
		ast.Item(keyDestination, ast.ObjectTerm(
			ast.Item(keyHost, ast.StringTerm(req.Host)),
			ast.Item(keyMethod, ast.StringTerm(req.Method)),
			ast.Item(keyPath, ast.StringTerm(req.Path)),
		)),
		ast.Item(keyGrants, ast.ArrayTerm(grants...)),
	)
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// InputKeys returns the members of the input document's top level, in the order
// the README lists them.
func InputKeys() []string {
	return []string{"token", "requester", "direction", "destination", "grants"}
}
