package proxy

import "testing"

// TestDefaultInterceptList checks the built-in list against the endpoints agents
// really call, and against look-alikes that must not match.
func TestDefaultInterceptList(t *testing.T) {
	m, err := newHostMatcher(DefaultIntercept)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		host string
		want bool
	}{
		{"api.anthropic.com:443", true},
		{"API.OpenAI.com.", true},
		{"chatgpt.com", true},
		{"generativelanguage.googleapis.com", true},
		{"us-east5-aiplatform.googleapis.com", true}, // Claude Code / Gemini CLI on Vertex
		{"europe-west1-aiplatform.googleapis.com:443", true},
		{"aiplatform.googleapis.com", true},
		{"myres.openai.azure.com", true},
		{"myres.cognitiveservices.azure.com", true},
		{"bedrock-runtime.us-east-1.amazonaws.com", true},
		{"bedrock-runtime-fips.us-gov-west-1.amazonaws.com", true},
		{"api.individual.githubcopilot.com", true},
		{"openrouter.ai", true},
		{"-aiplatform.googleapis.com", false},
		{"evil.com", false},
		{"api.anthropic.com.evil.com", false},
		{"anthropic.com", false},
		{"s3.us-east-1.amazonaws.com", false},
		{"bedrock-runtime.amazonaws.com", false},
		{"github.com", false},
	}
	for _, tt := range tests {
		if _, got := m.match(tt.host); got != tt.want {
			t.Errorf("match(%q) = %v, want %v", tt.host, got, tt.want)
		}
	}
}

func TestHostPatterns(t *testing.T) {
	tests := []struct {
		name     string
		patterns []string
		host     string
		want     string
		wantErr  bool
	}{
		{name: "exact", patterns: []string{"llm.internal"}, host: "llm.internal:8443", want: "llm.internal"},
		{name: "subdomain", patterns: []string{"*.example.ai"}, host: "a.b.example.ai", want: "*.example.ai"},
		{name: "subdomain needs a label", patterns: []string{"*.example.ai"}, host: "example.ai"},
		{name: "inner label", patterns: []string{"x.*.example.ai"}, host: "x.eu.example.ai", want: "x.*.example.ai"},
		{name: "label suffix", patterns: []string{"*-llm.example.ai"}, host: "eu-llm.example.ai", want: "*-llm.example.ai"},
		{name: "label suffix mismatch", patterns: []string{"*-llm.example.ai"}, host: "eu-llmx.example.ai"},
		{name: "url", patterns: []string{"https://x/"}, wantErr: true},
		{name: "star inside", patterns: []string{"a*b.example"}, wantErr: true},
		{name: "star last", patterns: []string{"example.*"}, wantErr: true},
		{name: "star suffix not first", patterns: []string{"a.*-b.example"}, wantErr: true},
		{name: "empty", patterns: []string{""}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := newHostMatcher(tt.patterns)
			if (err != nil) != tt.wantErr {
				t.Fatalf("got error %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			got, ok := m.match(tt.host)
			if got != tt.want || ok != (tt.want != "") {
				t.Fatalf("match(%q) = %q, %v; want %q", tt.host, got, ok, tt.want)
			}
		})
	}
}
