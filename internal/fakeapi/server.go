package fakeapi

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// DefaultChunk is the number of text bytes per stream delta when
// Options.Chunk is zero or negative.
const DefaultChunk = 3

// Hosts are the DNS names the fake's certificate is valid for (it is also
// valid for the IP address 127.0.0.1).
var Hosts = []string{
	"api.anthropic.com",
	"api.openai.com",
	"generativelanguage.googleapis.com",
	"chatgpt.com",
	"api.github.com",
	"localhost",
}

// Request is one request as the fake received it.
type Request struct {
	Method   string
	Proto    string // "HTTP/1.1" or "HTTP/2.0", as the fake received it
	Host     string // Host header (or :authority) as received
	Path     string
	RawQuery string
	Header   http.Header
	Body     []byte // raw body as received, before any Content-Encoding is decoded
}

// Options tune the responses. The zero value gives Chunk 3 and cut writes.
type Options struct {
	// Chunk is the number of bytes of text per stream delta event
	// (DefaultChunk when <= 0), so tokens get cut across events. A piece is
	// never cut inside a UTF-8 sequence (it grows to the end of the rune).
	Chunk int
	// CutWrites asks that each SSE event be written in several small TCP
	// writes (pieces of 1..7 bytes, flushing after each). Cutting is the
	// default, so setting CutWrites to true changes nothing; it is kept for
	// callers that spell it out. Set WholeWrites to turn cutting off.
	CutWrites bool
	// WholeWrites writes (and flushes) each SSE event in one piece.
	WholeWrites bool
	// FragmentFrames sends each WebSocket message as several frames of 1..7
	// bytes, so tokens are cut across frames. Fragmented messages are never
	// compressed (the library compresses a message only when its first write
	// reaches the compression threshold).
	FragmentFrames bool
	// NoCompression makes the WebSocket endpoint refuse permessage-deflate
	// even when the client offers it. By default it is honoured when offered.
	NoCompression bool
}

func (o Options) chunk() int {
	if o.Chunk <= 0 {
		return DefaultChunk
	}
	return o.Chunk
}

// Server is a running fake upstream. Its methods are safe for concurrent
// use.
type Server struct {
	Addr    string         // "127.0.0.1:port" of the TLS listener
	CAPEM   []byte         // PEM of the fake's CA
	RootCAs *x509.CertPool // pool holding that CA

	opts Options
	srv  *httptest.Server

	mu   sync.Mutex
	reqs []Request
}

// Start starts a fake upstream on a free loopback port and closes it in
// t.Cleanup. It fails the test if the server cannot be set up.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	caPEM, pool, leaf, err := newCerts()
	if err != nil {
		t.Fatalf("fakeapi: make certificates: %v", err)
	}
	s := &Server{CAPEM: caPEM, RootCAs: pool, opts: opts}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(s.serveHTTP))
	srv.EnableHTTP2 = true
	srv.TLS = &tls.Config{
		Certificates: []tls.Certificate{leaf},
		NextProtos:   []string{"h2", "http/1.1"},
		MinVersion:   tls.VersionTLS12,
	}
	srv.StartTLS()
	s.srv = srv
	s.Addr = srv.Listener.Addr().String()
	t.Cleanup(srv.Close)
	return s
}

// Requests returns a copy of all recorded requests, in arrival order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.reqs))
	for i, r := range s.reqs {
		out[i] = r.clone()
	}
	return out
}

// Last returns a copy of the last recorded request, or the zero Request if
// there is none.
func (s *Server) Last() Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.reqs) == 0 {
		return Request{}
	}
	return s.reqs[len(s.reqs)-1].clone()
}

// Reset forgets all recorded requests.
func (s *Server) Reset() {
	s.mu.Lock()
	s.reqs = nil
	s.mu.Unlock()
}

// Dial connects to the fake whatever address is asked. Its signature fits
// http.Transport.DialContext and a proxy's upstream dial hook.
func (s *Server) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "tcp", s.Addr)
}

func (r Request) clone() Request {
	r.Header = r.Header.Clone()
	r.Body = bytes.Clone(r.Body)
	return r
}

func (s *Server) record(r Request) {
	s.mu.Lock()
	s.reqs = append(s.reqs, r)
	s.mu.Unlock()
}

// serveHTTP records the request, decodes its body and routes it by path.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(r.Body)
	s.record(Request{
		Method:   r.Method,
		Proto:    r.Proto,
		Host:     r.Host,
		Path:     r.URL.Path,
		RawQuery: r.URL.RawQuery,
		Header:   r.Header.Clone(),
		Body:     raw,
	})
	if err != nil {
		writeJSON(w, http.StatusBadRequest, obj{{"error", obj{{"type", "bad_request"}, {"message", "cannot read request body"}}}})
		return
	}
	body, ok := decodeBody(r.Header.Get("Content-Encoding"), raw)
	if !ok {
		writeJSON(w, http.StatusUnsupportedMediaType, obj{{"error", obj{{"type", "unsupported_media_type"}, {"message", "unsupported or corrupt Content-Encoding"}}}})
		return
	}
	s.route(w, r, body)
}

func (s *Server) route(w http.ResponseWriter, r *http.Request, body []byte) {
	p := r.URL.Path
	switch {
	case p == "/v1/messages":
		if checkMethod(w, r, http.MethodPost) {
			s.anthropic(w, body)
		}
	case p == "/v1/chat/completions":
		if checkMethod(w, r, http.MethodPost) {
			s.chat(w, body)
		}
	case p == "/v1/responses" && r.Method == http.MethodGet && isWebSocket(r):
		s.responsesWS(w, r)
	case p == "/v1/responses":
		if checkMethod(w, r, http.MethodPost) {
			s.responses(w, body)
		}
	case p == "/v1/echo-raw":
		if checkMethod(w, r, http.MethodPost) {
			echoRaw(w, r, body)
		}
	case p == "/api/hello":
		// Claude Code probes its base URL with HEAD /api/hello before the first turn.
		if r.Method != http.MethodHead && r.Method != http.MethodGet {
			w.Header().Set("Allow", "GET, HEAD")
			writeJSON(w, http.StatusMethodNotAllowed, obj{{"error", obj{{"type", "method_not_allowed"}, {"message", "method not allowed"}}}})
			return
		}
		writeJSON(w, http.StatusOK, obj{})
	case p == "/user":
		// A GitHub-like API call for egress tests: it answers with the credential it
		// was given, as token-introspection endpoints do.
		if checkMethod(w, r, http.MethodGet) {
			writeJSON(w, http.StatusOK, obj{{"login", "octocat"}, {"authorization", r.Header.Get("Authorization")}})
		}
	case p == "/v1/models":
		if checkMethod(w, r, http.MethodGet) {
			models(w)
		}
	case isGemini(p):
		if checkMethod(w, r, http.MethodPost) {
			s.gemini(w, r, body)
		}
	default:
		writeJSON(w, http.StatusNotFound, obj{{"error", obj{{"type", "not_found_error"}, {"message", "no such endpoint"}}}})
	}
}

func checkMethod(w http.ResponseWriter, r *http.Request, want string) bool {
	if r.Method == want {
		return true
	}
	w.Header().Set("Allow", want)
	writeJSON(w, http.StatusMethodNotAllowed, obj{{"error", obj{{"type", "method_not_allowed"}, {"message", "method not allowed"}}}})
	return false
}

// decodeBody undoes a gzip Content-Encoding; any other non-identity encoding
// is refused.
func decodeBody(enc string, raw []byte) ([]byte, bool) {
	switch strings.ToLower(strings.TrimSpace(enc)) {
	case "", "identity":
		return raw, true
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, false
		}
		out, err := io.ReadAll(zr)
		if err != nil {
			return nil, false
		}
		return out, true
	default:
		return nil, false
	}
}

// echoRaw returns the (decoded) request body with the request's
// Content-Type.
func echoRaw(w http.ResponseWriter, r *http.Request, body []byte) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

func models(w http.ResponseWriter) {
	model := func(id string) obj {
		return obj{{"id", id}, {"object", "model"}, {"created", created}, {"owned_by", "fakeapi"}}
	}
	writeJSON(w, http.StatusOK, obj{
		{"object", "list"},
		{"data", []any{model("fake-model-1"), model("fake-model-2")}},
	})
}

// newCerts makes a fresh ECDSA CA and a leaf certificate signed by it for
// Hosts and 127.0.0.1.
func newCerts() (caPEM []byte, pool *x509.CertPool, leaf tls.Certificate, err error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, leaf, fmt.Errorf("ca key: %w", err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "fakeapi test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, nil, leaf, fmt.Errorf("ca cert: %w", err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, nil, leaf, fmt.Errorf("parse ca cert: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, leaf, fmt.Errorf("leaf key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: Hosts[0]},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     slices.Clone(Hosts),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, leaf, fmt.Errorf("leaf cert: %w", err)
	}
	caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	pool = x509.NewCertPool()
	pool.AddCert(caCert)
	leaf = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	return caPEM, pool, leaf, nil
}
