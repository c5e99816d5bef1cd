package sse

import (
	"bytes"

	"github.com/cloakroom/cloakroom/tokenize"
)

// kind is what an event means for restoring.
type kind uint8

const (
	kindRaw        kind = iota // not a JSON object: flush, pass through
	kindOther                  // not a delta: flush, restore with Restorer.JSON
	kindDelta                  // a delta event: sites, scopes and edits are set
	kindDeltaOther             // another delta: flushes nothing, restore with Restorer.JSON
	kindKeep                   // never modified, flushes nothing: ping, thinking, signatures
)

// top holds the members of an event's data object that classify looks at.
type top struct {
	typ, object, index, delta, choices, candidates span
	itemID, outputIndex, contentIndex              span
}

// classify recognises the event by its data and, for a delta event, collects its sites.
func (r *reader) classify(data []byte) kind {
	r.sites, r.scopes, r.edits = r.sites[:0], r.scopes[:0], r.edits[:0]
	r.keys, r.lits = r.keys[:0], r.lits[:0]
	i := skipWS(data, 0)
	m, ok := object(data, i)
	if !ok {
		if i < len(data) && data[i] == '[' {
			if e := skipValue(data, i); e > 0 && skipWS(data, e) == len(data) {
				return kindOther
			}
		}
		return kindRaw
	}
	var t top
	for {
		key, vs, ve, ok := m.next()
		if !ok {
			break
		}
		v := span{vs, ve}
		switch string(key) {
		case "type":
			t.typ = v
		case "object":
			t.object = v
		case "index":
			t.index = v
		case "delta":
			t.delta = v
		case "choices":
			t.choices = v
		case "candidates":
			t.candidates = v
		case "item_id":
			t.itemID = v
		case "output_index":
			t.outputIndex = v
		case "content_index":
			t.contentIndex = v
		}
	}
	if !m.closed || skipWS(data, m.i) != len(data) {
		return kindRaw
	}
	typ := strBody(data, t.typ)
	switch {
	case string(typ) == "content_block_delta":
		return r.anthropic(data, &t)
	case string(typ) == "ping":
		return kindKeep
	case bytes.HasPrefix(typ, []byte("response.")):
		return r.responses(data, &t, typ)
	case string(strBody(data, t.object)) == "chat.completion.chunk":
		return r.chat(data, &t)
	case t.candidates.ok() && !t.typ.ok():
		return r.gemini(data, &t)
	}
	return kindOther
}

// strBody returns the raw body of the string literal at s, or nil.
func strBody(data []byte, s span) []byte {
	if !isString(data, s) {
		return nil
	}
	return data[s.s+1 : s.e-1]
}

// anthropic handles a Messages content_block_delta: text_delta and input_json_delta
// are restored, thinking_delta and signature_delta never touched.
func (r *reader) anthropic(data []byte, t *top) kind {
	m, ok := object(data, t.delta.s)
	if !t.delta.ok() || !ok {
		return kindDeltaOther
	}
	var dt, text, pj span
	for {
		key, vs, ve, ok := m.next()
		if !ok {
			break
		}
		switch string(key) {
		case "type":
			dt = span{vs, ve}
		case "text":
			text = span{vs, ve}
		case "partial_json":
			pj = span{vs, ve}
		}
	}
	switch string(strBody(data, dt)) {
	case "text_delta":
		if isString(data, text) {
			r.addSite(site{lit: text, key: r.key(data, "a", t.index)})
			return kindDelta
		}
	case "input_json_delta":
		if isString(data, pj) {
			r.addSite(site{lit: pj, key: r.key(data, "a", t.index), jsonText: true})
			return kindDelta
		}
	case "thinking_delta", "signature_delta":
		return kindKeep
	}
	return kindDeltaOther
}

// responses handles OpenAI Responses events.
func (r *reader) responses(data []byte, t *top, typ []byte) kind {
	jsonText := false
	switch string(typ) {
	case "response.output_text.delta", "response.refusal.delta", "response.custom_tool_call_input.delta":
	case "response.function_call_arguments.delta":
		jsonText = true
	default:
		switch {
		case bytes.HasPrefix(typ, []byte("response.reasoning")):
			return kindKeep
		case bytes.HasSuffix(typ, []byte(".delta")):
			return kindDeltaOther
		}
		return kindOther
	}
	if !isString(data, t.delta) {
		return kindDeltaOther
	}
	ks := len(r.keys)
	r.keys = append(r.keys, 'r')
	r.keys = append(r.keys, data[t.typ.s:t.typ.e]...)
	for _, v := range [...]span{t.itemID, t.outputIndex, t.contentIndex} {
		r.keys = append(r.keys, '|')
		r.keys = append(r.keys, data[v.s:v.e]...)
	}
	r.addSite(site{lit: t.delta, key: span{ks, len(r.keys)}, jsonText: jsonText})
	return kindDelta
}

// chat handles an OpenAI Chat Completions chunk: every choice's content, refusal
// and tool-call arguments. reasoning_content (DeepSeek, vLLM) is thinking and, like
// Anthropic thinking and Responses reasoning, is never modified. A choice with a finish_reason
// ends all its keys.
func (r *reader) chat(data []byte, t *top) kind {
	a, ok := array(data, t.choices.s)
	if !t.choices.ok() || !ok {
		return kindDelta
	}
	for pos := 0; ; pos++ {
		es, ee, ok := a.next()
		if !ok {
			break
		}
		cm, ok := object(data, es)
		if !ok {
			continue
		}
		var idx, delta, finish, logprobs span
		for {
			key, vs, ve, ok := cm.next()
			if !ok {
				break
			}
			switch string(key) {
			case "index":
				idx = span{vs, ve}
			case "delta":
				delta = span{vs, ve}
			case "finish_reason":
				finish = span{vs, ve}
			case "logprobs":
				logprobs = span{vs, ve}
			}
		}
		prefix := r.prefix('c', data, idx, pos)
		final := isString(data, finish) && finish.e-finish.s > 2
		if final {
			r.scopes = append(r.scopes, prefix)
		}
		dm, ok := object(data, delta.s)
		if !delta.ok() || !ok {
			continue
		}
		base := site{final: final, shape: shapeChat, outer: t.choices, elem: span{es, ee}, inner: delta, drop: logprobs}
		for {
			key, vs, ve, ok := dm.next()
			if !ok {
				break
			}
			v := span{vs, ve}
			var field string
			switch string(key) {
			case "content":
				field = "content"
			case "refusal":
				field = "refusal"
			case "tool_calls":
				r.toolCalls(data, v, prefix, base)
				continue
			default:
				continue
			}
			if isString(data, v) {
				s := base
				s.lit, s.field, s.key = v, field, r.extend(prefix, field)
				r.addSite(s)
			}
		}
	}
	return kindDelta
}

// toolCalls adds the arguments of every tool call in a chat delta's tool_calls.
func (r *reader) toolCalls(data []byte, v, prefix span, base site) {
	a, ok := array(data, v.s)
	if !ok {
		return
	}
	for j := 0; ; j++ {
		es, _, ok := a.next()
		if !ok {
			return
		}
		tm, ok := object(data, es)
		if !ok {
			continue
		}
		var idx, fn span
		for {
			key, vs, ve, ok := tm.next()
			if !ok {
				break
			}
			switch string(key) {
			case "index":
				idx = span{vs, ve}
			case "function":
				fn = span{vs, ve}
			}
		}
		fm, ok := object(data, fn.s)
		if !fn.ok() || !ok {
			continue
		}
		for {
			key, vs, ve, ok := fm.next()
			if !ok {
				break
			}
			if string(key) == "arguments" && isString(data, span{vs, ve}) {
				s := base
				s.lit, s.jsonText, s.tool, s.toolN = span{vs, ve}, true, idx, j
				ks := len(r.keys)
				r.keys = append(r.keys, r.keys[prefix.s:prefix.e]...)
				r.keys = append(r.keys, "tool "...)
				if idx.ok() {
					r.keys = append(r.keys, data[idx.s:idx.e]...)
				} else {
					r.keys = appendInt(append(r.keys, '#'), j)
				}
				s.key = span{ks, len(r.keys)}
				r.addSite(s)
			}
		}
	}
}

// gemini handles a streamGenerateContent response: the text parts of every candidate.
// Thought parts are never touched, nor are text parts carrying a thoughtSignature;
// other parts (functionCall, ...) holding a token go through Restorer.JSON. Each
// candidate present ends its keys that the event does not continue.
func (r *reader) gemini(data []byte, t *top) kind {
	a, ok := array(data, t.candidates.s)
	if !ok {
		return kindDelta
	}
	for pos := 0; ; pos++ {
		es, ee, ok := a.next()
		if !ok {
			break
		}
		cm, ok := object(data, es)
		if !ok {
			continue
		}
		var idx, content, finish span
		for {
			key, vs, ve, ok := cm.next()
			if !ok {
				break
			}
			switch string(key) {
			case "index":
				idx = span{vs, ve}
			case "content":
				content = span{vs, ve}
			case "finishReason":
				finish = span{vs, ve}
			}
		}
		prefix := r.prefix('g', data, idx, pos)
		r.scopes = append(r.scopes, prefix)
		base := site{final: isString(data, finish) && finish.e-finish.s > 2, shape: shapeGemini,
			outer: t.candidates, elem: span{es, ee}}
		r.parts(data, content, prefix, base)
	}
	return kindDelta
}

// parts adds the text parts of a Gemini candidate's content.
func (r *reader) parts(data []byte, content, prefix span, base site) {
	om, ok := object(data, content.s)
	if !content.ok() || !ok {
		return
	}
	for {
		key, vs, ve, ok := om.next()
		if !ok {
			return
		}
		if string(key) == "parts" {
			base.inner = span{vs, ve}
			break
		}
	}
	a, ok := array(data, base.inner.s)
	if !base.inner.ok() || !ok {
		return
	}
	for p := 0; ; p++ {
		es, _, ok := a.next()
		if !ok {
			return
		}
		pm, ok := object(data, es)
		if !ok {
			continue
		}
		var text span
		thought, signed := false, false
		first := len(r.edits)
		for {
			key, vs, ve, ok := pm.next()
			if !ok {
				break
			}
			v := span{vs, ve}
			switch string(key) {
			case "text":
				text = v
			case "thought":
				thought = string(data[vs:ve]) == "true"
			case "thoughtSignature":
				signed = true
			default:
				if doc := data[vs:ve]; tokenize.Contains(doc) {
					r.edits = append(r.edits, edit{at: v, ext: r.rs.JSON(doc)})
				}
			}
		}
		switch {
		case thought:
			r.edits = r.edits[:first]
		case !signed && isString(data, text):
			s := base
			s.lit = text
			s.key = appendKeyInt(r, prefix, p)
			r.addSite(s)
		}
	}
}

// key adds the key tag+raw value of v to keys.
func (r *reader) key(data []byte, tag string, v span) span {
	ks := len(r.keys)
	r.keys = append(r.keys, tag...)
	r.keys = append(r.keys, data[v.s:v.e]...)
	return span{ks, len(r.keys)}
}

// prefix adds the key prefix "<tag><index>/" of a choice or candidate to keys: its
// index member if present, else its position.
func (r *reader) prefix(tag byte, data []byte, idx span, pos int) span {
	ks := len(r.keys)
	r.keys = append(r.keys, tag)
	if idx.ok() {
		r.keys = append(r.keys, data[idx.s:idx.e]...)
	} else {
		r.keys = appendInt(r.keys, pos)
	}
	r.keys = append(r.keys, '/')
	return span{ks, len(r.keys)}
}

// extend adds prefix+name to keys.
func (r *reader) extend(prefix span, name string) span {
	ks := len(r.keys)
	r.keys = append(r.keys, r.keys[prefix.s:prefix.e]...)
	r.keys = append(r.keys, name...)
	return span{ks, len(r.keys)}
}

func appendKeyInt(r *reader, prefix span, n int) span {
	ks := len(r.keys)
	r.keys = append(r.keys, r.keys[prefix.s:prefix.e]...)
	r.keys = appendInt(r.keys, n)
	return span{ks, len(r.keys)}
}

func (r *reader) addSite(s site) { r.sites = append(r.sites, s) }
