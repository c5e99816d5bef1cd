package fakeapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/coder/websocket"
)

// wsReadLimit is the largest message the WebSocket endpoint reads.
const wsReadLimit = 64 << 20

// isWebSocket reports whether r asks to upgrade to a WebSocket.
func isWebSocket(r *http.Request) bool {
	if !strings.EqualFold(strings.TrimSpace(r.Header.Get("Upgrade")), "websocket") {
		return false
	}
	for _, v := range r.Header.Values("Connection") {
		for tok := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), "upgrade") {
				return true
			}
		}
	}
	return false
}

// responsesWS serves the Responses API over a WebSocket, as Codex uses it: each text
// message is recorded (Method "WS"); a response.create message is answered with the
// event sequence of the streaming POST endpoint, one event per message. The
// connection remembers the last user text for later turns (wsConversation).
func (s *Server) responsesWS(w http.ResponseWriter, r *http.Request) {
	opts := &websocket.AcceptOptions{InsecureSkipVerify: true}
	if !s.opts.NoCompression {
		opts.CompressionMode = websocket.CompressionContextTakeover
		if !s.opts.FragmentFrames {
			// Compress every message, deltas included. (A fragmented message starts
			// with a write below the default threshold, so it goes uncompressed.)
			opts.CompressionThreshold = 1
		}
	}
	c, err := websocket.Accept(w, r, opts)
	if err != nil {
		return // Accept answered the client
	}
	defer c.CloseNow()
	c.SetReadLimit(wsReadLimit)
	ctx := r.Context()
	var conv wsConversation
	for {
		typ, msg, err := c.Read(ctx)
		if err != nil {
			return // a close frame is answered by the library
		}
		if typ != websocket.MessageText {
			c.Close(websocket.StatusUnsupportedData, "binary messages are not supported")
			return
		}
		s.record(Request{
			Method:   "WS",
			Proto:    r.Proto,
			Host:     r.Host,
			Path:     r.URL.Path,
			RawQuery: r.URL.RawQuery,
			Header:   r.Header.Clone(),
			Body:     msg,
		})
		if err := s.wsMessage(ctx, c, msg, &conv); err != nil {
			return
		}
	}
}

// wsConversation is what one WebSocket connection keeps between its responses, as
// the real endpoint keeps the previous response for previous_response_id: the last
// user text it saw, so that a tool-result turn sending only its tool outputs is
// answered after it.
type wsConversation struct {
	user string
}

// wsMessage answers one client message.
func (s *Server) wsMessage(ctx context.Context, c *websocket.Conn, msg []byte, conv *wsConversation) error {
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(msg, &head); err != nil {
		return s.wsSend(ctx, c, wsError("invalid message: "+errClass(err)))
	}
	if head.Type != "response.create" {
		return s.wsSend(ctx, c, wsError("unsupported message type"))
	}
	req, t, err := responsesEcho(msg)
	if err != nil {
		return s.wsSend(ctx, c, wsError("invalid request body: "+errClass(err)))
	}
	if t.endsTurn() && t.user == "" && req.PreviousResponseID != "" {
		t.user = conv.user
	}
	if t.user != "" {
		conv.user = t.user
	}
	responsesEvents(req, t, s.opts.chunk(), func(_ string, ev obj) {
		if err == nil {
			err = s.wsSend(ctx, c, ev)
		}
	})
	return err
}

func wsError(msg string) obj {
	return obj{{"type", "error"}, {"status", http.StatusBadRequest}, {"error", obj{
		{"type", "invalid_request_error"},
		{"code", nil},
		{"message", msg},
		{"param", nil},
	}}}
}

// wsSend sends v as one text message, fragmented into frames of 1..7 bytes when
// Options.FragmentFrames is set.
func (s *Server) wsSend(ctx context.Context, c *websocket.Conn, v any) error {
	b := mustMarshal(v)
	if !s.opts.FragmentFrames {
		return c.Write(ctx, websocket.MessageText, b)
	}
	wr, err := c.Writer(ctx, websocket.MessageText)
	if err != nil {
		return err
	}
	for i := 0; len(b) > 0; i++ {
		n := min(len(b), writeSizes[i%len(writeSizes)])
		if _, err := wr.Write(b[:n]); err != nil {
			return err
		}
		b = b[n:]
	}
	return wr.Close()
}
