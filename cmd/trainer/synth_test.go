package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSynthRefusesToOverwrite: an existing --out survives a synth without
// --overwrite, byte for byte, and is replaced with it.
func TestSynthRefusesToOverwrite(t *testing.T) {
	out := filepath.Join(t.TempDir(), "corpus.ft.txt")
	const precious = "__label__2 my only copy\n"
	os.WriteFile(out, []byte(precious), 0o644)
	code, _, stderr := trainer(t, "synth", "--n", "5", "--out", out, "--workers", "1")
	if code != exitUsage || !strings.Contains(stderr, "--overwrite") {
		t.Fatalf("exit %d, want %d naming --overwrite; stderr:\n%s", code, exitUsage, stderr)
	}
	if b, _ := os.ReadFile(out); string(b) != precious {
		t.Fatalf("file changed to %q", b)
	}
	if code, _, stderr := trainer(t, "synth", "--n", "5", "--out", out, "--workers", "1", "--overwrite"); code != exitOK {
		t.Fatalf("--overwrite: exit %d:\n%s", code, stderr)
	}
	if b, _ := os.ReadFile(out); string(b) == precious || strings.Count(string(b), "\n") != 5 {
		t.Fatalf("--overwrite did not write 5 reviews: %q", b)
	}
}
