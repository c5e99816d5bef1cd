package wsrelay

import (
	"encoding/base64"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// hopByHop are the headers that concern one connection only (RFC 9110 7.6.1, plus
// the legacy Proxy-Connection and Keep-Alive).
var hopByHop = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// handshake are the headers each WebSocket handshake sets for itself. The agent's
// subprotocols are passed on separately; Accept-Encoding is left to the transport so
// that it decodes a refusal's body itself.
var handshake = []string{
	"Sec-Websocket-Key", "Sec-Websocket-Version", "Sec-Websocket-Extensions",
	"Sec-Websocket-Accept", "Sec-Websocket-Protocol", "Accept-Encoding", "Content-Length",
}

// forwardHeader returns the agent's handshake headers to send upstream.
func forwardHeader(h http.Header) http.Header {
	out := h.Clone()
	if out == nil {
		out = http.Header{}
	}
	dropHopByHop(out, h)
	for _, k := range handshake {
		out.Del(k)
	}
	return out
}

// dropHopByHop deletes from dst the hop-by-hop headers, including those that src's
// Connection header names.
func dropHopByHop(dst, src http.Header) {
	for _, v := range src.Values("Connection") {
		for name := range strings.SplitSeq(v, ",") {
			if name = strings.TrimSpace(name); name != "" {
				dst.Del(name)
			}
		}
	}
	for _, k := range hopByHop {
		dst.Del(k)
	}
}

// copyHeader sets in dst the end-to-end headers of the upstream's response src
// (x-request-id, ...), without the ones each handshake or body sets for itself.
func copyHeader(dst, src http.Header) {
	for k, vs := range src {
		if k == "Content-Length" || strings.HasPrefix(k, "Sec-Websocket-") {
			continue
		}
		dst[k] = slices.Clone(vs)
	}
	dropHopByHop(dst, src)
}

// maxRefusalBody bounds the body of a refusal relayed to the agent; the library
// keeps at most this much of it.
const maxRefusalBody = 1 << 10

// writeRefusal relays the upstream's non-101 answer to the handshake.
func writeRefusal(w http.ResponseWriter, resp *http.Response) {
	var body []byte
	if resp.Body != nil {
		body, _ = io.ReadAll(io.LimitReader(resp.Body, maxRefusalBody))
		resp.Body.Close()
	}
	h := w.Header()
	copyHeader(h, resp.Header)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(resp.StatusCode)
	if len(body) > 0 {
		_, _ = w.Write(body)
	}
}

// hasDeflate reports whether h's Sec-WebSocket-Extensions names permessage-deflate.
func hasDeflate(h http.Header) bool {
	for _, v := range h.Values("Sec-WebSocket-Extensions") {
		for ext := range strings.SplitSeq(v, ",") {
			name, _, _ := strings.Cut(ext, ";")
			if strings.TrimSpace(name) == "permessage-deflate" {
				return true
			}
		}
	}
	return false
}

// hasToken reports whether a comma-separated value of h[key] holds tok.
func hasToken(h http.Header, key, tok string) bool {
	for _, v := range h.Values(key) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), tok) {
				return true
			}
		}
	}
	return false
}

// handshakeProblem says what makes r not a WebSocket handshake the relay can accept,
// or "" if it is one.
func handshakeProblem(r *http.Request) string {
	switch {
	case r.ProtoMajor != 1 || r.ProtoMinor < 1:
		return "HTTP/1.1 is required"
	case r.Method != http.MethodGet:
		return "the method must be GET"
	case !hasToken(r.Header, "Connection", "upgrade") || !hasToken(r.Header, "Upgrade", "websocket"):
		return "no Upgrade: websocket"
	case r.Header.Get("Sec-WebSocket-Version") != "13":
		return "Sec-WebSocket-Version must be 13"
	}
	keys := r.Header.Values("Sec-WebSocket-Key")
	if len(keys) != 1 {
		return "one Sec-WebSocket-Key is required"
	}
	if k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(keys[0])); err != nil || len(k) != 16 {
		return "Sec-WebSocket-Key is invalid"
	}
	return ""
}
