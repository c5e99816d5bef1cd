package walk

import (
	"bytes"
	"strconv"
)

// marker starts every token (tokenize.Prefix). Restore looks only at literals that
// hold it.
const marker = "cloak_"

// rec records one string value or member name that a callback may see.
type rec struct {
	start, end int // content between the quotes, in walker.b
	pathOff    int // path in walker.arena
	// aux is, for a name, the index of the first rec after its member's value; for
	// a value with mtLen > 0, where its media type starts in walker.arena.
	aux     int
	pathLen int
	keyLen  int   // the key is the path's last keyLen bytes
	mtLen   uint8 // at most maxMediaType
	esc     bool
	drop    bool
	name    bool // a member name; its path is its object's
}

// seg is one step of the current path: a member name or an array index.
type seg struct {
	key   []byte // nil for an array element
	idx   int
	isKey bool
	// pOff and pLen locate in walker.arena the path up to and including this step,
	// once built; pLen < 0 until then.
	pOff, pLen int
	// An object's step also keeps the kind of the member holding the object, what
	// its members have said so far, and where its current member's name is in
	// walker.b (a Checkpoint keeps them).
	holder           uint8
	keyEsc           bool
	keyStart, keyEnd int
	name             int // the rec of the current member's name, or -1
	st               objState
}

// walker holds the state of one walk over one document. The first pass (parse)
// validates the document and records its string values; the second (redact or
// restore) calls the callback.
type walker struct {
	b       []byte
	prefix  []byte // path prefix of a nested document: outer path + "#"
	level   int    // nesting level: 0 for the body
	restore bool   // record only literals holding marker

	depth int
	mute  int    // > 0 inside a skipped value
	segs  []seg  // current path
	root  [2]int // where the path of the root (w.prefix) is in arena; root[1] < 0 until built
	recs  []rec
	data  []int  // recs of "data" members of the open objects
	arena []byte // paths and media types of recs
	paths string // arena as a string, once parsed
	tmp   []byte // decoded "type" values, media types and keys

	renames []rename // redact: the member names replaced around the current rec

	buf   []byte        // decoded string values
	reps  []Replacement // redact output
	out   []byte        // restore output of a nested walker
	child *walker
	skip  SkipFunc // redact: strings to leave undecoded and unvisited

	// Checkpoints (redact, level 0): taken at least gap bytes apart (0: none), the
	// last at lastMark; before are the replacements of a resumed walk's prefix.
	gap      int
	lastMark int
	cps      []taken
	before   []Replacement
	onCP     func(Checkpoint, []Replacement)
}

// reset prepares w to walk b.
func (w *walker) reset(b []byte, prefix []byte, level int, restore bool) {
	w.b, w.level, w.restore = b, level, restore
	w.prefix = append(w.prefix[:0], prefix...)
	w.depth, w.mute = 0, 0
	w.segs, w.recs, w.data, w.arena = w.segs[:0], w.recs[:0], w.data[:0], w.arena[:0]
	w.root = [2]int{0, -1}
	w.paths = ""
	w.gap, w.lastMark, w.cps, w.before, w.onCP = 0, 0, w.cps[:0], nil, nil
}

// parse validates w.b and records its string values.
func (w *walker) parse() error {
	b := w.b
	i, err := w.value(skipWS(b, 0), memberInfo{})
	return w.parsed(i, err)
}

// parsed ends a parse whose top value ended at i (or failed with err): only
// whitespace may follow, and the recorded paths are fixed as a string.
func (w *walker) parsed(i int, err error) error {
	if err != nil {
		return err
	}
	if i = skipWS(w.b, i); i != len(w.b) {
		return syntaxError(i)
	}
	w.paths = string(w.arena)
	return nil
}

func skipWS(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\n', '\r', '\t':
			i++
		default:
			return i
		}
	}
	return i
}

// value parses the value at b[i], held by a member with the rules m.
func (w *walker) value(i int, m memberInfo) (int, error) {
	b := w.b
	if i >= len(b) {
		return i, syntaxError(i)
	}
	switch b[i] {
	case '"':
		end, esc, err := scanString(b, i+1)
		if err != nil {
			return end, err
		}
		if w.mute == 0 && (m.kind&kindEnum == 0 || esc || !apiWord(b[i+1:end])) {
			w.record(i+1, end, esc, m)
		}
		return end + 1, nil
	case '{':
		return w.object(i, m.kind)
	case '[':
		return w.array(i)
	case 't':
		return literal(b, i, "true")
	case 'f':
		return literal(b, i, "false")
	case 'n':
		return literal(b, i, "null")
	default:
		return number(b, i)
	}
}

// record records the string value b[start:end] unless a rule skips it.
func (w *walker) record(start, end int, esc bool, m memberInfo) {
	raw := w.b[start:end]
	var mt []byte
	if m.kind&kindDataURL != 0 {
		var ok bool
		if mt, ok = w.dataURLMedia(raw, esc); ok && binaryMedia(string(mt)) {
			return
		}
	}
	if w.restore && !bytes.Contains(raw, []byte(marker)) {
		return
	}
	mtOff := len(w.arena)
	w.arena = append(w.arena, mt...)
	off, n, keyLen := w.appendPath(w.segs)
	w.recs = append(w.recs, rec{start: start, end: end, pathOff: off, aux: mtOff, pathLen: n, keyLen: keyLen, mtLen: uint8(len(mt)), esc: esc})
}

// recordName records the member name b[start:end] of the innermost open object and
// returns its index in w.recs, or -1.
func (w *walker) recordName(start, end int, esc bool) int {
	if w.restore && !bytes.Contains(w.b[start:end], []byte(marker)) {
		return -1
	}
	off, n, _ := w.appendPath(w.segs[:len(w.segs)-1])
	w.recs = append(w.recs, rec{start: start, end: end, pathOff: off, pathLen: n, esc: esc, name: true})
	return len(w.recs) - 1
}

// appendPath returns where the path of segs is in the arena, appending it if it was
// not built yet, and the length of its last member name (0 for an array element).
// A path starts with the longest built path of a prefix of segs.
func (w *walker) appendPath(segs []seg) (off, n, keyLen int) {
	if k := len(segs) - 1; k >= 0 && segs[k].isKey {
		keyLen = len(segs[k].key)
	}
	j := len(segs) - 1
	for j >= 0 && segs[j].pLen < 0 {
		j--
	}
	switch {
	case j == len(segs)-1 && j >= 0:
		return segs[j].pOff, segs[j].pLen, keyLen
	case j >= 0:
		off = len(w.arena)
		w.arena = append(w.arena, w.arena[segs[j].pOff:segs[j].pOff+segs[j].pLen]...)
	case w.root[1] >= 0:
		if len(segs) == 0 {
			return w.root[0], w.root[1], 0
		}
		off = len(w.arena)
		w.arena = append(w.arena, w.prefix...)
	default:
		off = len(w.arena)
		w.arena = append(w.arena, w.prefix...)
		w.root = [2]int{off, len(w.prefix)}
	}
	for k := j + 1; k < len(segs); k++ {
		s := &segs[k]
		if !s.isKey {
			w.arena = append(w.arena, '[')
			w.arena = strconv.AppendInt(w.arena, int64(s.idx), 10)
			w.arena = append(w.arena, ']')
		} else {
			if len(w.arena) > off {
				w.arena = append(w.arena, '.')
			}
			w.arena = append(w.arena, s.key...)
		}
		s.pOff, s.pLen = off, len(w.arena)-off
	}
	return off, len(w.arena) - off, keyLen
}

// truncateArena drops the arena from n on, and the built paths there.
func (w *walker) truncateArena(n int) {
	w.arena = w.arena[:n]
	for k := range w.segs {
		if s := &w.segs[k]; s.pLen >= 0 && s.pOff+s.pLen > n {
			s.pLen = -1
		}
	}
	if w.root[1] >= 0 && w.root[0]+w.root[1] > n {
		w.root[1] = -1
	}
}

// maxDataURLHeader bounds the header of a data URL (the bytes before its ',').
const maxDataURLHeader = 1024

// dataURLMedia returns the media type essence of the raw literal content raw if it
// is a data URL, in w.tmp: text/plain if the URL names none.
func (w *walker) dataURLMedia(raw []byte, esc bool) ([]byte, bool) {
	i := bytes.IndexByte(raw, ',') // never inside an escape sequence
	if i < 0 || i > maxDataURLHeader {
		return nil, false
	}
	h := raw[:i]
	if esc {
		w.tmp = unescape(w.tmp[:0], h)
		h = w.tmp
	}
	t, ok := dataURLType(h)
	if !ok {
		return nil, false
	}
	if j := bytes.IndexByte(t, ';'); j >= 0 {
		t = t[:j]
	}
	if t = bytes.TrimSpace(t); len(t) == 0 {
		t = []byte("text/plain")
	}
	if len(t) > maxMediaType {
		return nil, false
	}
	return appendEssence(w.tmp[len(w.tmp):], t), true
}

// objState is what an object's members have said about it so far.
type objState struct {
	opaque    bool // its "type" makes it opaque (skipType)
	media     bool // it has a media type member
	text      bool // a media type member that is not a binary type
	otherType bool // it has a "type" other than "base64"
	mtOff     int  // the essence of its last string media type, in the arena
	mtLen     int
}

// object parses the object at b[i], held by a member of the given kind.
func (w *walker) object(i int, holder uint8) (int, error) {
	if w.depth++; w.depth > MaxDepth {
		return i, tooDeep(i)
	}
	b := w.b
	if i = skipWS(b, i+1); i < len(b) && b[i] == '}' {
		w.depth--
		return i + 1, nil
	}
	w.segs = append(w.segs, seg{isKey: true, pLen: -1, holder: holder})
	return w.members(i, len(w.segs)-1, marks{recs: len(w.recs), arena: len(w.arena), data: len(w.data), cps: len(w.cps)}, false)
}

// marks are the lengths of w.recs, w.arena, w.data and w.cps when an object opened.
// An object a resumed walk starts inside opened before it: resumed is set, the rest 0.
type marks struct {
	recs, arena, data, cps int
	resumed                bool
}

// members parses the members of the object of w.segs[top] from b[i], where its first
// member starts, or, if after is set, where a member's value ends; and the object's
// end.
func (w *walker) members(i, top int, at marks, after bool) (int, error) {
	b := w.b
	for {
		if !after {
			if i >= len(b) || b[i] != '"' {
				return i, syntaxError(i)
			}
			end, esc, err := scanString(b, i+1)
			if err != nil {
				return end, err
			}
			keyStart := i + 1
			key := b[keyStart:end]
			if esc {
				key = unescape(nil, key) // rare; the path keeps it
			}
			var m memberInfo
			if w.level == 0 {
				m = lookupMember(key) // skip rules apply to the body only
			}
			name := -1
			if w.mute == 0 && m.kind&kindAPIName == 0 {
				name = w.recordName(keyStart, end, esc)
			}
			if i = skipWS(b, end+1); i >= len(b) || b[i] != ':' {
				return i, syntaxError(i)
			}
			s := &w.segs[top]
			s.key, s.pLen, s.keyStart, s.keyEnd, s.keyEsc, s.name = key, -1, keyStart, end, esc, name
			if i, err = w.member(skipWS(b, i+1), m, top); err != nil {
				return i, err
			}
			if name >= 0 {
				w.recs[name].aux = len(w.recs)
			}
			if w.gap > 0 && top < MaxCheckpointDepth && i-w.lastMark >= w.gap {
				w.mark(i)
			}
		}
		after = false
		if i = skipWS(b, i); i >= len(b) {
			return i, syntaxError(i)
		}
		if b[i] == ',' {
			i = skipWS(b, i+1)
			continue
		}
		if b[i] != '}' {
			return i, syntaxError(i)
		}
		break
	}
	st := w.segs[top].st
	w.segs = w.segs[:top]
	switch {
	case st.opaque:
		if at.resumed {
			// Its strings before the checkpoint were redacted: they must not be.
			return i, errOpaqueResumed
		}
		w.mute--
		w.recs = w.recs[:at.recs]
		w.truncateArena(at.arena)
		w.cps = w.cps[:at.cps] // taken before its "type" said so
	case st.media && !st.otherType:
		for _, n := range w.data[at.data:] {
			if !st.text {
				w.recs[n].drop = true
				continue
			}
			w.recs[n].aux, w.recs[n].mtLen = st.mtOff, uint8(st.mtLen)
		}
	}
	w.data = w.data[:at.data]
	w.depth--
	return i + 1, nil
}

// member parses the value at b[i] of a member with the rules m, in the object of
// w.segs[top], and updates what the object's members have said. w.segs may grow
// while the value is parsed: the object's state is looked up again after.
func (w *walker) member(i int, m memberInfo, top int) (int, error) {
	b := w.b
	isStr := i < len(b) && b[i] == '"'
	var err error
	switch {
	case m.kind&kindSkip != 0, m.kind&kindData != 0 && w.segs[top].holder&kindB64Holder != 0:
		w.mute++
		i, err = w.value(i, m)
		w.mute--
	case m.kind&kindType != 0 && isStr:
		start := i + 1
		if i, err = w.value(i, m); err != nil {
			return i, err
		}
		t := b[start : i-1]
		if bytes.IndexByte(t, '\\') >= 0 {
			w.tmp = unescape(w.tmp[:0], t)
			t = w.tmp
		}
		st := &w.segs[top].st
		switch {
		case skipType(t, w.restore):
			if !st.opaque {
				st.opaque = true
				w.mute++ // until the object closes
			}
		case string(t) != base64Type:
			st.otherType = true
		}
	case m.kind&kindData != 0 && isStr:
		n := len(w.recs)
		i, err = w.value(i, m)
		if len(w.recs) > n {
			w.data = append(w.data, n) // dropped at close if the object is media
		}
	case m.kind&kindMedia != 0:
		w.segs[top].st.media = true // before the value: no checkpoint inside it
		start := i + 1
		i, err = w.value(i, m)
		st := &w.segs[top].st
		if err != nil || !isStr {
			st.text = true // not a string: unknown
			return i, err
		}
		t := b[start : i-1]
		if bytes.IndexByte(t, '\\') >= 0 {
			w.tmp = unescape(w.tmp[:0], t)
			t = w.tmp
		}
		st.mtOff = len(w.arena)
		w.arena = appendEssence(w.arena, t)
		st.mtLen = len(w.arena) - st.mtOff
		st.text = st.text || st.mtLen == 0 || !binaryMedia(string(w.arena[st.mtOff:]))
	default:
		if m.kind&kindType != 0 {
			w.segs[top].st.otherType = true // a "type" that is not a string
		}
		i, err = w.value(i, m)
	}
	return i, err
}

// array parses the array at b[i].
func (w *walker) array(i int) (int, error) {
	if w.depth++; w.depth > MaxDepth {
		return i, tooDeep(i)
	}
	b := w.b
	if i = skipWS(b, i+1); i < len(b) && b[i] == ']' {
		w.depth--
		return i + 1, nil
	}
	w.segs = append(w.segs, seg{pLen: -1})
	return w.elements(i, len(w.segs)-1, 0, false)
}

// elements parses the elements of the array of w.segs[top] from b[i], where its
// element n starts, or, if after is set, where element n ends; and the array's end.
func (w *walker) elements(i, top, n int, after bool) (int, error) {
	b := w.b
	for ; ; n++ {
		if !after {
			w.segs[top].idx, w.segs[top].pLen = n, -1
			var err error
			if i, err = w.value(i, memberInfo{}); err != nil {
				return i, err
			}
			if w.gap > 0 && top < MaxCheckpointDepth && i-w.lastMark >= w.gap {
				w.mark(i)
			}
		}
		after = false
		if i = skipWS(b, i); i >= len(b) {
			return i, syntaxError(i)
		}
		if b[i] == ',' {
			i = skipWS(b, i+1)
			continue
		}
		if b[i] != ']' {
			return i, syntaxError(i)
		}
		break
	}
	w.segs = w.segs[:top]
	w.depth--
	return i + 1, nil
}

// literal parses true, false or null at b[i].
func literal(b []byte, i int, lit string) (int, error) {
	if !bytes.HasPrefix(b[i:], []byte(lit)) {
		return i, syntaxError(i)
	}
	return i + len(lit), nil
}

// number parses the number at b[i].
func number(b []byte, i int) (int, error) {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		i = digits(b, i+1)
	default:
		return i, syntaxError(i)
	}
	if i < len(b) && b[i] == '.' {
		j := digits(b, i+1)
		if j == i+1 {
			return j, syntaxError(j)
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(b, i)
		if j == i {
			return j, syntaxError(j)
		}
		i = j
	}
	return i, nil
}

func digits(b []byte, i int) int {
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		i++
	}
	return i
}
