package proxy_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloakroom/cloakroom/proxy"
)

// customUpstream starts a TLS upstream (h2 and http/1.1) serving handler as every
// intercepted host, and returns the proxy config that sends everything to it.
func customUpstream(t *testing.T, handler http.Handler) proxy.Config {
	t.Helper()
	certPEM, keyPEM, err := proxy.GenerateCA("upstream test CA")
	if err != nil {
		t.Fatal(err)
	}
	ca, err := proxy.NewCA(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	srv := httptest.NewUnstartedServer(handler)
	srv.EnableHTTP2 = true
	srv.TLS = &tls.Config{
		NextProtos: []string{"h2", "http/1.1"},
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			return ca.Leaf(hello.ServerName)
		},
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	addr := srv.Listener.Addr().String()
	return proxy.Config{
		UpstreamRootCAs: pool,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}
}

// h2Client is h.client speaking HTTP/2 inside the tunnel when the proxy offers it.
func h2Client(h *harness, principal string) *http.Client {
	c := h.client(principal)
	tr := c.Transport.(*http.Transport)
	tr.ForceAttemptHTTP2 = true
	return c
}

// Both protocols work inside an intercepted tunnel, streaming with restore included,
// and the upstream is spoken to in HTTP/2 when it offers it.
func TestProtocolsEndToEnd(t *testing.T) {
	for _, tc := range []struct {
		name   string
		h2     bool
		wantIn int // protocol major the agent gets
	}{
		{"http1.1", false, 1},
		{"h2", true, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, harnessOpts{})
			s := newSecrets(t)
			h.plant(s.all()...)
			c := h.client("alice")
			if tc.h2 {
				c = h2Client(h, "alice")
			}
			for _, api := range apiCases {
				for _, stream := range []bool{false, true} {
					resp, got := post(t, c, api.url(stream), nil, api.body(s.prompt(), stream))
					if resp.StatusCode != 200 || resp.ProtoMajor != tc.wantIn {
						t.Fatalf("%s stream=%v: got %s %d, want HTTP/%d 200: %.200s", api.name, stream, resp.Proto, resp.StatusCode, tc.wantIn, got)
					}
					if e := api.parse(t, got, stream); e.Text != s.prompt() || e.ToolText != s.prompt() {
						t.Errorf("%s stream=%v: secrets not restored in what the agent got", api.name, stream)
					}
					if last := h.up.Last(); last.Proto != "HTTP/2.0" {
						t.Errorf("%s: upstream spoken to in %s, want HTTP/2.0", api.name, last.Proto)
					}
				}
			}
		})
	}
}

// SSE reaches an HTTP/2 agent event by event: the first event arrives while the
// upstream still holds the rest back.
func TestH2StreamsEventByEvent(t *testing.T) {
	release := make(chan struct{})
	cfg := customUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "event: message_start\ndata: {\"type\":\"message_start\"}\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
		_, _ = io.WriteString(w, "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n")
	}))
	defer close(release)
	h := newHarness(t, harnessOpts{cfg: cfg})
	req, _ := http.NewRequest("POST", anthropicURL, bytes.NewReader(anthropicBody("hi")))
	req.Header.Set("Content-Type", "application/json")
	resp, err := h2Client(h, "").Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 256)
	n, err := io.ReadAtLeast(resp.Body, buf, len("event: message_start\n"))
	if err != nil || !strings.Contains(string(buf[:n]), "message_start") {
		t.Fatalf("first event not delivered before the stream ended: %q, %v", buf[:n], err)
	}
}

// The details a plain proxy gets right: 100-continue, keep-alive, trailers, 1xx
// informational responses, bodies of 204/304/HEAD, chunked bodies of unknown length.
func TestProtocolDetails(t *testing.T) {
	var upstreamBodies atomic.Value
	cfg := customUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		upstreamBodies.Store(string(b))
		switch r.URL.Path {
		case "/trailers":
			w.Header().Set("Trailer", "X-Checksum")
			w.Header().Set("Content-Type", "application/octet-stream")
			_, _ = io.WriteString(w, "payload")
			w.Header().Set("X-Checksum", "abc123")
		case "/early":
			w.Header().Set("Link", "</style.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			w.Header().Del("Link")
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"ok":true}`)
		case "/nocontent":
			w.WriteHeader(http.StatusNoContent)
		case "/notmodified":
			w.Header().Set("ETag", `"v1"`)
			w.WriteHeader(http.StatusNotModified)
		case "/chunked":
			w.Header().Set("Content-Type", "application/octet-stream")
			for i := range 5 {
				fmt.Fprintf(w, "part %d;", i)
				w.(http.Flusher).Flush()
			}
		default:
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"echo":%q}`, b)
		}
	}))
	for _, h2 := range []bool{false, true} {
		t.Run(fmt.Sprintf("h2=%v", h2), func(t *testing.T) {
			h := newHarness(t, harnessOpts{cfg: cfg})
			s := newSecrets(t)
			h.plant(s.all()...)
			c := h.client("")
			if h2 {
				c = h2Client(h, "")
			}
			base := "https://api.anthropic.com"

			t.Run("expect-100-continue", func(t *testing.T) {
				tr := c.Transport.(*http.Transport)
				tr.ExpectContinueTimeout = time.Minute // the proxy must answer, not the timer
				var got100 atomic.Bool
				ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{Got100Continue: func() { got100.Store(true) }})
				body := fmt.Sprintf(`{"note":"AWS_SECRET_ACCESS_KEY=%s"}`, s.AWSSecret)
				req, _ := http.NewRequestWithContext(ctx, "POST", base+"/v1/echo", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Expect", "100-continue")
				resp, err := c.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				got, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if !got100.Load() {
					t.Error("the proxy never sent 100 Continue")
				}
				if !strings.Contains(string(got), s.AWSSecret) || strings.Contains(upstreamBodies.Load().(string), s.AWSSecret) {
					t.Errorf("body not redacted upstream and restored back: %.200s", got)
				}
			})

			t.Run("keep-alive", func(t *testing.T) {
				var reused atomic.Int32
				for range 3 {
					ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) {
						if i.Reused {
							reused.Add(1)
						}
					}})
					req, _ := http.NewRequestWithContext(ctx, "POST", base+"/v1/echo", strings.NewReader(`{"a":1}`))
					resp, err := c.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				if reused.Load() < 2 {
					t.Errorf("got %d reused connections of 3 requests, want 2", reused.Load())
				}
			})

			t.Run("trailers", func(t *testing.T) {
				resp, err := c.Get(base + "/trailers")
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if string(b) != "payload" || resp.Trailer.Get("X-Checksum") != "abc123" {
					t.Errorf("got body %q trailer %q, want payload and abc123", b, resp.Trailer.Get("X-Checksum"))
				}
			})

			t.Run("early-hints", func(t *testing.T) {
				var hints atomic.Value
				ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{Got1xxResponse: func(code int, hdr textproto.MIMEHeader) error {
					if code == http.StatusEarlyHints {
						hints.Store(hdr.Get("Link"))
					}
					return nil
				}})
				req, _ := http.NewRequestWithContext(ctx, "GET", base+"/early", nil)
				resp, err := c.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if hints.Load() != "</style.css>; rel=preload" || resp.StatusCode != 200 || resp.Header.Get("Link") != "" {
					t.Errorf("got hints %v, status %d, final Link %q", hints.Load(), resp.StatusCode, resp.Header.Get("Link"))
				}
			})

			t.Run("no-body-statuses", func(t *testing.T) {
				for _, tc := range []struct {
					method, path string
					status       int
				}{
					{"GET", "/nocontent", 204},
					{"GET", "/notmodified", 304},
					{"HEAD", "/v1/echo", 200},
				} {
					req, _ := http.NewRequest(tc.method, base+tc.path, nil)
					resp, err := c.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != tc.status || len(b) != 0 {
						t.Errorf("%s %s: got %d with %d body bytes, want %d and none", tc.method, tc.path, resp.StatusCode, len(b), tc.status)
					}
				}
			})

			t.Run("chunked-both-ways", func(t *testing.T) {
				body := fmt.Sprintf(`{"k":"GITHUB_TOKEN=%s"}`, s.GitHub)
				// A reader of unknown length: sent chunked (h1) or without length (h2).
				req, _ := http.NewRequest("POST", base+"/v1/echo", io.MultiReader(strings.NewReader(body)))
				req.Header.Set("Content-Type", "application/json")
				resp, err := c.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				got, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if !strings.Contains(string(got), s.GitHub) || strings.Contains(upstreamBodies.Load().(string), s.GitHub) {
					t.Errorf("chunked request not redacted and restored: %.200s", got)
				}
				resp, err = c.Get(base + "/chunked")
				if err != nil {
					t.Fatal(err)
				}
				got, _ = io.ReadAll(resp.Body)
				resp.Body.Close()
				if string(got) != "part 0;part 1;part 2;part 3;part 4;" {
					t.Errorf("chunked response: got %q", got)
				}
			})
		})
	}
}

// An agent that hangs up ends the upstream request too: no orphaned generation
// keeps running (and billing) after the agent is gone.
func TestAgentHangupCancelsUpstream(t *testing.T) {
	started := make(chan struct{}, 1)
	cancelled := make(chan struct{}, 1)
	cfg := customUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "data: {\"type\":\"ping\"}\n\n")
		w.(http.Flusher).Flush()
		started <- struct{}{}
		select {
		case <-r.Context().Done():
			cancelled <- struct{}{}
		case <-time.After(time.Minute):
		}
	}))
	for _, h2 := range []bool{false, true} {
		t.Run(fmt.Sprintf("h2=%v", h2), func(t *testing.T) {
			h := newHarness(t, harnessOpts{cfg: cfg})
			c := h.client("")
			if h2 {
				c = h2Client(h, "")
			}
			ctx, cancel := context.WithCancel(context.Background())
			req, _ := http.NewRequestWithContext(ctx, "POST", anthropicURL, bytes.NewReader(anthropicBody("hi")))
			req.Header.Set("Content-Type", "application/json")
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			<-started
			cancel()
			resp.Body.Close()
			select {
			case <-cancelled:
			case <-time.After(20 * time.Second):
				t.Fatal("the upstream request was not cancelled when the agent hung up")
			}
		})
	}
}

// An upstream stream cut short reaches the agent as an error, never as a complete
// response.
func TestUpstreamCutIsNotComplete(t *testing.T) {
	cfg := customUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "data: {\"type\":\"ping\"}\n\n")
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // the upstream dies mid-stream
	}))
	for _, h2 := range []bool{false, true} {
		t.Run(fmt.Sprintf("h2=%v", h2), func(t *testing.T) {
			h := newHarness(t, harnessOpts{cfg: cfg})
			c := h.client("")
			if h2 {
				c = h2Client(h, "")
			}
			req, _ := http.NewRequest("POST", anthropicURL, bytes.NewReader(anthropicBody("hi")))
			req.Header.Set("Content-Type", "application/json")
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil {
				t.Fatal("a stream cut upstream reached the agent as complete")
			}
			if errors.Is(err, context.Canceled) {
				t.Fatalf("unexpected error %v", err)
			}
		})
	}
}
