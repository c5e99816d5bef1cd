package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/loader"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/tester"

	"github.com/cloakroom/cloakroom/configs"
	"github.com/cloakroom/cloakroom/resolver"
)

// Exit codes of cloakroom policy.
const (
	policyExitOK    = 0 // eval: the policy decided; test: every test passed
	policyExitFail  = 1 // test: a test failed
	policyExitError = 2 // bad usage, an unreadable or invalid policy or input, an evaluation or test error
)

// builtinPolicyName (main.go) names the embedded default policy in messages.
const (
	// maxPolicyInput is the largest input document policy eval reads.
	maxPolicyInput = 16 << 20
	// policyTestTimeout bounds each policy test, as opa test's default does.
	policyTestTimeout = 5 * time.Second
)

const policyUsage = `usage: cloakroom policy eval [--policy FILE] --input FILE|-
       cloakroom policy test [--verbose] [PATH...]

eval evaluates the policy (--policy FILE, or the built-in default) for one input
document (a JSON file, or "-" for standard input) and prints the decision as JSON:
{"effect": "allow|deny|approve", "reason": "...", "policy": "sha256:..."}.
Exit status: 0 the policy decided (whatever the effect), 2 error.

test runs the Rego unit tests (rules named test_*) in the .rego files found in the
PATHs (files or directories, default "."), compiled as cloakroom loads policies
(Rego v1, strict, no network built-ins), and reports like opa test.
Exit status: 0 all tests pass, 1 a test failed, 2 error (including a test that
could not be evaluated, or no tests found).
`

// policyCmd runs `cloakroom policy eval|test` and returns its exit code.
func policyCmd(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, policyUsage)
		return policyExitError
	}
	switch args[0] {
	case "eval":
		return policyEval(args[1:], stdin, stdout, stderr)
	case "test":
		return policyTest(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, policyUsage)
		return policyExitOK
	}
	fmt.Fprintf(stderr, "cloakroom: policy: unknown command %q\n\n%s", args[0], policyUsage)
	return policyExitError
}

// policyFlags returns a flag set for a policy subcommand whose -h prints the usage.
func policyFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("policy "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, policyUsage+"\nflags of policy "+name+":\n")
		fs.PrintDefaults()
	}
	return fs
}

// policyDecision is what cloakroom policy eval prints.
type policyDecision struct {
	Effect string `json:"effect"`
	Reason string `json:"reason"`
	Policy string `json:"policy"`
}

func policyEval(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := policyFlags("eval", stderr)
	policyPath := fs.String("policy", "", "the Rego policy file (default: the built-in configs/policy.rego)")
	inputPath := fs.String("input", "", `the input document, a JSON file, or "-" for standard input (required)`)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return policyExitOK
		}
		return policyExitError
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "cloakroom: policy eval: "+format+"\n", a...)
		return policyExitError
	}
	if fs.NArg() > 0 {
		return fail("unexpected argument %q (the input is given with --input)", fs.Arg(0))
	}
	if *inputPath == "" {
		return fail("--input FILE|- is required")
	}
	e := resolver.NewEngine(resolver.EngineOptions{})
	if err := loadPolicy(e, *policyPath); err != nil {
		return fail("%v", err)
	}
	input, err := readPolicyInput(*inputPath, stdin)
	if err != nil {
		return fail("%v", err)
	}
	d, err := e.DecideInput(context.Background(), input)
	if err != nil {
		return fail("%v", err)
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(policyDecision{Effect: d.Effect.String(), Reason: d.Reason, Policy: d.Policy}); err != nil {
		return fail("%v", err)
	}
	if _, err := stdout.Write(out.Bytes()); err != nil {
		return fail("write output: %v", err)
	}
	return policyExitOK
}

// readPolicyInput reads the input document from path ("-" is stdin): one JSON
// object whose members are among those cloakroom passes (resolver.InputKeys), so
// that a misspelt member is an error rather than an undefined input.
func readPolicyInput(path string, stdin io.Reader) (map[string]any, error) {
	name := path
	r := stdin
	if path == "-" {
		name = "standard input"
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("read input: %w", err)
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, maxPolicyInput+1))
	if err != nil {
		return nil, fmt.Errorf("read input %s: %w", name, err)
	}
	if len(data) > maxPolicyInput {
		return nil, fmt.Errorf("input %s: larger than %d bytes", name, maxPolicyInput)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("input %s is empty", name)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("input %s is not JSON: %w", name, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("input %s: more than one JSON value", name)
	}
	obj, ok := doc.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("input %s is not a JSON object", name)
	}
	keys := resolver.InputKeys()
	for k := range obj {
		if !slices.Contains(keys, k) {
			return nil, fmt.Errorf("input %s: unknown member %q (the input has %s)", name, k, strings.Join(keys, ", "))
		}
	}
	return obj, nil
}

func policyTest(args []string, stdout, stderr io.Writer) int {
	fs := policyFlags("test", stderr)
	var verbose bool
	fs.BoolVar(&verbose, "verbose", false, "print every test, and traces of failures")
	fs.BoolVar(&verbose, "v", false, "short for --verbose")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return policyExitOK
		}
		return policyExitError
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "cloakroom: policy test: "+format+"\n", a...)
		return policyExitError
	}
	paths := fs.Args()
	if len(paths) == 0 {
		paths = []string{"."}
	}
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			return fail("%v", err)
		}
	}
	loaded, err := loader.NewFileLoader().
		WithRegoVersion(ast.RegoV1).
		WithProcessAnnotation(true).
		Filtered(paths, onlyRegoFiles)
	if err != nil {
		return fail("%v", err)
	}
	if len(loaded.Modules) == 0 {
		return fail("no .rego files in %s", strings.Join(paths, " "))
	}
	modules := make(map[string]*ast.Module, len(loaded.Modules))
	for _, m := range loaded.Modules {
		modules[m.Name] = m.Parsed
	}
	results, err := runPolicyTests(modules)
	if err != nil {
		return fail("%v", err)
	}
	if len(results) == 0 {
		return fail("no tests (rules named test_*) in %s", strings.Join(paths, " "))
	}
	ch := make(chan *tester.Result, len(results))
	code := policyExitOK
	for _, r := range results {
		switch {
		case r.Error != nil:
			code = policyExitError
		case r.Fail && code == policyExitOK:
			code = policyExitFail
		}
		ch <- r
	}
	close(ch)
	rep := tester.PrettyReporter{Output: stdout, Verbose: verbose, FailureLine: true}
	if err := rep.Report(ch); err != nil {
		return fail("%v", err)
	}
	return code
}

// runPolicyTests compiles modules as the engine does and runs their tests,
// returning the results in file and line order.
func runPolicyTests(modules map[string]*ast.Module) ([]*tester.Result, error) {
	ctx := context.Background()
	store := inmem.New()
	txn, err := store.NewTransaction(ctx, storage.WriteParams)
	if err != nil {
		return nil, err
	}
	defer store.Abort(ctx, txn)
	ch, err := tester.NewRunner().
		SetCompiler(resolver.NewPolicyCompiler().WithEnablePrintStatements(true)).
		SetStore(store).
		SetModules(modules).
		CapturePrintOutput(true).
		EnableTracing(true). // for the failing line; --verbose prints whole traces
		RaiseBuiltinErrors(true).
		SetTimeout(policyTestTimeout).
		RunTests(ctx, txn)
	if err != nil {
		return nil, err
	}
	var results []*tester.Result
	for r := range ch {
		results = append(results, r)
	}
	slices.SortFunc(results, func(a, b *tester.Result) int {
		if a.Location == nil || b.Location == nil {
			return cmp.Compare(a.Name, b.Name)
		}
		return cmp.Or(cmp.Compare(a.Location.File, b.Location.File), cmp.Compare(a.Location.Row, b.Location.Row), cmp.Compare(a.Name, b.Name))
	})
	return results, nil
}

// onlyRegoFiles is the loader filter of cloakroom policy test: it skips every file
// but *.rego (no data files) and hidden directories below the paths given.
func onlyRegoFiles(_ string, info fs.FileInfo, depth int) bool {
	if info.IsDir() {
		return depth > 0 && strings.HasPrefix(info.Name(), ".")
	}
	return !strings.HasSuffix(info.Name(), ".rego")
}

// loadPolicy loads the policy file at path into e, or the built-in policy when path
// is empty.
func loadPolicy(e *resolver.Engine, path string) error {
	if path == "" {
		return e.Load(builtinPolicyName, configs.Policy)
	}
	return e.LoadFile(path)
}
