package serve

import (
	"io"
	"log/slog"
)

// NewLogger is the server's structured logger (Options.Logger) on w: one
// line of text per event, or with asJSON one JSON object, at level and
// above (debug adds a line per request).
func NewLogger(w io.Writer, asJSON bool, level slog.Level) *slog.Logger {
	ho := &slog.HandlerOptions{Level: level}
	if asJSON {
		return slog.New(slog.NewJSONHandler(w, ho))
	}
	return slog.New(slog.NewTextHandler(w, ho))
}
