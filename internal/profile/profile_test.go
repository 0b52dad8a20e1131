package profile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCPU: a path gets a profile once stopped, no path gets nothing, and
// a path that cannot be created is refused before profiling starts.
func TestCPU(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name, path string
		err        string
	}{
		{"profile", filepath.Join(dir, "cpu.pprof"), ""},
		{"none", "", ""},
		{"bad path", filepath.Join(dir, "missing", "cpu.pprof"), "cpu profile: open "},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			stop, err := CPU(c.path)
			if c.err != "" {
				if err == nil || !strings.HasPrefix(err.Error(), c.err) {
					t.Fatalf("error %v, want one starting %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			stop()
			if c.path == "" {
				return
			}
			if fi, err := os.Stat(c.path); err != nil || fi.Size() == 0 {
				t.Fatalf("no profile written: %v", err)
			}
		})
	}
}
