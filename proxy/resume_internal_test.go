package proxy

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/cloakroom/cloakroom/detect"
	"github.com/cloakroom/cloakroom/proxy/walk"
)

// recordWalk walks body with checkpoints every gap bytes into a new entry.
func recordWalk(t *testing.T, c *resumeCache, body []byte, gap int) *resumeEntry {
	t.Helper()
	rec := c.newRecorder(body, &reqState{})
	fn := func(walk.Field, []byte, []byte) ([]walk.Replacement, error) { return nil, nil }
	if _, err := walk.RedactResume(body, fn, walk.ResumeOptions{Gap: gap, OnCheckpoint: rec.add}); err != nil {
		t.Fatal(err)
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
// the body: the merged chunks' tags are taken again.
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
	if _, ok := c.match("k", det, 1, other); ok {
		t.Error("matched an entry made with another known-value count")
	}
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
