package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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

func TestWriteRemovesStaleTemporaries(t *testing.T) {
	old := processStart.Add(-time.Hour)
	cases := []struct {
		name  string
		mtime time.Time
		kept  bool
	}{
		{".checkpoint.bin.tmp123456789", old, false}, // interrupted write of an earlier process
		{".checkpoint.bin.tmp1", old, false},         // any digits
		{".checkpoint.bin.tmp42", time.Now(), true},  // may be a write of this process
		{".checkpoint.bin.tmpnotdigits", old, true},  // not our pattern
		{".checkpoint.bin.tmp", old, true},           // no digits
		{".model.bin.tmp123", old, true},             // another target's
		{"checkpoint.bin.tmp123", old, true},         // no leading dot
		{".checkpoint.bin.tmp12.bak", old, true},     // something after the digits
		{".checkpoint.bin.tmp99x" + strings.Repeat("9", 3), old, true},
	}
	dir := t.TempDir()
	for _, c := range cases {
		p := filepath.Join(dir, c.name)
		if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, c.mtime, c.mtime); err != nil {
			t.Fatal(err)
		}
	}
	if err := WriteBytes(filepath.Join(dir, "checkpoint.bin"), []byte("new")); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		_, err := os.Stat(filepath.Join(dir, c.name))
		if kept := err == nil; kept != c.kept {
			t.Errorf("%s: kept = %v, want %v", c.name, kept, c.kept)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "checkpoint.bin")); string(b) != "new" {
		t.Errorf("target holds %q", b)
	}
}

func TestRemoveStaleReportsWhatItRemoved(t *testing.T) {
	dir := t.TempDir()
	old := processStart.Add(-time.Minute)
	for _, n := range []string{".f.tmp1", ".f.tmp22", ".g.tmp3"} {
		p := filepath.Join(dir, n)
		os.WriteFile(p, nil, 0o600)
		os.Chtimes(p, old, old)
	}
	removed, err := RemoveStale(filepath.Join(dir, "f"))
	if err != nil || strings.Join(removed, " ") != ".f.tmp1 .f.tmp22" {
		t.Fatalf("removed %q (%v), want .f.tmp1 and .f.tmp22", removed, err)
	}
	if _, err := RemoveStale(filepath.Join(dir, "missing-dir", "f")); err == nil {
		t.Fatal("listing a missing directory: no error")
	}
}

func TestWriteFileCanSeek(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	err := WriteFile(path, func(f *os.File) error {
		if _, err := f.WriteString("....body"); err != nil {
			return err
		}
		_, err := f.WriteAt([]byte("head"), 0)
		return err
	})
	if b, _ := os.ReadFile(path); err != nil || string(b) != "headbody" {
		t.Fatalf("content %q (%v), want headbody", b, err)
	}
}
