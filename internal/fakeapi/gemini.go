package fakeapi

import (
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

type geminiReq struct {
	Contents []struct {
		Role  string `json:"role"`
		Parts []struct {
			Text *string `json:"text"`
		} `json:"parts"`
	} `json:"contents"`
}

// geminiEcho returns the text parts of the last user content joined with
// "\n". A content without a role counts as a user turn, as in the API.
func geminiEcho(body []byte) (string, error) {
	var req geminiReq
	if err := json.Unmarshal(body, &req); err != nil {
		return "", err
	}
	for i := len(req.Contents) - 1; i >= 0; i-- {
		c := req.Contents[i]
		if c.Role != "user" && c.Role != "" {
			continue
		}
		var texts []string
		for _, p := range c.Parts {
			if p.Text != nil {
				texts = append(texts, *p.Text)
			}
		}
		if len(texts) == 0 {
			break
		}
		return strings.Join(texts, "\n"), nil
	}
	return "", errNoUser
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
	echo, err := geminiEcho(body)
	if err != nil {
		geminiError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "invalid request body: "+errClass(err))
		return
	}
	if method == "generateContent" {
		writeJSON(w, http.StatusOK, geminiResponse(model, []any{
			obj{{"text", echo}},
			geminiCall(echo),
		}, true))
		return
	}
	s.geminiStream(w, model, echo, r.URL.Query().Get("alt") == "sse")
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

// geminiStream sends text chunks then a final chunk with the function call:
// as SSE with CRLF line ends when sse is set, else as one JSON array.
func (s *Server) geminiStream(w http.ResponseWriter, model, echo string, sse bool) {
	var chunks [][]byte
	for _, p := range pieces(echo, s.opts.chunk()) {
		chunks = append(chunks, mustMarshal(geminiResponse(model, []any{obj{{"text", p}}}, false)))
	}
	chunks = append(chunks, mustMarshal(geminiResponse(model, []any{geminiCall(echo)}, true)))

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
