package walk

import (
	"bytes"
	"strconv"
)

// marker starts every token (tokenize.Prefix). Restore looks only at literals that
// hold it.
const marker = "cloak_"

// rec records one string value that a callback may see.
type rec struct {
	start, end int // content between the quotes, in walker.b
	pathOff    int // path in walker.arena
	pathLen    int
	keyLen     int // the key is the path's last keyLen bytes
	esc        bool
	drop       bool
}

// seg is one step of the current path: a member name or an array index.
type seg struct {
	key   []byte // nil for an array element
	idx   int
	isKey bool
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
	mute  int   // > 0 inside a skipped value
	segs  []seg // current path
	recs  []rec
	data  []int  // recs of "data" members of the open objects
	arena []byte // paths of recs
	paths string // arena as a string, once parsed
	tmp   []byte // decoded "type" values and keys

	buf   []byte        // decoded string values
	reps  []Replacement // redact output
	out   []byte        // restore output of a nested walker
	child *walker
}

// reset prepares w to walk b.
func (w *walker) reset(b []byte, prefix []byte, level int, restore bool) {
	w.b, w.level, w.restore = b, level, restore
	w.prefix = append(w.prefix[:0], prefix...)
	w.depth, w.mute = 0, 0
	w.segs, w.recs, w.data, w.arena = w.segs[:0], w.recs[:0], w.data[:0], w.arena[:0]
	w.paths = ""
}

// parse validates w.b and records its string values.
func (w *walker) parse() error {
	b := w.b
	i, err := w.value(skipWS(b, 0), memberInfo{})
	if err != nil {
		return err
	}
	if i = skipWS(b, i); i != len(b) {
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
		if w.mute == 0 {
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
	if m.kind&kindDataURL != 0 {
		r := dataURLRules[m.url]
		if bytes.HasPrefix(raw, []byte(r.Prefix)) && bytes.Contains(raw, []byte(r.Needs)) {
			return
		}
	}
	if w.restore && !bytes.Contains(raw, []byte(marker)) {
		return
	}
	off := len(w.arena)
	w.arena = append(w.arena, w.prefix...)
	keyLen := 0
	for k := range w.segs {
		s := &w.segs[k]
		if !s.isKey {
			w.arena = append(w.arena, '[')
			w.arena = strconv.AppendInt(w.arena, int64(s.idx), 10)
			w.arena = append(w.arena, ']')
			keyLen = 0
			continue
		}
		if len(w.arena) > off {
			w.arena = append(w.arena, '.')
		}
		w.arena = append(w.arena, s.key...)
		keyLen = len(s.key)
	}
	w.recs = append(w.recs, rec{start: start, end: end, pathOff: off, pathLen: len(w.arena) - off, keyLen: keyLen, esc: esc})
}

// objState is what an object's members have said about it so far.
type objState struct {
	opaque    bool // its "type" is in skipObjectTypes
	media     bool // it has a media type member
	otherType bool // it has a "type" other than "base64"
}

// object parses the object at b[i], held by a member of the given kind.
func (w *walker) object(i int, holder uint8) (int, error) {
	if w.depth++; w.depth > MaxDepth {
		return i, tooDeep(i)
	}
	b := w.b
	recStart, arenaStart, dataStart := len(w.recs), len(w.arena), len(w.data)
	var st objState
	if i = skipWS(b, i+1); i < len(b) && b[i] == '}' {
		w.depth--
		return i + 1, nil
	}
	w.segs = append(w.segs, seg{isKey: true})
	top := len(w.segs) - 1
	for {
		if i >= len(b) || b[i] != '"' {
			return i, syntaxError(i)
		}
		end, esc, err := scanString(b, i+1)
		if err != nil {
			return end, err
		}
		key := b[i+1 : end]
		if esc {
			key = unescape(nil, key) // rare; the path keeps it
		}
		if i = skipWS(b, end+1); i >= len(b) || b[i] != ':' {
			return i, syntaxError(i)
		}
		w.segs[top].key = key
		if i, err = w.member(skipWS(b, i+1), lookupMember(key), holder, &st); err != nil {
			return i, err
		}
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
	w.segs = w.segs[:top]
	switch {
	case st.opaque:
		w.mute--
		w.recs, w.arena = w.recs[:recStart], w.arena[:arenaStart]
	case st.media && !st.otherType:
		for _, n := range w.data[dataStart:] {
			w.recs[n].drop = true
		}
	}
	w.data = w.data[:dataStart]
	w.depth--
	return i + 1, nil
}

// member parses the value at b[i] of a member with the rules m, in an object held by
// a member of kind holder, and updates st.
func (w *walker) member(i int, m memberInfo, holder uint8, st *objState) (int, error) {
	b := w.b
	isStr := i < len(b) && b[i] == '"'
	var err error
	switch {
	case m.kind&kindSkip != 0, m.kind&kindData != 0 && holder&kindB64Holder != 0:
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
		switch {
		case skipType(t):
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
	default:
		st.media = st.media || m.kind&kindMedia != 0
		st.otherType = st.otherType || m.kind&kindType != 0 // a "type" that is not a string
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
	w.segs = append(w.segs, seg{})
	top := len(w.segs) - 1
	for n := 0; ; n++ {
		w.segs[top].idx = n
		var err error
		if i, err = w.value(i, memberInfo{}); err != nil {
			return i, err
		}
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
