package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode"

	"github.com/redis/go-redis/v9"

	"github.com/cloakroom/cloakroom/internal/audit"
	"github.com/cloakroom/cloakroom/proxy"
)

// Defaults of the audit trail and of prompt capture.
const (
	auditFile              = "audit.jsonl"
	capturesDir            = "captures"
	streamSuffix           = "audit" // the stream's key is <redis prefix>audit
	defaultAuditMaxBytes   = 100 << 20
	defaultAuditKeep       = 10
	defaultAuditRedisMaxLn = audit.DefaultStreamMaxLen
	defaultCaptureMaxBytes = audit.DefaultCaptureMaxBytes
)

// fileAudit is the audit trail's and prompt capture's part of fileConfig.
type fileAudit struct {
	AuditMaxBytes    *int64 `yaml:"audit_max_bytes"`
	AuditKeep        *int   `yaml:"audit_keep"`
	AuditRedis       *bool  `yaml:"audit_redis"`
	AuditRedisMaxLen *int64 `yaml:"audit_redis_maxlen"`
	Capture          struct {
		Enabled  *bool   `yaml:"enabled"`
		MaxAge   *string `yaml:"max_age"`
		MaxBytes *int64  `yaml:"max_bytes"`
	} `yaml:"capture"`
}

// auditFlags are serve's flags for the audit trail and prompt capture.
type auditFlags struct {
	maxBytes, redisMaxLen, captureBytes *int64
	keep                                *int
	redis, capture                      *bool
	captureAge                          *string
}

func addAuditFlags(fs *flag.FlagSet) auditFlags {
	return auditFlags{
		maxBytes:     fs.Int64("audit-max-bytes", defaultAuditMaxBytes, "rotate the audit log file before it passes this size (audit.jsonl.1 is the newest rotated file); 0 never rotates"),
		keep:         fs.Int("audit-keep", defaultAuditKeep, "rotated audit log files kept; older ones are deleted (the trail records it)"),
		redis:        fs.Bool("audit-redis", true, "with --redis, also append the audit trail to the Redis stream <prefix>audit, shared by replicas"),
		redisMaxLen:  fs.Int64("audit-redis-maxlen", defaultAuditRedisMaxLn, "about how many entries the Redis audit stream keeps (XADD MAXLEN ~)"),
		capture:      fs.Bool("capture", false, "prompt capture: keep each intercepted request body as it went upstream (redacted: tokens, never secrets) in <data-dir>/captures"),
		captureAge:   fs.String("capture-max-age", "24h", "captures older than this are deleted"),
		captureBytes: fs.Int64("capture-max-bytes", defaultCaptureMaxBytes, "captures past this total size are deleted, oldest first"),
	}
}

// resolve merges the flags (those set win) with the config file into c.
func (f auditFlags) resolve(c *serveConfig, set map[string]bool, fc fileAudit) error {
	c.AuditMaxBytes = pick(set, "audit-max-bytes", *f.maxBytes, fc.AuditMaxBytes)
	c.AuditKeep = pick(set, "audit-keep", *f.keep, fc.AuditKeep)
	c.AuditRedis = pick(set, "audit-redis", *f.redis, fc.AuditRedis)
	c.AuditRedisMaxLen = pick(set, "audit-redis-maxlen", *f.redisMaxLen, fc.AuditRedisMaxLen)
	c.Capture = pick(set, "capture", *f.capture, fc.Capture.Enabled)
	c.CaptureMaxBytes = pick(set, "capture-max-bytes", *f.captureBytes, fc.Capture.MaxBytes)
	age := pick(set, "capture-max-age", *f.captureAge, fc.Capture.MaxAge)
	d, err := time.ParseDuration(age)
	if err != nil {
		return fmt.Errorf("capture.max_age: want a duration such as 24h, got %q", age)
	}
	c.CaptureMaxAge = d
	return nil
}

// validateAudit checks the audit trail's and prompt capture's settings.
func (c serveConfig) validateAudit() []error {
	var errs []error
	if c.AuditMaxBytes < 0 {
		errs = append(errs, fmt.Errorf("audit_max_bytes must be 0 (never rotate) or positive, got %d", c.AuditMaxBytes))
	}
	if c.AuditKeep < 0 {
		errs = append(errs, fmt.Errorf("audit_keep must be 0 or more, got %d", c.AuditKeep))
	}
	if c.AuditRedisMaxLen <= 0 {
		errs = append(errs, fmt.Errorf("audit_redis_maxlen must be positive, got %d", c.AuditRedisMaxLen))
	}
	if c.CaptureMaxAge <= 0 {
		errs = append(errs, fmt.Errorf("capture.max_age must be positive, got %s", c.CaptureMaxAge))
	}
	if c.CaptureMaxBytes <= 0 {
		errs = append(errs, fmt.Errorf("capture.max_bytes must be positive, got %d", c.CaptureMaxBytes))
	}
	return errs
}

// tailPoll is how often `audit tail -f` looks for new lines and rotation.
var tailPoll = 250 * time.Millisecond

// openAudit opens the audit sinks of serve: the file (rotated) or stdout, and the
// Redis stream on client (the stores', nil without Redis) when audit_redis is on.
// close closes the writer and the stream; the client is the stores' to close.
func openAudit(cfg serveConfig, client redis.UniversalClient, log *slog.Logger) (w *audit.Writer, closeFn func(), err error) {
	report := func(err error) { log.Error("audit trail", "err", err) }
	o := audit.Options{MaxBytes: cfg.AuditMaxBytes, Keep: cfg.AuditKeep, OnError: report}
	if client != nil && cfg.AuditRedis {
		o.Stream = audit.NewStream(client, cfg.RedisPrefix+streamSuffix, audit.StreamOptions{MaxLen: cfg.AuditRedisMaxLen, OnError: report})
	}
	if cfg.AuditLog == "-" {
		w = audit.NewWriter(os.Stdout, o)
	} else if w, err = audit.OpenFile(cfg.AuditLog, o); err != nil {
		if o.Stream != nil {
			_ = o.Stream.Close()
		}
		return nil, nil, err
	}
	return w, func() {
		if err := w.Close(); err != nil {
			report(err)
		}
	}, nil
}

// openCaptures opens the prompt capture store of serve, or returns nil when
// capture is off.
func openCaptures(cfg serveConfig) (proxy.Captures, error) {
	if !cfg.Capture {
		return nil, nil
	}
	c, err := audit.OpenCaptures(filepath.Join(cfg.DataDir, capturesDir), audit.CaptureOptions{MaxAge: cfg.CaptureMaxAge, MaxBytes: cfg.CaptureMaxBytes})
	if err != nil {
		return nil, err // not a nil *audit.Captures in the interface
	}
	return c, nil
}

const auditUsage = `usage: cloakroom audit <command> [flags]

commands:
  verify [--partial] [FILE...]
            check the hash chain of the audit log (default <data-dir>/audit.jsonl and
            its rotated files); a FILE that is a live log brings its rotated files
            (FILE.N) along; exit 0 intact, 1 broken, 2 error
  verify --redis URL [--redis-prefix P] [--redis-mode M]
            check the shared Redis stream <prefix>audit, chain by chain
  tail [-f] [-n N] [--principal P] [--host H] [--rule R] [--type T] [--json] [FILE|-]
            print the last N records (default 10) one per line; -f follows the log
            (across rotation); --json prints the lines as they are

flags of every command:
  --data-dir DIR   the proxy's data directory (where audit.jsonl is)
`

// auditCmd runs `cloakroom audit ...`.
func auditCmd(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, auditUsage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	switch args[0] {
	case "verify":
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return auditVerify(ctx, args[1:], stdin, stdout, stderr)
	case "tail":
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return auditTail(ctx, args[1:], stdin, stdout, stderr)
	default:
		fmt.Fprintf(stderr, "cloakroom audit: unknown command %q\n\n%s", args[0], auditUsage)
		return 2
	}
}

// parseInterleaved parses flags that may come before or after the arguments.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos, rest = append(pos, fs.Arg(0)), fs.Args()[1:]
	}
}

func auditVerify(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, auditUsage) }
	dataDir := fs.String("data-dir", defaultDataDir(), "the proxy's data directory")
	partial := fs.Bool("partial", false, "the files may begin in the middle of the chain (a rotated file checked alone)")
	redisURL := fs.String("redis", "", "verify the Redis stream <prefix>audit instead of files")
	redisPfx := fs.String("redis-prefix", "cloakroom:", "prefix of cloakroom's Redis keys")
	redisMode := fs.String("redis-mode", "standalone", "standalone, sentinel or cluster")
	files, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintln(stderr, "cloakroom audit verify:", err)
		return 2
	}
	var rep *audit.Report
	switch {
	case *redisURL != "":
		if len(files) > 0 {
			return fail(errors.New("give --redis or files, not both"))
		}
		redis.SetLogger(redisLogger{slog.New(slog.DiscardHandler)}) // the error says it
		client, _, err := redisClient(*redisMode, *redisURL)
		if err != nil {
			return fail(err)
		}
		defer client.Close()
		if rep, err = audit.VerifyStream(ctx, client, *redisPfx+streamSuffix); err != nil {
			return fail(err)
		}
	case len(files) == 1 && files[0] == "-":
		if rep, err = audit.VerifyReader(stdin, "stdin", *partial); err != nil {
			return fail(err)
		}
	default:
		paths, err := auditFiles(files, expandHome(*dataDir))
		if err != nil {
			return fail(err)
		}
		if rep, err = audit.VerifyFiles(paths, *partial); err != nil {
			return fail(err)
		}
	}
	return printReport(stdout, rep, *redisURL != "")
}

// auditFiles resolves verify's file arguments: none means the data directory's
// log; a live log brings its rotated files; all in rotation order.
func auditFiles(args []string, dataDir string) ([]string, error) {
	if len(args) == 0 {
		args = []string{filepath.Join(dataDir, auditFile)}
	}
	var out []string
	seen := map[string]bool{}
	for _, a := range args {
		if _, err := os.Stat(a); err != nil {
			return nil, fmt.Errorf("no audit log: %w", err)
		}
		group := []string{a}
		if !isRotatedName(a) {
			all, err := audit.Files(a)
			if err != nil {
				return nil, err
			}
			group = all
		}
		for _, p := range group {
			if !seen[filepath.Clean(p)] {
				seen[filepath.Clean(p)] = true
				out = append(out, p)
			}
		}
	}
	return audit.SortFiles(out), nil
}

// isRotatedName reports whether p ends in .N, as rotated logs do.
func isRotatedName(p string) bool {
	i := strings.LastIndexByte(p, '.')
	if i < 0 {
		return false
	}
	n, err := strconv.Atoi(p[i+1:])
	return err == nil && n > 0
}

// printReport prints a verification's outcome and returns the exit code.
func printReport(w io.Writer, r *audit.Report, stream bool) int {
	if p := r.Problem; p != nil {
		var about []string
		if p.Seq > 0 {
			about = append(about, "seq "+strconv.FormatUint(p.Seq, 10))
		}
		if p.Chain != "" {
			about = append(about, "chain "+p.Chain)
		}
		where := p.Pos.String()
		if len(about) > 0 {
			where += " (" + strings.Join(about, ", ") + ")"
		}
		fmt.Fprintf(w, "broken: %s: %s: %s\n", clean(where), p.Kind, clean(p.Detail))
		return 1
	}
	switch {
	case !stream:
		fmt.Fprintf(w, "ok: %d records, chain intact\n", r.Records)
	case len(r.Chains) == 1:
		fmt.Fprintf(w, "ok: %d records, 1 chain intact\n", r.Records)
	default:
		fmt.Fprintf(w, "ok: %d records, %d chains intact\n", r.Records, len(r.Chains))
	}
	for _, c := range r.Chains {
		fmt.Fprintf(w, "  chain %s: seq %d-%d, head sha256 %s (%s)\n", clean(c.ID), c.First, c.Last, c.Head, clean(c.LastPos.String()))
	}
	for _, n := range r.Notes { // lines may hold anything: keep it off the terminal
		fmt.Fprintln(w, "  note:", clean(n))
	}
	return 0
}

// tailFilter selects records for tail.
type tailFilter struct {
	principal, host, rule, typ string
}

// tailEntry is what tail reads of a line: the fields of every record type.
type tailEntry struct {
	Seq        uint64            `json:"seq"`
	Chain      string            `json:"chain"`
	Type       string            `json:"type"`
	Time       time.Time         `json:"time"`
	Principal  string            `json:"principal"`
	Host       string            `json:"host"`
	Method     string            `json:"method"`
	Path       string            `json:"path"`
	Status     int               `json:"status"`
	Decision   string            `json:"decision"`
	Error      string            `json:"error"`
	Detections []audit.Detection `json:"detections"`
	TotalMS    float64           `json:"total_ms"`
	Approval   string            `json:"approval"`
	Event      string            `json:"event"`
	Token      string            `json:"token"`
	Rule       string            `json:"rule"`
	Direction  string            `json:"direction"`
	By         string            `json:"by"`
	Once       bool              `json:"once"`
	Until      time.Time         `json:"until"`
	Pruned     uint64            `json:"pruned_through"`
	TornBytes  int               `json:"torn_bytes"`
}

func (f tailFilter) match(e *tailEntry) bool {
	if f.typ != "" && e.Type != f.typ || f.principal != "" && e.Principal != f.principal || f.host != "" && e.Host != f.host {
		return false
	}
	if f.rule == "" {
		return true
	}
	if e.Type == audit.TypeDecision {
		return e.Rule == f.rule
	}
	for _, d := range e.Detections {
		if d.Rule == f.rule {
			return true
		}
	}
	return false
}

// tailer prints the records of a log that match a filter.
type tailer struct {
	filter tailFilter
	json   bool
	out    io.Writer
	errOut io.Writer
	name   string
	line   int
	// The chain and seq of the last line read: a line at or before it is not
	// printed again (rotation can show a line twice).
	lastChain string
	lastSeq   uint64
}

// render returns what tail prints for one line, or ok false when the filter
// drops it.
func (t *tailer) render(line []byte) (string, bool) {
	t.line++
	var e tailEntry
	if err := json.Unmarshal(line, &e); err != nil {
		fmt.Fprintf(t.errOut, "cloakroom audit tail: %s:%d does not parse as JSON\n", t.name, t.line)
		return "", false
	}
	if e.Seq > 0 {
		if e.Chain == t.lastChain && e.Seq <= t.lastSeq {
			return "", false
		}
		t.lastChain, t.lastSeq = e.Chain, e.Seq
	}
	if !t.filter.match(&e) {
		return "", false
	}
	if t.json {
		return string(line), true
	}
	return formatEntry(&e), true
}

// formatEntry is one record as a person reads it: local time, type, principal,
// host, method and path, then status and decision with the rules (requests) or
// event and token (decisions), then the time it took.
func formatEntry(e *tailEntry) string {
	cols := []string{e.Time.Local().Format("2006-01-02 15:04:05"), fmt.Sprintf("%-8s", clean(e.Type))}
	switch e.Type {
	case audit.TypeRequest:
		outcome := strconv.Itoa(e.Status) + " " + clean(e.Decision)
		if e.Error != "" {
			outcome += " (" + clean(e.Error) + ")"
		}
		rules := ruleList(e.Detections)
		cols = append(cols, orDash(e.Principal), orDash(e.Host), clean(e.Method)+" "+clean(e.Path), outcome, rules)
		if e.Approval != "" {
			cols = append(cols, "approval "+clean(e.Approval))
		}
		cols = append(cols, strconv.FormatFloat(e.TotalMS, 'f', 0, 64)+"ms")
	case audit.TypeDecision:
		cols = append(cols, orDash(e.Principal), orDash(e.Host), strings.TrimSpace(clean(e.Method)+" "+clean(e.Path)), clean(e.Event), orDash(e.Token))
		var more []string
		for _, kv := range [][2]string{{"rule", e.Rule}, {"direction", e.Direction}, {"approval", e.Approval}, {"by", e.By}} {
			if kv[1] != "" {
				more = append(more, kv[0]+" "+clean(kv[1]))
			}
		}
		if e.Once {
			more = append(more, "once")
		}
		if !e.Until.IsZero() {
			more = append(more, "until "+e.Until.Local().Format("2006-01-02 15:04:05"))
		}
		cols = append(cols, strings.Join(more, ", "))
	case audit.TypeChain:
		what := clean(e.Event)
		switch {
		case e.Pruned > 0:
			what += fmt.Sprintf(" (retention deleted the records up to seq %d)", e.Pruned)
		case e.TornBytes > 0:
			what += fmt.Sprintf(" (the %d-byte line before was cut short and is not part of the chain)", e.TornBytes)
		}
		cols = append(cols, what)
	default:
		cols = append(cols, orDash(e.Principal), orDash(e.Host), clean(e.Event))
	}
	return strings.TrimRight(strings.Join(cols, "  "), " ")
}

// ruleList is the rules of a request's detections, with a count when one fired
// more than once, or "-".
func ruleList(ds []audit.Detection) string {
	if len(ds) == 0 {
		return "-"
	}
	var order []string
	n := map[string]int{}
	for _, d := range ds {
		if n[d.Rule] == 0 {
			order = append(order, d.Rule)
		}
		n[d.Rule]++
	}
	for i, r := range order {
		order[i] = clean(r)
		if n[r] > 1 {
			order[i] += "×" + strconv.Itoa(n[r])
		}
	}
	return strings.Join(order, ",")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return clean(s)
}

// clean keeps a field from driving the terminal: control and format characters
// (escape sequences, bidirectional overrides) become '?'.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return '?'
		}
		return r
	}, s)
}

func auditTail(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("audit tail", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, auditUsage) }
	dataDir := fs.String("data-dir", defaultDataDir(), "the proxy's data directory")
	follow := fs.Bool("f", false, "follow: print records as they are written, across rotation")
	n := fs.Int("n", 10, "print the last N matching records first")
	var f tailFilter
	fs.StringVar(&f.principal, "principal", "", "only records of this principal")
	fs.StringVar(&f.host, "host", "", "only records of this host")
	fs.StringVar(&f.rule, "rule", "", "only requests with a detection of this rule, and decisions about it")
	fs.StringVar(&f.typ, "type", "", "only records of this type: request, decision or chain")
	asJSON := fs.Bool("json", false, "print the lines as they are")
	pos, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return 2
	}
	if len(pos) > 1 || *n < 0 {
		fmt.Fprint(stderr, auditUsage)
		return 2
	}
	path := filepath.Join(expandHome(*dataDir), auditFile)
	if len(pos) == 1 {
		path = pos[0]
	}
	t := &tailer{filter: f, json: *asJSON, out: stdout, errOut: stderr, name: path}
	fail := func(err error) int {
		fmt.Fprintln(stderr, "cloakroom audit tail:", err)
		return 2
	}
	if path == "-" {
		if *follow {
			return fail(errors.New("-f needs a file"))
		}
		t.name = "stdin"
		if _, err := t.last(stdin, *n); err != nil {
			return fail(err)
		}
		return 0
	}
	file, err := os.Open(path)
	if err != nil {
		return fail(err)
	}
	partial, err := t.last(file, *n)
	if err != nil || !*follow {
		_ = file.Close()
		if err != nil {
			return fail(err)
		}
		return 0
	}
	if err := t.follow(ctx, path, file, partial); err != nil {
		return fail(err)
	}
	return 0
}

// last prints the last n matching records of r and returns the bytes of an
// unfinished last line.
func (t *tailer) last(r io.Reader, n int) ([]byte, error) {
	ring := make([]string, 0, n)
	next := 0
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := br.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			for i := range len(ring) {
				fmt.Fprintln(t.out, ring[(next+i)%len(ring)])
			}
			return line, nil
		}
		if err != nil {
			return nil, err
		}
		s, ok := t.render(line[:len(line)-1])
		if !ok || n == 0 {
			continue
		}
		if len(ring) < n {
			ring = append(ring, s)
		} else {
			ring[next] = s
			next = (next + 1) % n
		}
	}
}

// all prints every matching record of r.
func (t *tailer) all(r io.Reader) error {
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			if s, ok := t.render(bytes.TrimSuffix(line, []byte("\n"))); ok {
				fmt.Fprintln(t.out, s)
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// follow prints the lines appended to path from file's position on, until ctx
// ends. When path is renamed away (rotation) it finishes the old file and goes on
// with the new one; when the file shrinks (truncation) it starts over.
func (t *tailer) follow(ctx context.Context, path string, file *os.File, partial []byte) error {
	defer func() { _ = file.Close() }()
	buf := partial
	chunk := make([]byte, 64<<10)
	drain := func() error { // print the complete lines there are
		for {
			n, err := file.Read(chunk)
			buf = append(buf, chunk[:n]...)
			for {
				i := bytes.IndexByte(buf, '\n')
				if i < 0 {
					break
				}
				if s, ok := t.render(buf[:i]); ok {
					fmt.Fprintln(t.out, s)
				}
				buf = buf[i+1:]
			}
			if errors.Is(err, io.EOF) || err == nil && n == 0 {
				return nil
			}
			if err != nil {
				return err
			}
		}
	}
	for {
		if err := drain(); err != nil {
			return err
		}
		cur, err1 := file.Stat()
		now, err2 := os.Stat(path)
		if err1 == nil && err2 == nil && !os.SameFile(cur, now) {
			// Rotated: finish the old file (the writer may have added to it
			// since the last read), read the files rotated since, then go on
			// with the new one.
			if nf, err := os.Open(path); err == nil {
				if err := drain(); err != nil {
					_ = nf.Close()
					return err
				}
				_ = file.Close()
				for range 3 { // until the new file continues what was read
					if err := t.catchUp(path, cur); err != nil {
						_ = nf.Close()
						return err
					}
					if h := firstHeader(nf); h.Seq == 0 || h.Chain != t.lastChain || h.Seq <= t.lastSeq+1 {
						break
					}
				}
				file, buf, t.line = nf, nil, 0
				continue
			}
		} else if err1 == nil {
			if off, err := file.Seek(0, io.SeekCurrent); err == nil && cur.Size() < off {
				_, _ = file.Seek(0, io.SeekStart) // truncated
				buf, t.line = nil, 0
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(tailPoll):
		}
	}
}

// catchUp prints the rotated files of path that are newer than old (the file
// followed until now): several rotations may happen between two looks. Files are
// opened as they are listed, so later renames do not matter; a listing taken in
// the middle of a rotation may miss a file, which the chain's seqs show, and then
// the listing is taken again.
func (t *tailer) catchUp(path string, old os.FileInfo) error {
	defer func() { t.name = path }()
	for range 10 {
		newer, err := t.newerFiles(path, old)
		if err != nil {
			return err
		}
		gap := false
		for i := len(newer) - 1; i >= 0; i-- { // oldest first
			f := newer[i]
			if !gap {
				if first := firstHeader(f); first.Seq > 0 && first.Chain == t.lastChain && first.Seq > t.lastSeq+1 {
					gap = true // a file in between was not listed
				} else {
					t.name, t.line = f.Name(), 0
					err = t.all(f)
				}
			}
			_ = f.Close()
			if err != nil {
				return err
			}
		}
		if !gap {
			return nil
		}
	}
	return nil
}

// newerFiles opens the rotated files of path newer than old, newest first.
func (t *tailer) newerFiles(path string, old os.FileInfo) ([]*os.File, error) {
	names, err := audit.Files(path)
	if err != nil {
		return nil, err
	}
	var out []*os.File
	for i := len(names) - 1; i >= 0; i-- {
		if names[i] == path {
			continue
		}
		f, err := os.Open(names[i])
		if err != nil {
			continue // rotated away meanwhile
		}
		fi, err := f.Stat()
		if h := firstHeader(f); err != nil || os.SameFile(fi, old) || h.Seq > 0 && h.Chain == t.lastChain && h.Seq <= t.lastSeq {
			_ = f.Close()
			break
		}
		out = append(out, f)
	}
	return out, nil
}

// firstHeader reads the chain fields of the first line of f, and rewinds it.
func firstHeader(f *os.File) (h struct {
	Seq   uint64 `json:"seq"`
	Chain string `json:"chain"`
}) {
	line, _ := bufio.NewReader(f).ReadBytes('\n')
	_ = json.Unmarshal(line, &h)
	_, _ = f.Seek(0, io.SeekStart)
	return h
}
