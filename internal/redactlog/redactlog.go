// Package redactlog wraps a slog.Handler so that anything a scanner recognises as a
// secret is cut out of log messages and string attributes before they are written: a
// second line of defence behind secret.Value.
package redactlog

import (
	"context"
	"fmt"
	"log/slog"
)

// Replacement is what a redacted span becomes.
const Replacement = "[REDACTED]"

// Scanner returns the byte spans of secrets in s, sorted and non-overlapping.
type Scanner func(s []byte) [][2]int

// Handler redacts messages and string attributes before passing records on.
type Handler struct {
	next slog.Handler
	scan Scanner
}

// New returns a Handler writing to next.
func New(next slog.Handler, scan Scanner) *Handler { return &Handler{next: next, scan: scan} }

// Enabled reports whether next handles level.
func (h *Handler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

// Handle redacts r and passes it on.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, h.redact(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.attr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

// WithAttrs redacts attrs and returns a Handler with them.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		red[i] = h.attr(a)
	}
	return &Handler{next: h.next.WithAttrs(red), scan: h.scan}
}

// WithGroup returns a Handler that opens a group.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{next: h.next.WithGroup(name), scan: h.scan}
}

func (h *Handler) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, h.redact(v.String()))
	case slog.KindGroup:
		g := v.Group()
		red := make([]any, len(g))
		for i, ga := range g {
			red[i] = h.attr(ga)
		}
		return slog.Group(a.Key, red...)
	case slog.KindAny:
		if s, ok := v.Any().([]string); ok {
			red := make([]string, len(s))
			for i := range s {
				red[i] = h.redact(s[i])
			}
			return slog.Any(a.Key, red)
		}
		// Anything else (errors, byte slices, Stringers, maps, structs) is printed
		// here, redacted, and passed on as a string: no handler gets to print it raw.
		var text string
		switch x := v.Any().(type) {
		case error:
			text = x.Error()
		case []byte:
			text = string(x)
		default:
			text = fmt.Sprint(x)
		}
		return slog.String(a.Key, h.redact(text))
	}
	return slog.Attr{Key: a.Key, Value: v}
}

func (h *Handler) redact(s string) string {
	spans := h.scan([]byte(s))
	if len(spans) == 0 {
		return s
	}
	out := make([]byte, 0, len(s))
	last := 0
	for _, sp := range spans {
		if sp[0] < last || sp[1] > len(s) || sp[0] > sp[1] {
			continue
		}
		out = append(out, s[last:sp[0]]...)
		out = append(out, Replacement...)
		last = sp[1]
	}
	return string(append(out, s[last:]...))
}
