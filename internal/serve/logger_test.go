package serve

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

func TestNewLogger(t *testing.T) {
	cases := []struct {
		name   string
		asJSON bool
		level  slog.Level
		lines  int
	}{
		{"text info", false, slog.LevelInfo, 2},
		{"json info", true, slog.LevelInfo, 2},
		{"json debug", true, slog.LevelDebug, 3},
		{"text error", false, slog.LevelError, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var b bytes.Buffer
			l := NewLogger(&b, c.asJSON, c.level)
			l.Debug("request")
			l.Info("listening", "addr", "127.0.0.1:1")
			l.Warn("reload failed")
			lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
			if b.Len() == 0 {
				lines = nil
			}
			if len(lines) != c.lines {
				t.Fatalf("%d lines, want %d:\n%s", len(lines), c.lines, b.String())
			}
			for _, l := range lines {
				if c.asJSON != json.Valid([]byte(l)) {
					t.Errorf("line %q: JSON %v, want %v", l, json.Valid([]byte(l)), c.asJSON)
				}
			}
		})
	}
}
