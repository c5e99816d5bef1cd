package proxy

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"unsafe"

	"github.com/cloakroom/cloakroom/detect"
	"github.com/cloakroom/cloakroom/proxy/walk"
)

// recordWalk walks body with checkpoints every gap bytes into a new entry.
func recordWalk(t *testing.T, c *resumeCache, body []byte, gap int) *resumeEntry {
	t.Helper()
	rec := c.newRecorder(body, &reqState{})
	fn := func(walk.Field, []byte, []byte) ([]walk.Replacement, error) { return nil, nil }
	out, err := walk.RedactResume(body, fn, walk.ResumeOptions{Gap: gap, OnCheckpoint: rec.add})
	if err != nil {
		t.Fatal(err)
	}
	if !rec.finish(out, true) {
		t.Fatal("no points")
	}
	e := rec.e
	return &e
}

func manyMessages(n int, last string) []byte {
	var b bytes.Buffer
	b.WriteString(`{"messages":[`)
	for i := range n {
		fmt.Fprintf(&b, `{"role":"user","content":"message %d %s"},`, i, bytes.Repeat([]byte("x"), 40))
	}
	b.WriteString(`{"role":"user","content":"` + last + `"}]}`)
	return b.Bytes()
}

// Past maxResumePoints every other point is dropped, and the points kept still match
// the body.
func TestResumeThinning(t *testing.T) {
	c := newResumeCache()
	body := manyMessages(3*maxResumePoints, "end")
	e := recordWalk(t, c, body, 1)
	if len(e.points) > maxResumePoints || len(e.points) < maxResumePoints/2 {
		t.Fatalf("got %d points, want between %d and %d", len(e.points), maxResumePoints/2, maxResumePoints)
	}
	det := &detect.Detector{}
	e.det = det
	c.store("k", e, nil, 0)
	other := manyMessages(3*maxResumePoints, "another end")
	diff := bytes.Index(other, []byte("another"))
	from, ok := c.match("k", det, 0, other)
	if !ok || e.points[from.i].cp.Offset > diff || (from.i+1 < len(e.points) && e.points[from.i+1].cp.Offset <= diff) {
		t.Fatalf("got point %d (ok %v), want the last before the first difference", from.i, ok)
	}
	if _, ok := c.match("k", det, 1, other); !ok {
		t.Error("an entry made with fewer known values did not match (walkJSON checks the values learned since)")
	}
	e.known = 2
	if _, ok := c.match("k", det, 1, other); ok {
		t.Error("matched an entry made with more known values")
	}
	e.known = 0
	if _, ok := c.match("k", &detect.Detector{}, 0, other); ok {
		t.Error("matched an entry made with another detector")
	}
	changed := bytes.Replace(other, []byte("message 7 "), []byte("message 7!"), 1)
	if from, ok := c.match("k", det, 0, changed); ok && from.e.points[from.i].cp.Offset > bytes.Index(other, []byte("message 7 ")) {
		t.Errorf("matched past a changed byte, up to %d", from.e.points[from.i].cp.Offset)
	}
}

// A principal keeps its few newest entries; the next turn of a session replaces its
// entry, another session's body adds one.
func TestResumeStore(t *testing.T) {
	c := newResumeCache()
	det := &detect.Detector{}
	entry := func(n int) *resumeEntry {
		e := recordWalk(t, c, manyMessages(n, "x"), 1)
		e.det = det
		return e
	}
	a := entry(20)
	c.store("k", a, nil, 0)
	b := entry(30)
	c.store("k", b, a, a.end()) // a's session went on
	if list, _ := c.lru.Get("k"); len(list) != 1 || list[0] != b {
		t.Fatalf("got %d entries, want the next turn's only", len(list))
	}
	for i := range resumePerPrincipal + 2 {
		c.store("k", entry(10+i), b, 10) // other sessions sharing a short prefix
	}
	list, _ := c.lru.Get("k")
	if len(list) != resumePerPrincipal {
		t.Fatalf("got %d entries, want %d", len(list), resumePerPrincipal)
	}
	learned := entry(5)
	learned.known = 1
	c.store("k", learned, nil, 0)
	if list, _ := c.lru.Get("k"); len(list) != 1 {
		t.Fatalf("got %d entries after a value was learned, want the new one only", len(list))
	}
}

// The entries of all principals count their bytes together, and the principals seen
// least recently go when the count passes the budget; evictions by number count too.
func TestResumeBudget(t *testing.T) {
	c := newResumeCache()
	det := &detect.Detector{}
	one := recordWalk(t, c, manyMessages(50, "x"), 1)
	c.budget = 3*one.bytes + one.bytes/2
	sum := func() int {
		n := 0
		for _, k := range c.lru.Keys() {
			list, _ := c.lru.Peek(k)
			for _, e := range list {
				n += e.bytes
			}
		}
		return n
	}
	for i := range resumePrincipals + 10 {
		e := recordWalk(t, c, manyMessages(50, "x"), 1)
		e.det = det
		c.store(fmt.Sprint("p", i), e, nil, 0)
		if c.bytes != sum() || c.bytes > c.budget {
			t.Fatalf("after %d stores: counted %d, entries hold %d, budget %d", i+1, c.bytes, sum(), c.budget)
		}
	}
	if n := c.lru.Len(); n != 3 {
		t.Fatalf("%d principals kept, want 3", n)
	}
	c.budget = maxResumeBytes
	for i := range resumePrincipals + 10 { // now evicted by number
		e := recordWalk(t, c, manyMessages(5, "x"), 1)
		c.store(fmt.Sprint("q", i), e, nil, 0)
	}
	if c.bytes != sum() {
		t.Fatalf("counted %d, entries hold %d", c.bytes, sum())
	}
}

// A changed secret (same length, same place) is told apart by its tag, and the
// bytes kept hold no secret.
func TestResumeSecretsNotKept(t *testing.T) {
	c := newResumeCache()
	secret := "sk-live-" + strings.Repeat("Q", 24)
	body := manyMessages(20, "my key "+secret+" ok")
	work := bytes.Clone(body) // the walk splices its output over it
	rec := c.newRecorder(work, &reqState{})
	at := bytes.Index(body, []byte(secret))
	fn := func(_ walk.Field, raw, _ []byte) ([]walk.Replacement, error) {
		if i := bytes.Index(raw, []byte(secret)); i >= 0 {
			return []walk.Replacement{{Start: i, End: i + len(secret), With: "cloak_secret_aaaa"}}, nil // shorter
		}
		return nil, nil
	}
	out, err := walk.RedactResume(work, fn, walk.ResumeOptions{Gap: 1, OnCheckpoint: rec.add, InPlace: true})
	if err != nil || !rec.finish(out, true) {
		t.Fatalf("walk: %v, or no points", err)
	}
	e := rec.e
	e.det = &detect.Detector{}
	// The entry keeps the buffer the output was spliced into, whose tail held the end
	// of the body (the token is shorter than the secret): none of it is left.
	arr := work[:cap(work)]
	if p := uintptr(unsafe.Pointer(unsafe.SliceData(e.out))); p < uintptr(unsafe.Pointer(&arr[0])) || p >= uintptr(unsafe.Pointer(&arr[len(arr)-1])) {
		t.Fatal("the entry copied the output: this test is about the buffer kept")
	}
	if bytes.Contains(arr, []byte("QQQQQQQQ")) {
		t.Fatal("the buffer an entry keeps holds the secret's bytes")
	}
	if len(e.reps) != 1 || e.reps[0].Start != at {
		t.Fatalf("got replacements %v, want one at %d", e.reps, at)
	}
	c.store("k", &e, nil, 0)
	full := len(e.points) - 1
	from, ok := c.match("k", e.det, 0, append(bytes.Clone(body), ' '))
	if !ok || from.i != full {
		t.Fatalf("the same body matched up to point %d (ok %v), want %d", from.i, ok, full)
	}
	other := bytes.Replace(body, []byte(secret), []byte("sk-live-"+strings.Repeat("R", 24)), 1)
	from, ok = c.match("k", e.det, 0, append(other, ' '))
	if ok && e.points[from.i].cp.Offset > at {
		t.Fatalf("matched past a changed secret, to %d", e.points[from.i].cp.Offset)
	}
}
