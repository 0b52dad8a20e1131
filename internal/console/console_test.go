package console

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestMeterOutput(t *testing.T) {
	cases := []struct {
		name string
		json bool
		want []string
	}{
		{"text", false, []string{"trainer: encode train: 100%", "1.50M reviews", "MB/s", "done in"}},
		{"json", true, []string{`"event":"progress"`, `"stage":"encode train"`, `"reviews":1500000`, `"final":true`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			l := New(&buf, c.json)
			m := l.Meter("encode train", 1000, true, "reviews")
			m.Update(500, 700000) // within plainInterval of the start: no line yet
			if buf.Len() != 0 {
				t.Fatalf("progress line too early: %q", buf.String())
			}
			m.Update(1000, 1500000)
			m.Finish()
			m.Finish() // a second Finish prints nothing
			out := buf.String()
			if strings.Count(out, "\n") != 1 {
				t.Fatalf("want one line, got %q", out)
			}
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Fatalf("output %q lacks %q", out, w)
				}
			}
			if c.json {
				var v map[string]any
				if err := json.Unmarshal([]byte(out), &v); err != nil {
					t.Fatalf("not JSON: %v", err)
				}
			}
		})
	}
}

func TestLoggerWarnings(t *testing.T) {
	var buf bytes.Buffer
	New(&buf, false).Warnf("cache %s corrupt", "x")
	New(&buf, true).Infof("hello")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if lines[0] != "trainer: warning: cache x corrupt" || !strings.Contains(lines[1], `"msg":"hello"`) {
		t.Fatalf("got %q", lines)
	}
}
