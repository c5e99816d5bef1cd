package fakeapi

import "strings"

// turn is what the fake answers. A user turn (results nil) echoes the user text with
// text and an echo tool call: the model stops for the tool. A tool-result turn (the
// latest turn holds tool results and no user text) is answered with text only,
// ending the turn, as a model does once it has its tool's answer: the results' texts,
// then the last user text of the conversation (when known), so that the final answer
// of an agent session still carries what the user wrote.
type turn struct {
	results []string // texts of the tool results; nil for a user turn
	user    string   // the user text
}

// userTurn answers user text.
func userTurn(text string) turn { return turn{user: text} }

// resultTurn answers tool results after the user text user ("" when unknown).
func resultTurn(results []string, user string) turn {
	if results == nil {
		results = []string{}
	}
	return turn{results: results, user: user}
}

// endsTurn reports whether the answer is text only and ends the turn.
func (t turn) endsTurn() bool { return t.results != nil }

// echo is the text of the answer: the user text for a user turn; for a tool-result
// turn the results' texts and the user text, "\n"-joined, empty ones left out.
func (t turn) echo() string {
	if t.results == nil {
		return t.user
	}
	parts := make([]string, 0, len(t.results)+1)
	for _, s := range t.results {
		if s != "" {
			parts = append(parts, s)
		}
	}
	if t.user != "" {
		parts = append(parts, t.user)
	}
	return strings.Join(parts, "\n")
}
