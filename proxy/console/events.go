package console

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// ssePing is how often an idle event stream sends a comment, so that a client gone
// away is noticed and proxies in between keep the stream open.
const ssePing = 20 * time.Second

// streams ends the event streams of a server when it shuts down: an open stream
// never goes idle, and http.Server.Shutdown waits for idle connections.
type streams struct {
	mu   sync.Mutex
	done map[*http.Server]chan struct{}
}

func newStreams() *streams { return &streams{done: make(map[*http.Server]chan struct{})} }

// closing returns a channel closed when the server serving r shuts down (nil when
// r does not say which server serves it).
func (s *streams) closing(r *http.Request) <-chan struct{} {
	srv, ok := r.Context().Value(http.ServerContextKey).(*http.Server)
	if !ok || srv == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.done[srv]
	if !ok {
		ch = make(chan struct{})
		s.done[srv] = ch
		srv.RegisterOnShutdown(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			close(ch)
		})
	}
	return ch
}

// events streams Server-Sent Events: "request" for each new request record and
// "decision" for each decision, with the id only. The page's script refetches
// what changed. The stream ends with the session.
func (h *Handler) events(w http.ResponseWriter, r *http.Request, _ *session) {
	ch, stop := h.cfg.Feed.Subscribe()
	defer stop()
	if ch == nil {
		h.errorPage(w, r, http.StatusServiceUnavailable, "Too many live pages are open.")
		return
	}
	rc := http.NewResponseController(w)
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if _, err := fmt.Fprint(w, "retry: 3000\n\n"); err != nil || rc.Flush() != nil {
		return
	}
	closing := h.streams.closing(r)
	ping := time.NewTicker(ssePing)
	defer ping.Stop()
	for {
		var err error
		select {
		case <-r.Context().Done():
			return
		case <-closing:
			return
		case ev := <-ch:
			if h.sessions.from(r) == nil {
				return
			}
			if ev.Kind != EventRequest && ev.Kind != EventDecision {
				continue
			}
			data, _ := json.Marshal(map[string]string{"id": ev.ID})
			_, err = fmt.Fprintf(w, "event: %s\ndata: %s\n\n", ev.Kind, data)
		case <-ping.C:
			if h.sessions.from(r) == nil {
				return
			}
			_, err = fmt.Fprint(w, ": ping\n\n")
		}
		if err != nil || rc.Flush() != nil {
			return
		}
	}
}
