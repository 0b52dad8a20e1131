package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteKeepsOldOnFailure(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.bin")
	os.WriteFile(path, []byte("good"), 0o644)
	err := Write(path, func(w io.Writer) error {
		io.WriteString(w, "half a fil")
		return errors.New("disk full")
	})
	if err == nil || !strings.Contains(err.Error(), "disk full") || !strings.Contains(err.Error(), path) {
		t.Fatalf("error %v, want one naming %s and the cause", err, path)
	}
	if b, _ := os.ReadFile(path); string(b) != "good" {
		t.Fatalf("old file replaced by %q", b)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("temporary file left: %d entries", len(ents))
	}
}

func TestWriteBytesReplacesWholeFile(t *testing.T) {
	cases := []struct {
		name  string
		old   string
		parts []string
		want  string
	}{
		{"new file", "", []string{"ab", "c"}, "abc"},
		{"longer old file", "0123456789", []string{"xy"}, "xy"},
		{"empty", "old", nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "f")
			if c.old != "" {
				os.WriteFile(path, []byte(c.old), 0o600)
			}
			var parts [][]byte
			for _, p := range c.parts {
				parts = append(parts, []byte(p))
			}
			if err := WriteBytes(path, parts...); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(path)
			if err != nil || string(b) != c.want {
				t.Fatalf("content %q (%v), want %q", b, err, c.want)
			}
			if st, _ := os.Stat(path); st.Mode().Perm() != 0o644 {
				t.Fatalf("mode %v, want 0644", st.Mode().Perm())
			}
		})
	}
}

func TestWriteIntoMissingDirectoryNamesPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no", "such", "f")
	err := WriteBytes(path, []byte("x"))
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("error %v, want one naming %s", err, path)
	}
}
