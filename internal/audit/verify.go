package audit

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// What is wrong with a broken record, in Problem.Kind.
const (
	// KindEdited: a line was changed after it was written (its hash no longer
	// matches the next line's prev, or it no longer parses).
	KindEdited = "edited"
	// KindDeleted: lines of the chain are missing.
	KindDeleted = "deleted"
	// KindInserted: a line that the writer did not write at that place (no chain
	// fields, a seq already used, another chain's line).
	KindInserted = "inserted"
	// KindReordered: the chain's lines are all there but out of order.
	KindReordered = "reordered"
	// KindTruncated: the trail ends in the middle of a line.
	KindTruncated = "truncated"
)

// Position names a line: a file and line number, or a stream entry.
type Position struct {
	Source string // the file, or the stream's key
	Line   int    // the line number in a file, from 1; 0 in a stream
	ID     string // the entry id in a stream
}

// String returns "file:line", or "key entry id" for a stream entry.
func (p Position) String() string {
	if p.ID != "" {
		return p.Source + " entry " + p.ID
	}
	return p.Source + ":" + strconv.Itoa(p.Line)
}

// Problem is the first broken record a verification found.
type Problem struct {
	Pos    Position
	Seq    uint64 // the record's seq; 0 when it has none
	Chain  string // its chain, when known
	Kind   string // KindEdited, KindDeleted, KindInserted, KindReordered or KindTruncated
	Detail string // what the chain shows, in words
}

// Error describes the problem: where, the seq, what kind, and the detail.
func (p *Problem) Error() string {
	seq := ""
	if p.Seq > 0 {
		seq = " (seq " + strconv.FormatUint(p.Seq, 10) + ")"
	}
	return fmt.Sprintf("%s%s: %s: %s", p.Pos, seq, p.Kind, p.Detail)
}

// ChainSummary describes one chain a verification read.
type ChainSummary struct {
	ID          string
	First, Last uint64 // the seqs of its first and last lines read
	Records     int
	Head        string // the hash of its last line read
	LastPos     Position
}

// Report is what a verification found.
type Report struct {
	Records int            // chain lines checked
	Chains  []ChainSummary // in order of first appearance
	Notes   []string       // what is fine but worth knowing (rotation, torn lines, trimmed history)
	Problem *Problem       // the first broken record; nil when every chain is intact
}

// VerifyFiles checks the lines of files, read in the order given (see Files and
// SortFiles), as one trail. A trail that does not begin at seq 1 must begin where
// a rotation's retention stopped deleting (as its rotated event records), unless
// partial says the files may begin in the middle of a chain (a rotated file
// checked alone). Read errors are returned; what the lines show is in the Report.
func VerifyFiles(paths []string, partial bool) (*Report, error) {
	v := newVerifier(false, partial)
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		err = v.read(f, p)
		_ = f.Close()
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", p, err)
		}
	}
	return v.finish(), nil
}

// VerifyReader checks the lines read from r, named name in positions, as one trail
// (see VerifyFiles).
func VerifyReader(r io.Reader, name string, partial bool) (*Report, error) {
	v := newVerifier(false, partial)
	if err := v.read(r, name); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return v.finish(), nil
}

// VerifyStream checks the Redis stream at key, whose entries hold lines of any
// number of chains (one per replica): each chain must be intact from its oldest
// entry still in the stream (MAXLEN trims the rest) to its newest.
func VerifyStream(ctx context.Context, client redis.UniversalClient, key string) (*Report, error) {
	v := newVerifier(true, true)
	start := "-"
	for {
		msgs, err := client.XRangeN(ctx, key, start, "+", 1000).Result()
		if err != nil {
			return nil, fmt.Errorf("read stream %s: %w", key, err)
		}
		for _, m := range msgs {
			pos := Position{Source: key, ID: m.ID}
			s, ok := m.Values[StreamField].(string)
			if !ok {
				v.add(nil, pos, false, true)
				continue
			}
			v.add([]byte(s), pos, false, false)
		}
		if len(msgs) < 1000 {
			break
		}
		start = "(" + msgs[len(msgs)-1].ID
	}
	return v.finish(), nil
}

// seen is one recent line of a chain, to recognise copies.
type seen struct {
	seq  uint64
	hash string
	pos  Position
}

const recentLines = 64

type chainState struct {
	ChainSummary
	recent [recentLines]seen
	prunes map[uint64]string // pruned_through -> pruned_hash, from rotated events
}

func (c *chainState) accept(h header, hash string, pos Position) {
	c.Last, c.Head, c.LastPos = h.Seq, hash, pos
	c.Records++
	c.recent[h.Seq%recentLines] = seen{h.Seq, hash, pos}
	c.notePrune(h)
}

func (c *chainState) notePrune(h header) {
	if h.Type == TypeChain && h.Event == EventRotated && h.PrunedThrough > 0 {
		if c.prunes == nil {
			c.prunes = map[uint64]string{}
		}
		c.prunes[h.PrunedThrough] = h.PrunedHash
	}
}

// pending is a line read but not yet checked: checking a line looks at the next.
type pending struct {
	line         []byte
	pos          Position
	unterminated bool
	noField      bool // a stream entry without the line field
	h            header
	parseErr     error
	chained      bool // h has valid chain fields
}

// gap is a run of missing seqs whose fate (deleted, or moved later) is not known yet.
type gap struct {
	chain  string
	lo, hi uint64
	before Position // the line before the gap
}

// moved is a line that is out of place: added, unless its predecessor (the line
// whose hash is its prev) comes later.
type moved struct {
	chain string
	seq   uint64
	prev  string
}

// anchor is where a trail of files begins when it does not begin at seq 1.
type anchor struct {
	chain string
	seq   uint64
	prev  string
	pos   Position
}

type verifier struct {
	stream, partial bool
	chains          map[string]*chainState
	order           []*chainState
	cur             *chainState // files: the chain being read
	next            *pending
	ackedTorn       bool // the line before was a torn line, skipped
	lines           int  // lines checked, chained or not
	legacy          int
	records         int
	notes           []string
	problem         *Problem
	gap             *gap
	moved           *moved
	anchor          *anchor
}

func newVerifier(stream, partial bool) *verifier {
	return &verifier{stream: stream, partial: partial, chains: map[string]*chainState{}}
}

// read feeds the lines of r to the verifier.
func (v *verifier) read(r io.Reader, name string) error {
	br := bufio.NewReaderSize(r, 64<<10)
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			term := line[len(line)-1] == '\n'
			if term {
				line = line[:len(line)-1]
			}
			v.add(line, Position{Source: name, Line: n}, !term, false)
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// add queues a line and checks the one before it.
func (v *verifier) add(line []byte, pos Position, unterminated, noField bool) {
	p := &pending{line: line, pos: pos, unterminated: unterminated, noField: noField}
	if !noField {
		p.parseErr = json.Unmarshal(line, &p.h)
		p.chained = p.parseErr == nil && p.h.Seq > 0 && p.h.Chain != "" && isHash(p.h.Prev)
	}
	if v.next != nil {
		v.check(v.next, p)
	}
	v.next = p
}

func (v *verifier) fail(pos Position, seq uint64, chain, kind, detail string) {
	if v.problem == nil {
		v.problem = &Problem{Pos: pos, Seq: seq, Chain: chain, Kind: kind, Detail: detail}
	}
}

func (v *verifier) note(format string, args ...any) {
	v.notes = append(v.notes, fmt.Sprintf(format, args...))
}

// check checks line l, with n the line after it (nil at the end).
func (v *verifier) check(l, n *pending) {
	v.lines++
	if v.problem != nil {
		v.afterProblem(l)
		return
	}
	if !v.stream && n != nil && n.chained && n.h.Type == TypeChain && n.h.Event == EventTorn && n.h.TornSHA256 == hashHex(l.line) {
		v.note("%s: a torn line (a crash or a failed write cut it short), taken out of the chain by the next record", l.pos)
		v.ackedTorn = true
		return
	}
	acked := v.ackedTorn
	v.ackedTorn = false
	switch {
	case l.noField:
		v.fail(l.pos, 0, "", KindInserted, "a stream entry without a "+StreamField+" field")
		return
	case len(l.line) == 0:
		v.fail(l.pos, 0, "", KindInserted, "an empty line")
		return
	case l.parseErr != nil && l.unterminated && n == nil:
		v.fail(l.pos, 0, "", KindTruncated, "the last line is incomplete: the file was cut, or the writer crashed mid-line (the next start of cloakroom marks it torn)")
		return
	case l.parseErr != nil:
		v.fail(l.pos, 0, "", KindEdited, "the line does not parse as JSON")
		return
	case !l.chained:
		if v.records == 0 && !v.stream {
			v.legacy++
			return
		}
		if v.cur != nil && (l.h.Chain == v.cur.ID || l.h.Seq == v.cur.Last+1) {
			v.fail(l.pos, l.h.Seq, l.h.Chain, KindEdited, "its chain fields (seq, chain, prev) were damaged")
			return
		}
		v.fail(l.pos, l.h.Seq, l.h.Chain, KindInserted, "a line without chain fields (seq, chain, prev): the audit writer did not write it")
		return
	}
	h := l.h
	if !v.stream && h.Type == TypeChain && h.Event == EventTorn && !acked && v.lines > 1 {
		v.fail(l.pos, h.Seq, h.Chain, KindDeleted, "this record takes a torn line with sha256 "+short(h.TornSHA256)+" out of the chain, but the line before it is not that line: it was deleted or edited")
		return
	}
	hash := hashHex(l.line)
	c := v.chains[h.Chain]
	if c != nil {
		c.notePrune(h) // even from a line that breaks the chain: the anchor needs it
	}
	if c == nil {
		v.begin(l, hash)
		return
	}
	if !v.stream && c != v.cur {
		v.fail(l.pos, h.Seq, h.Chain, KindInserted, fmt.Sprintf("a line of chain %s, which ended at %s, inside chain %s", h.Chain, c.LastPos, v.cur.ID))
		return
	}
	follows := n != nil && n.chained && n.h.Chain == h.Chain && n.h.Seq == c.Last+1 && n.h.Prev == c.Head
	switch {
	case h.Seq == c.Last+1 && h.Prev == c.Head:
		v.accept(c, h, hash, l.pos)
	case h.Seq <= c.Last:
		if s := c.recent[h.Seq%recentLines]; s.seq == h.Seq && s.hash == hash {
			if v.stream {
				v.note("%s: a second copy of seq %d of chain %s (%s), as a retried XADD leaves", l.pos, h.Seq, h.Chain, s.pos)
				return
			}
			v.fail(l.pos, h.Seq, h.Chain, KindInserted, fmt.Sprintf("a copy of seq %d (%s)", h.Seq, s.pos))
			return
		}
		v.fail(l.pos, h.Seq, h.Chain, KindInserted, fmt.Sprintf("seq %d was already used, and the chain is at seq %d (%s)", h.Seq, c.Last, c.LastPos))
	case follows:
		// Out of place: added, or moved here from later (then its predecessor
		// comes later: afterProblem looks).
		v.fail(l.pos, h.Seq, h.Chain, KindInserted, fmt.Sprintf("its prev %s is not the hash %s of seq %d (%s), and the next line links to seq %d correctly: this line was added", short(h.Prev), short(c.Head), c.Last, c.LastPos, c.Last))
		v.moved = &moved{chain: h.Chain, seq: h.Seq, prev: h.Prev}
	case h.Prev == c.Head:
		v.fail(l.pos, h.Seq, h.Chain, KindEdited, fmt.Sprintf("its prev links it to seq %d (%s), so its seq should be %d: its seq was changed", c.Last, c.LastPos, c.Last+1))
	case h.Seq == c.Last+1:
		v.fail(c.LastPos, c.Last, h.Chain, KindEdited, fmt.Sprintf("its hash is %s, but the next record (seq %d, %s) has prev %s: this line (or that prev) was changed after it was written", short(c.Head), h.Seq, l.pos, short(h.Prev)))
	default: // h.Seq > c.Last+1
		v.fail(l.pos, h.Seq, h.Chain, KindDeleted, fmt.Sprintf("seq %s missing between %s (seq %d) and this record", seqRange(c.Last+1, h.Seq-1), c.LastPos, c.Last))
		v.gap = &gap{chain: h.Chain, lo: c.Last + 1, hi: h.Seq - 1, before: c.LastPos}
	}
}

// begin starts a chain not seen before at line l.
func (v *verifier) begin(l *pending, hash string) {
	h := l.h
	start := h.Seq == 1 && h.Prev == ZeroHash
	switch {
	case v.stream:
		if !start {
			v.note("chain %s begins at seq %d in the stream (%s): older entries were trimmed", h.Chain, h.Seq, l.pos)
		}
	case v.cur != nil:
		if !start {
			v.fail(l.pos, h.Seq, h.Chain, KindInserted, fmt.Sprintf("a line of chain %s inside chain %s (at seq %d, %s), and not the start of a new chain", h.Chain, v.cur.ID, v.cur.Last, v.cur.LastPos))
			return
		}
		v.note("%s: a new chain %s begins (chain %s ended at seq %d, %s)", l.pos, h.Chain, v.cur.ID, v.cur.Last, v.cur.LastPos)
	case !start:
		v.anchor = &anchor{chain: h.Chain, seq: h.Seq, prev: h.Prev, pos: l.pos}
	}
	c := &chainState{ChainSummary: ChainSummary{ID: h.Chain, First: h.Seq}}
	v.chains[h.Chain] = c
	v.order = append(v.order, c)
	v.cur = c
	v.accept(c, h, hash, l.pos)
}

func (v *verifier) accept(c *chainState, h header, hash string, pos Position) {
	c.accept(h, hash, pos)
	v.records++
}

// afterProblem looks at the lines after the first problem only to tell a deletion
// from a move, and to collect rotation events for the anchor.
func (v *verifier) afterProblem(l *pending) {
	if !l.chained {
		return
	}
	if c := v.chains[l.h.Chain]; c != nil {
		c.notePrune(l.h)
	}
	if g := v.gap; g != nil && l.h.Chain == g.chain && l.h.Seq >= g.lo && l.h.Seq <= g.hi {
		p := v.problem
		p.Kind = KindReordered
		p.Detail = fmt.Sprintf("seq %d should follow seq %d (%s) but is at %s, after this record: lines were moved", l.h.Seq, g.lo-1, g.before, l.pos)
		v.gap = nil
	}
	if m := v.moved; m != nil && l.h.Chain == m.chain && hashHex(l.line) == m.prev {
		p := v.problem
		p.Kind = KindReordered
		p.Detail = fmt.Sprintf("seq %d belongs after seq %d, which is at %s, later: lines were moved", m.seq, l.h.Seq, l.pos)
		v.moved = nil
	}
}

// finish checks the last line and the anchor, and returns the report.
func (v *verifier) finish() *Report {
	if v.next != nil {
		v.check(v.next, nil)
		v.next = nil
	}
	v.checkAnchor()
	if v.legacy > 0 {
		v.note("%d lines before the chain began have no chain fields (written before the hash chain): the chain does not cover them", v.legacy)
	}
	r := &Report{Records: v.records, Notes: v.notes, Problem: v.problem}
	for _, c := range v.order {
		r.Chains = append(r.Chains, c.ChainSummary)
	}
	return r
}

// checkAnchor decides whether a trail of files that does not begin at seq 1 begins
// where rotation's retention stopped deleting.
func (v *verifier) checkAnchor() {
	a := v.anchor
	if a == nil {
		return
	}
	c := v.chains[a.chain]
	if hash, ok := c.prunes[a.seq-1]; ok {
		if hash == a.prev {
			v.note("records up to seq %d of chain %s were deleted by retention at a rotation, as the chain records", a.seq-1, a.chain)
			return
		}
		v.problem = &Problem{Pos: a.pos, Seq: a.seq, Chain: a.chain, Kind: KindEdited,
			Detail: fmt.Sprintf("its prev %s is not the hash %s of the last line retention deleted", short(a.prev), short(hash))}
		return
	}
	if v.partial {
		v.note("%s begins in the middle of chain %s, at seq %d: the records before it are not in the lines given", a.pos, a.chain, a.seq)
		return
	}
	// An earlier position than any other problem: it replaces it.
	v.problem = &Problem{Pos: a.pos, Seq: a.seq, Chain: a.chain, Kind: KindDeleted,
		Detail: fmt.Sprintf("the trail begins at seq %d, but no rotation deleted the records before it", a.seq)}
}

func seqRange(lo, hi uint64) string {
	if lo == hi {
		return strconv.FormatUint(lo, 10)
	}
	return strconv.FormatUint(lo, 10) + "-" + strconv.FormatUint(hi, 10)
}

// short abbreviates a hash for messages.
func short(h string) string {
	if len(h) > 16 {
		return h[:16] + "…"
	}
	return h
}
