package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestExitStatus(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want int
	}{
		{"version", []string{"trainer", "version"}, exitOK},
		{"unknown flag", []string{"trainer", "version", "--no-such-flag"}, exitUsage},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if got := run(c.args, &out, &errb); got != c.want {
				t.Fatalf("exit %d, want %d; stderr: %s", got, c.want, errb.String())
			}
			if c.want != exitOK && !strings.Contains(errb.String(), "trainer:") {
				t.Fatalf("stderr lacks an error line: %q", errb.String())
			}
		})
	}
}
