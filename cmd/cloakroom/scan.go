package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/cloakroom/cloakroom/detect"
	"github.com/cloakroom/cloakroom/proxy"
	"github.com/cloakroom/cloakroom/proxy/walk"
	"github.com/cloakroom/cloakroom/tokenize"
)

// Exit codes of cloakroom scan.
const (
	scanExitClean    = 0 // no findings
	scanExitFindings = 1 // at least one finding
	scanExitError    = 2 // bad usage, or an input could not be read or scanned
)

const (
	// stdinName is the path reported for findings in standard input.
	stdinName = "<stdin>"
	// stdinURI is the SARIF artifact URI of standard input.
	stdinURI = "stdin"
	// binarySniff is how many leading bytes are looked at for a NUL byte, as git does.
	binarySniff = 8000
	// previewMax is the most leading bytes of a secret a preview shows.
	previewMax = 4
	// redactedName replaces, in a reported JSON path, a member name holding a secret.
	redactedName = "<redacted>"
)

const scanUsage = `usage: cloakroom scan [flags] [PATH...|-]

Scan files, directories (recursively, skipping .git, binary files and files over
--max-bytes) or standard input ("-", or no PATH with stdin not a terminal) for secrets
with the proxy's detection engine. Input that is JSON is scanned as the proxy scans a
request body; offsets are into the input as given.

Exit status: 0 no findings, 1 findings, 2 error.

flags:
`

// scanOptions are the flags of cloakroom scan.
type scanOptions struct {
	format      string
	config      string
	showSecrets bool
	maxBytes    int64
	paths       []string
}

// parseScan parses the flags of cloakroom scan, which may come before, between or
// after the paths ("--" ends them).
func parseScan(args []string, stderr io.Writer) (scanOptions, error) {
	var o scanOptions
	fs := flag.NewFlagSet("scan", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, scanUsage)
		fs.PrintDefaults()
	}
	fs.StringVar(&o.format, "format", "text", "output format: text, json (one JSON object per line) or sarif (SARIF 2.1.0)")
	fs.StringVar(&o.config, "config", "", "config file whose detect: section configures the rules (default: the built-in catalog)")
	fs.BoolVar(&o.showSecrets, "show-secrets", false, "print each secret in full (field \"secret\"), and member names as they are in JSON paths")
	fs.Int64Var(&o.maxBytes, "max-bytes", proxy.DefaultMaxBodyBytes, "skip inputs larger than this many bytes, with a note on stderr")
	for {
		if err := fs.Parse(args); err != nil {
			return o, err
		}
		rest := fs.Args()
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			o.paths = append(o.paths, rest...)
			break
		}
		if len(rest) == 0 {
			break
		}
		o.paths = append(o.paths, rest[0])
		args = rest[1:]
	}
	switch o.format {
	case "text", "json", "sarif":
	default:
		return o, fmt.Errorf("scan: unknown --format %q (want text, json or sarif)", o.format)
	}
	if o.maxBytes <= 0 {
		return o, errors.New("scan: --max-bytes must be positive")
	}
	return o, nil
}

// scanDetector builds the detector cloakroom scan uses: the built-in catalog, or the
// one the detect: section of the config file describes (the same section serve reads;
// the file's other keys are not used).
func scanDetector(configPath string, stderr io.Writer) (*detect.Detector, error) {
	det, warnings, err := loadDetectorFile(configPath)
	for _, w := range warnings {
		fmt.Fprintln(stderr, "cloakroom: scan: warning:", w)
	}
	return det, err
}

// scanCmd runs cloakroom scan and returns its exit code. It builds only a detector:
// no policy, vault or store.
func scanCmd(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	o, err := parseScan(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return scanExitClean
	}
	if err != nil {
		fmt.Fprintln(stderr, "cloakroom:", err)
		return scanExitError
	}
	if len(o.paths) == 0 {
		if isTerminal(stdin) {
			fmt.Fprintln(stderr, "cloakroom: scan: no PATH given and standard input is a terminal")
			fmt.Fprint(stderr, scanUsage)
			return scanExitError
		}
		o.paths = []string{"-"}
	}
	det, err := scanDetector(o.config, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "cloakroom:", err)
		return scanExitError
	}
	s := &scanner{opts: o, det: det, stdin: stdin, stderr: stderr, out: newScanOutput(o, det, stdout)}
	for _, p := range o.paths {
		s.scanPath(p)
	}
	if err := s.out.close(); err != nil {
		s.fail("write output: %v", err)
	}
	if o.format == "text" {
		fmt.Fprintf(stderr, "cloakroom scan: %d finding(s) in %d of %d input(s) scanned, %d skipped\n",
			s.findings, s.withFindings, s.scanned, s.skipped)
	}
	switch {
	case s.failed:
		return scanExitError
	case s.findings > 0:
		return scanExitFindings
	}
	return scanExitClean
}

// isTerminal reports whether r is a character device (a terminal), on which
// cloakroom scan would wait for input nobody types.
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// scanner scans inputs one after the other and counts what it finds.
type scanner struct {
	opts   scanOptions
	det    *detect.Detector
	stdin  io.Reader
	stderr io.Writer
	out    scanOutput

	scanned, skipped, withFindings, findings int
	failed                                   bool
}

// fail notes an error on stderr; the exit code becomes 2 and scanning goes on.
func (s *scanner) fail(format string, args ...any) {
	s.failed = true
	fmt.Fprintf(s.stderr, "cloakroom: scan: "+format+"\n", args...)
}

func (s *scanner) skip(path, why string) {
	s.skipped++
	fmt.Fprintf(s.stderr, "cloakroom: scan: skipped %s: %s\n", path, why)
}

// scanPath scans "-" (standard input), a file, or a directory tree.
func (s *scanner) scanPath(p string) {
	if p == "-" {
		data, err := io.ReadAll(io.LimitReader(s.stdin, s.opts.maxBytes+1))
		if err != nil {
			s.fail("read standard input: %v", err)
			return
		}
		if int64(len(data)) > s.opts.maxBytes {
			s.skip(stdinName, s.tooLarge())
			return
		}
		s.scanData(stdinName, stdinURI, data)
		return
	}
	fi, err := os.Stat(p)
	if err != nil {
		s.fail("%v", err)
		return
	}
	if !fi.IsDir() {
		s.scanFile(p, fi)
		return
	}
	err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			s.fail("%v", err)
			return nil // WalkDir skips what it could not read
		}
		if d.IsDir() {
			if d.Name() == ".git" && path != p {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil // symlinks, devices, sockets: not followed
		}
		fi, err := d.Info()
		if err != nil {
			s.fail("%v", err)
			return nil
		}
		s.scanFile(path, fi)
		return nil
	})
	if err != nil {
		s.fail("%v", err)
	}
}

func (s *scanner) tooLarge() string {
	return fmt.Sprintf("larger than %d bytes (--max-bytes)", s.opts.maxBytes)
}

// scanFile scans one regular file unless it is too large or binary.
func (s *scanner) scanFile(path string, fi fs.FileInfo) {
	if !fi.Mode().IsRegular() {
		s.skip(path, "not a regular file")
		return
	}
	if fi.Size() > s.opts.maxBytes {
		s.skip(path, s.tooLarge())
		return
	}
	data, err := os.ReadFile(path)
	if err != nil {
		s.fail("%v", err)
		return
	}
	if int64(len(data)) > s.opts.maxBytes { // grew since Stat
		s.skip(path, s.tooLarge())
		return
	}
	s.scanData(path, fileURI(path), data)
}

// scanData scans one input and writes its findings.
func (s *scanner) scanData(path, uri string, data []byte) {
	if bytes.IndexByte(data[:min(len(data), binarySniff)], 0) >= 0 {
		s.skip(path, "binary file")
		return
	}
	s.scanned++
	found := scanInput(s.det, data, s.opts.showSecrets)
	if len(found) == 0 {
		return
	}
	s.withFindings++
	s.findings += len(found)
	lines := newLineIndex(data)
	for i := range found {
		f := &found[i]
		f.Path, f.uri = path, uri
		f.Line, f.Column, f.charColumn = lines.position(f.Start)
	}
	if err := s.out.write(found); err != nil {
		s.fail("write output: %v", err)
	}
}

// scanFinding is one finding as cloakroom scan reports it. It never holds the secret
// unless --show-secrets is set.
type scanFinding struct {
	// Rule and Class name the rule that found the secret and its token class.
	Rule  string `json:"rule"`
	Class string `json:"class"`
	// Path is the file path as given or found in a directory, "<stdin>" for
	// standard input.
	Path string `json:"path"`
	// JSONPath locates the string holding the secret when the input is JSON, as the
	// proxy's audit records do: "#" enters JSON text held by a string, a "(base64)"
	// suffix marks a secret inside a base64 text payload. A member name holding a
	// secret is shown as "<redacted>" unless --show-secrets.
	JSONPath string `json:"json_path,omitempty"`
	// MemberName reports that the secret is in a JSON member name; JSONPath is then
	// the path of the object holding the member.
	MemberName bool `json:"member_name,omitempty"`
	// Start and End are byte offsets into the input as given (raw, before JSON
	// decoding): input[Start:End] holds the secret as written, escapes included.
	Start int `json:"start"`
	End   int `json:"end"`
	// Line and Column locate Start: 1-based line, and 1-based column in bytes.
	Line   int `json:"line"`
	Column int `json:"column"`
	// Preview is a redacted form of the secret (see preview).
	Preview string `json:"preview"`
	// Secret is the decoded secret, only with --show-secrets.
	Secret string `json:"secret,omitempty"`

	uri        string // SARIF artifact URI
	charColumn int    // 1-based column in Unicode code points, for SARIF
}

// scanInput returns the findings in data, sorted by Start: JSON-aware, as the proxy
// scans a request body, when data is JSON text, else as text. Paths and positions
// in the file are left to the caller.
func scanInput(det *detect.Detector, data []byte, show bool) []scanFinding {
	if looksLikeJSON(data) {
		if fs, err := scanJSON(det, data, show); err == nil {
			return fs
		}
		// Not valid JSON after all: scan it as text, as the proxy does with a body
		// not declared JSON.
	}
	var out []scanFinding
	for _, f := range secretFindings(det, "", data) {
		out = append(out, newScanFinding(f.RuleID, f.Class, data[f.Start:f.End], f.Start, f.End, show))
	}
	return out
}

func looksLikeJSON(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	return len(b) > 0 && (b[0] == '{' || b[0] == '[')
}

// secretFindings returns the findings of the detector in one decoded string as the
// proxy's do (ScanField for a member value, Scan otherwise), minus anything that is
// already a cloakroom token. There are no known values: scan has no vault.
func secretFindings(det *detect.Detector, key string, s []byte) []detect.Finding {
	var fs []detect.Finding
	if key != "" {
		fs = det.ScanField(key, s)
	} else {
		fs = det.Scan(s)
	}
	return slices.DeleteFunc(fs, func(f detect.Finding) bool {
		return f.End <= f.Start || tokenize.Contains(s[f.Start:f.End])
	})
}

func newScanFinding(rule, class string, secret []byte, start, end int, show bool) scanFinding {
	f := scanFinding{Rule: rule, Class: class, Start: start, End: end, Preview: preview(secret)}
	if show {
		f.Secret = string(secret)
	}
	return f
}

// scanJSON scans every string of a JSON document that the proxy's redactor scans,
// as it scans it, and maps the findings to the raw bytes of data.
func scanJSON(det *detect.Detector, data []byte, show bool) ([]scanFinding, error) {
	var out []scanFinding
	var names []string // secrets found in member names, hidden in later paths
	err := walk.Visit(data, func(f walk.Field, s []byte, loc walk.Location) error {
		if det.SkipPath(f.Path) { // allowlisted, as the proxy leaves it
			return nil
		}
		path := f.Path
		if !show {
			for _, n := range names {
				path = strings.ReplaceAll(path, n, redactedName)
			}
		}
		if enc, ok := encodedFindings(det, f, s, loc, show); ok {
			for i := range enc {
				enc[i].JSONPath = path + "(base64)"
			}
			out = append(out, enc...)
			return nil
		}
		for _, d := range secretFindings(det, f.Key, s) {
			secret := s[d.Start:d.End]
			rs, re := loc.Raw(d.Start, d.End)
			sf := newScanFinding(d.RuleID, d.Class, secret, rs, re, show)
			sf.JSONPath, sf.MemberName = path, f.Name
			if f.Name && !show {
				names = append(names, string(secret))
			}
			out = append(out, sf)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(out, func(a, b scanFinding) int { return a.Start - b.Start })
	return out, nil
}

// minEncodedLen is the proxy's shortest base64 payload worth decoding.
const minEncodedLen = 16

// encodedFindings mirrors the proxy's handling of text that travels base64-encoded
// (a data: URL with ;base64, or the data of a media object with a text-like media
// type): it decodes the payload and scans the text. ok is false, as in the proxy,
// when s is no such payload or its text holds no secret; s is then scanned as it is.
// A finding spans the base64 characters that encode the secret (whole 4-character
// groups), mapped to the raw bytes.
func encodedFindings(det *detect.Detector, f walk.Field, s []byte, loc walk.Location, show bool) ([]scanFinding, bool) {
	start := 0
	if len(s) >= 5 && bytes.EqualFold(s[:5], []byte("data:")) {
		comma := bytes.IndexByte(s, ',')
		if comma < 0 || !bytes.HasSuffix(bytes.ToLower(s[:comma]), []byte(";base64")) {
			return nil, false
		}
		start = comma + 1
	} else if f.MediaType == "" {
		return nil, false
	}
	// The payload without white space (base64 may be wrapped), as bytes.Fields splits
	// it, and where each of its bytes is in s.
	var payload []byte
	var pos []int
	for i := start; i < len(s); {
		r, n := utf8.DecodeRune(s[i:])
		if !unicode.IsSpace(r) {
			payload = append(payload, s[i:i+n]...)
			for k := range n {
				pos = append(pos, i+k)
			}
		}
		i += n
	}
	if len(payload) < minEncodedLen {
		return nil, false
	}
	enc := base64.StdEncoding
	if bytes.IndexByte(payload, '=') < 0 && len(payload)%4 != 0 {
		enc = base64.RawStdEncoding
	}
	text, err := enc.DecodeString(string(payload))
	if err != nil || !utf8.Valid(text) {
		return nil, false
	}
	var out []scanFinding
	for _, d := range secretFindings(det, "", text) {
		pa := d.Start / 3 * 4
		pb := min(len(payload), (d.End+2)/3*4)
		rs, re := loc.Raw(pos[pa], pos[pb-1]+1)
		out = append(out, newScanFinding(d.RuleID, d.Class, text[d.Start:d.End], rs, re, show))
	}
	return out, len(out) > 0
}

// preview returns a redacted form of a secret that identifies it without revealing
// it: its first bytes (at most 4, at most a quarter of it, printable ASCII only), an
// ellipsis, and its length in bytes, e.g. "AKIA…(20)".
func preview(secret []byte) string {
	n := min(previewMax, len(secret)/4)
	i := 0
	for i < n && secret[i] > ' ' && secret[i] < 0x7f {
		i++
	}
	return fmt.Sprintf("%s…(%d)", secret[:i], len(secret))
}

// lineIndex finds the line and column of an offset.
type lineIndex struct {
	data []byte
	nl   []int // offsets of '\n'
}

func newLineIndex(data []byte) lineIndex {
	li := lineIndex{data: data}
	for i := 0; ; {
		j := bytes.IndexByte(data[i:], '\n')
		if j < 0 {
			return li
		}
		li.nl = append(li.nl, i+j)
		i += j + 1
	}
}

// position returns the 1-based line of off, and its 1-based column in bytes and in
// Unicode code points.
func (li lineIndex) position(off int) (line, col, charCol int) {
	k := sort.SearchInts(li.nl, off) // newlines before off
	lineStart := 0
	if k > 0 {
		lineStart = li.nl[k-1] + 1
	}
	return k + 1, off - lineStart + 1, utf8.RuneCount(li.data[lineStart:off]) + 1
}

// fileURI returns the SARIF artifact URI of a path: relative paths stay relative
// (to the directory scanned from), absolute ones become file: URIs.
func fileURI(path string) string {
	p := filepath.ToSlash(path)
	if filepath.IsAbs(path) {
		return (&url.URL{Scheme: "file", Path: p}).String()
	}
	return (&url.URL{Path: p}).String()
}

// scanOutput writes findings in one format.
type scanOutput interface {
	write([]scanFinding) error
	close() error
}

func newScanOutput(o scanOptions, det *detect.Detector, w io.Writer) scanOutput {
	switch o.format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		return jsonOutput{enc}
	case "sarif":
		return &sarifOutput{w: w, rules: det.Rules()}
	}
	return textOutput{w}
}

// textOutput writes one line per finding: path:line:col rule class preview, then
// json_path=... for JSON input and secret=... (quoted) with --show-secrets.
type textOutput struct{ w io.Writer }

func (t textOutput) write(fs []scanFinding) error {
	var b bytes.Buffer
	for _, f := range fs {
		fmt.Fprintf(&b, "%s:%d:%d %s %s %s", f.Path, f.Line, f.Column, f.Rule, f.Class, f.Preview)
		if f.JSONPath != "" || f.MemberName {
			fmt.Fprintf(&b, " json_path=%q", f.JSONPath)
		}
		if f.MemberName {
			b.WriteString(" member_name")
		}
		if f.Secret != "" {
			fmt.Fprintf(&b, " secret=%q", f.Secret)
		}
		b.WriteByte('\n')
	}
	_, err := t.w.Write(b.Bytes())
	return err
}

func (textOutput) close() error { return nil }

// jsonOutput writes JSON lines: one object per finding, one per line.
type jsonOutput struct{ enc *json.Encoder }

func (j jsonOutput) write(fs []scanFinding) error {
	for i := range fs {
		if err := j.enc.Encode(&fs[i]); err != nil {
			return err
		}
	}
	return nil
}

func (jsonOutput) close() error { return nil }

// SARIF 2.1.0, the parts cloakroom writes.
const (
	sarifVersion = "2.1.0"
	sarifSchema  = "https://json.schemastore.org/sarif-2.1.0.json"
)

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool       sarifTool     `json:"tool"`
	ColumnKind string        `json:"columnKind"`
	Results    []sarifResult `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name    string      `json:"name"`
	Version string      `json:"version"`
	Rules   []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID                   string         `json:"id"`
	ShortDescription     sarifText      `json:"shortDescription"`
	DefaultConfiguration sarifRuleLevel `json:"defaultConfiguration"`
	Properties           sarifRuleProps `json:"properties"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifRuleLevel struct {
	Level string `json:"level"`
}

type sarifRuleProps struct {
	Class string   `json:"class"`
	Tags  []string `json:"tags"`
}

type sarifResult struct {
	RuleID     string          `json:"ruleId"`
	RuleIndex  int             `json:"ruleIndex"`
	Level      string          `json:"level"`
	Message    sarifText       `json:"message"`
	Locations  []sarifLocation `json:"locations"`
	Properties sarifResultProp `json:"properties"`
}

type sarifResultProp struct {
	Class      string `json:"class"`
	Preview    string `json:"preview"`
	JSONPath   string `json:"json_path,omitempty"`
	MemberName bool   `json:"member_name,omitempty"`
	Secret     string `json:"secret,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysical `json:"physicalLocation"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           sarifRegion   `json:"region"`
}

type sarifArtifact struct {
	URI string `json:"uri"`
}

type sarifRegion struct {
	StartLine   int `json:"startLine"`
	StartColumn int `json:"startColumn"`
	ByteOffset  int `json:"byteOffset"`
	ByteLength  int `json:"byteLength"`
}

// sarifOutput collects the results and writes one SARIF log at close.
type sarifOutput struct {
	w       io.Writer
	rules   []detect.Rule
	results []sarifResult
}

func (s *sarifOutput) write(fs []scanFinding) error {
	for _, f := range fs {
		idx := slices.IndexFunc(s.rules, func(r detect.Rule) bool { return r.ID == f.Rule })
		msg := fmt.Sprintf("Possible %s secret (%s): %s", f.Class, f.Rule, f.Preview)
		if f.JSONPath != "" {
			msg += " at JSON path " + f.JSONPath
		}
		s.results = append(s.results, sarifResult{
			RuleID:    f.Rule,
			RuleIndex: idx,
			Level:     "error",
			Message:   sarifText{msg},
			Locations: []sarifLocation{{PhysicalLocation: sarifPhysical{
				ArtifactLocation: sarifArtifact{URI: f.uri},
				Region: sarifRegion{
					StartLine: f.Line, StartColumn: f.charColumn,
					ByteOffset: f.Start, ByteLength: f.End - f.Start,
				},
			}}},
			Properties: sarifResultProp{Class: f.Class, Preview: f.Preview, JSONPath: f.JSONPath, MemberName: f.MemberName, Secret: f.Secret},
		})
	}
	return nil
}

func (s *sarifOutput) close() error {
	rules := make([]sarifRule, len(s.rules))
	for i, r := range s.rules {
		desc := r.Description
		if desc == "" {
			desc = r.ID
		}
		rules[i] = sarifRule{
			ID:                   r.ID,
			ShortDescription:     sarifText{desc},
			DefaultConfiguration: sarifRuleLevel{"error"},
			Properties:           sarifRuleProps{Class: r.Class, Tags: []string{"security", "secret"}},
		}
	}
	results := s.results
	if results == nil {
		results = []sarifResult{}
	}
	log := sarifLog{
		Schema:  sarifSchema,
		Version: sarifVersion,
		Runs: []sarifRun{{
			Tool:       sarifTool{Driver: sarifDriver{Name: "cloakroom", Version: version, Rules: rules}},
			ColumnKind: "unicodeCodePoints",
			Results:    results,
		}},
	}
	enc := json.NewEncoder(s.w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(log)
}
