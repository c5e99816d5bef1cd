package fakeapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
)

const geminiRespID = "fake-gemini-1"

// geminiPrefixes are the API versions whose model methods the fake serves.
var geminiPrefixes = []string{"/v1beta/models/", "/v1/models/"}

// geminiMethod splits a path like /v1beta/models/{model}:{method}.
func geminiMethod(path string) (model, method string, ok bool) {
	for _, p := range geminiPrefixes {
		if rest, found := strings.CutPrefix(path, p); found {
			return strings.Cut(rest, ":")
		}
	}
	return "", "", false
}

func isGemini(path string) bool {
	_, _, ok := geminiMethod(path)
	return ok
}

type geminiPart struct {
	Text             *string `json:"text"`
	FunctionResponse *struct {
		Response json.RawMessage `json:"response"`
	} `json:"functionResponse"`
}

type geminiContent struct {
	Role  string       `json:"role"`
	Parts []geminiPart `json:"parts"`
}

type geminiReq struct {
	Contents []geminiContent `json:"contents"`
}

// texts returns the text parts of c, nil when it has none.
func (c geminiContent) texts() []string {
	var texts []string
	for _, p := range c.Parts {
		if p.Text != nil {
			texts = append(texts, *p.Text)
		}
	}
	return texts
}

// geminiEcho reads a generateContent request: what to echo and how. The latest turn
// is the contents after the last "model" content; when it holds functionResponse
// parts and no text, it is a tool-result turn, answered after the text of the last
// user content before it. Otherwise it returns the text parts of the last user content
// joined with "\n". A content without a role counts as a user turn, as in the API.
func geminiEcho(body []byte) (turn, error) {
	var req geminiReq
	if err := json.Unmarshal(body, &req); err != nil {
		return turn{}, err
	}
	start := 0
	for i := len(req.Contents) - 1; i >= 0; i-- {
		if req.Contents[i].Role == "model" {
			start = i + 1
			break
		}
	}
	var results []string
	for _, c := range req.Contents[start:] {
		if c.texts() != nil {
			results = nil
			break
		}
		for _, p := range c.Parts {
			if p.FunctionResponse != nil {
				results = append(results, geminiResultText(p.FunctionResponse.Response))
			}
		}
	}
	if results != nil {
		var user string
		for i := start - 1; i >= 0 && user == ""; i-- {
			if c := req.Contents[i]; c.Role == "user" || c.Role == "" {
				user = strings.Join(c.texts(), "\n")
			}
		}
		return resultTurn(results, user), nil
	}
	for i := len(req.Contents) - 1; i >= 0; i-- {
		c := req.Contents[i]
		if c.Role != "user" && c.Role != "" {
			continue
		}
		texts := c.texts()
		if len(texts) == 0 {
			break
		}
		return userTurn(strings.Join(texts, "\n")), nil
	}
	return turn{}, errNoUser
}

// geminiResultText is the text of a functionResponse's response: its "output" or
// "error" member when that is a string (as agent CLIs send them), else its JSON.
func geminiResultText(raw json.RawMessage) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) == nil {
		for _, k := range []string{"output", "error"} {
			var s string
			if json.Unmarshal(m[k], &s) == nil {
				return s
			}
		}
	}
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return ""
	}
	return b.String()
}

func geminiError(w http.ResponseWriter, code int, status, msg string) {
	writeJSON(w, code, obj{{"error", obj{{"code", code}, {"message", msg}, {"status", status}}}})
}

func (s *Server) gemini(w http.ResponseWriter, r *http.Request, body []byte) {
	model, method, _ := geminiMethod(r.URL.Path)
	if method != "generateContent" && method != "streamGenerateContent" {
		geminiError(w, http.StatusNotFound, "NOT_FOUND", "unknown method")
		return
	}
	t, err := geminiEcho(body)
	if err != nil {
		geminiError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "invalid request body: "+errClass(err))
		return
	}
	if method == "generateContent" {
		parts := []any{obj{{"text", t.echo()}}}
		if !t.endsTurn() {
			parts = append(parts, geminiCall(t.echo()))
		}
		writeJSON(w, http.StatusOK, geminiResponse(model, parts, true))
		return
	}
	s.geminiStream(w, model, t, r.URL.Query().Get("alt") == "sse")
}

func geminiCall(echo string) obj {
	return obj{{"functionCall", obj{{"name", "echo"}, {"args", obj{{"text", echo}}}}}}
}

// geminiResponse is one GenerateContentResponse; final adds finishReason.
func geminiResponse(model string, parts []any, final bool) obj {
	cand := obj{{"content", obj{{"parts", parts}, {"role", "model"}}}}
	if final {
		cand = append(cand, kv{"finishReason", "STOP"})
	}
	cand = append(cand, kv{"index", 0})
	return obj{
		{"candidates", []any{cand}},
		{"usageMetadata", obj{{"promptTokenCount", 10}, {"candidatesTokenCount", 10}, {"totalTokenCount", 20}}},
		{"modelVersion", model},
		{"responseId", geminiRespID},
	}
}

// geminiStream sends text chunks then a final chunk with the function call (for a
// tool-result turn the last text chunk is the final one): as SSE with CRLF line ends
// when sse is set, else as one JSON array.
func (s *Server) geminiStream(w http.ResponseWriter, model string, t turn, sse bool) {
	echo := t.echo()
	texts := pieces(echo, s.opts.chunk())
	if t.endsTurn() && len(texts) == 0 {
		texts = []string{""}
	}
	var chunks [][]byte
	for i, p := range texts {
		final := t.endsTurn() && i == len(texts)-1
		chunks = append(chunks, mustMarshal(geminiResponse(model, []any{obj{{"text", p}}}, final)))
	}
	if !t.endsTurn() {
		chunks = append(chunks, mustMarshal(geminiResponse(model, []any{geminiCall(echo)}, true)))
	}

	if sse {
		st := s.startStream(w, "text/event-stream")
		for _, c := range chunks {
			st.data(c, "\r\n")
		}
		return
	}
	st := s.startStream(w, "application/json; charset=UTF-8")
	st.write([]byte("["))
	for i, c := range chunks {
		if i > 0 {
			st.write([]byte(",\r\n"))
		}
		st.write(c)
	}
	st.write([]byte("]"))
}
