package console

import (
	"bytes"
	"strings"
	"testing"

	"trainer/data"
)

// TestStages checks that prep and train show reading the same way:
// warnings as warning lines (not as a meter of their own), one final line
// per stage even when stages overlap, and no totals after a failure.
func TestStages(t *testing.T) {
	warn := data.ProgressEvent{Warning: "cache c: vocab.txt unreadable; rebuilding"}
	a1 := data.ProgressEvent{Stage: "encode train", Done: 5, Total: 10, Reviews: 50}
	b1 := data.ProgressEvent{Stage: "encode test", Done: 1, Total: 4, Reviews: 10}
	aEnd := data.ProgressEvent{Stage: "encode train", Done: 10, Total: 10, Reviews: 100, Final: true}
	cases := []struct {
		name   string
		events []data.ProgressEvent
		ok     bool
		want   []string // the lines, in order, by prefix
	}{
		{"warning", []data.ProgressEvent{warn}, true, []string{"trainer: warning: cache c: vocab.txt unreadable; rebuilding"}},
		{"overlapping stages", []data.ProgressEvent{a1, b1, aEnd}, true, []string{"trainer: encode train: 100%", "trainer: encode test:  25%"}},
		{"failure", []data.ProgressEvent{a1, b1}, false, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			progress, done := New(&buf, false).Stages()
			for _, e := range c.events {
				progress(e)
			}
			done(c.ok)
			done(c.ok) // a second call adds nothing
			var lines []string
			if s := strings.TrimSpace(buf.String()); s != "" {
				lines = strings.Split(s, "\n")
			}
			if len(lines) != len(c.want) {
				t.Fatalf("got %d lines %q, want %d", len(lines), lines, len(c.want))
			}
			for i, w := range c.want {
				if !strings.HasPrefix(lines[i], w) {
					t.Errorf("line %d = %q, want prefix %q", i, lines[i], w)
				}
			}
		})
	}
}
