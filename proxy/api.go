package proxy

import (
	"encoding/json"
	"net/http"
	"strings"
)

// API names the wire format of an intercepted endpoint. It picks the error shape the
// agent receives and names the endpoint in audit records.
type API string

// APIs cloakroom recognises. Any other JSON body is walked generically.
const (
	AnthropicMessages API = "anthropic.messages"
	OpenAIChat        API = "openai.chat"
	OpenAIResponses   API = "openai.responses"
	GeminiGenerate    API = "gemini.generate"
	GenericJSON       API = "generic"
)

// classifyAPI maps a host and path to an API.
func classifyAPI(host, path string) API {
	switch {
	case strings.HasSuffix(path, "/v1/messages"):
		return AnthropicMessages
	case strings.HasSuffix(path, "/chat/completions"):
		return OpenAIChat
	case strings.HasSuffix(path, "/responses"):
		return OpenAIResponses
	case strings.Contains(path, ":generateContent") || strings.Contains(path, ":streamGenerateContent"):
		return GeminiGenerate
	case host == "api.anthropic.com":
		return AnthropicMessages
	}
	return GenericJSON
}

// family is the error dialect of an API.
func (a API) family() string {
	switch a {
	case AnthropicMessages:
		return "anthropic"
	case GeminiGenerate:
		return "gemini"
	}
	return "openai"
}

// geminiModel extracts the model from a Gemini path such as
// /v1beta/models/gemini-2.5-pro:generateContent.
func geminiModel(path string) string {
	i := strings.Index(path, "/models/")
	if i < 0 {
		return ""
	}
	m := path[i+len("/models/"):]
	if j := strings.IndexAny(m, ":/"); j >= 0 {
		m = m[:j]
	}
	return m
}

// errorBody renders msg in the provider's own error shape, so the agent's SDK shows
// it as it shows any API error. msg must hold no secret.
func errorBody(api API, status int, kind, msg string) []byte {
	var v any
	switch api.family() {
	case "anthropic":
		v = map[string]any{"type": "error", "error": map[string]any{"type": anthropicErrorType(status), "message": msg}}
	case "gemini":
		v = map[string]any{"error": map[string]any{"code": status, "message": msg, "status": geminiStatus(status)}}
	default:
		v = map[string]any{"error": map[string]any{"message": msg, "type": openAIErrorType(status), "param": nil, "code": "cloakroom_" + kind}}
	}
	b, _ := json.Marshal(v)
	return b
}

func anthropicErrorType(status int) string {
	switch status {
	case http.StatusRequestEntityTooLarge:
		return "request_too_large"
	case http.StatusForbidden:
		return "permission_error"
	case http.StatusBadRequest:
		return "invalid_request_error"
	case http.StatusServiceUnavailable, http.StatusBadGateway:
		return "api_error"
	}
	return "api_error"
}

func openAIErrorType(status int) string {
	if status >= 500 {
		return "server_error"
	}
	return "invalid_request_error"
}

func geminiStatus(status int) string {
	switch status {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		return "INVALID_ARGUMENT"
	case http.StatusForbidden:
		return "PERMISSION_DENIED"
	case http.StatusServiceUnavailable:
		return "UNAVAILABLE"
	}
	return "INTERNAL"
}
