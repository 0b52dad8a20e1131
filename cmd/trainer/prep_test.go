package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPrepExitStatus(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.txt")
	os.WriteFile(good, []byte("__label__2 Great: loved it\n__label__1 Bad: hated it\n"), 0o644)
	bad := filepath.Join(dir, "bad.txt")
	os.WriteFile(bad, []byte("__label__2 Great: loved it\n__label__9 what\n"), 0o644)
	cache := filepath.Join(dir, "cache")
	cases := []struct {
		name    string
		args    []string
		want    int
		errWant string
	}{
		{"ok", []string{"--train", good, "--cache-dir", cache}, exitOK, ""},
		{"ok json", []string{"--train", good, "--cache-dir", cache, "--json"}, exitOK, ""},
		{"missing file", []string{"--train", filepath.Join(dir, "nope.txt"), "--cache-dir", cache}, exitRuntime, "nope.txt"},
		{"bad line", []string{"--train", bad, "--cache-dir", cache}, exitRuntime, "line 2"},
		{"skip bad", []string{"--train", bad, "--cache-dir", cache, "--skip-bad"}, exitOK, ""},
		{"bad flag", []string{"--train", good, "--no-such-flag"}, exitUsage, ""},
		{"no train", []string{"--cache-dir", cache}, exitUsage, "--train"},
		{"bad tokenizer", []string{"--train", good, "--tokenizer", "nltk"}, exitUsage, "tokenizer"},
		{"bad label map", []string{"--train", good, "--label-map", "1=maybe"}, exitUsage, "label-map"},
		{"bad vocab size", []string{"--train", good, "--vocab-size", "1"}, exitUsage, "vocab-size"},
		{"bad log format", []string{"--train", good, "--log-format", "xml"}, exitUsage, "log-format"},
		{"stray argument", []string{"--train", good, "extra"}, exitUsage, "extra"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			got := run(append([]string{"trainer", "prep"}, c.args...), &out, &errb)
			if got != c.want {
				t.Fatalf("exit %d, want %d; stderr: %s", got, c.want, errb.String())
			}
			if c.want != exitOK {
				lines := strings.Count(errb.String(), "trainer: ")
				if lines != 1 || !strings.Contains(errb.String(), c.errWant) {
					t.Fatalf("want one error line mentioning %q, got %q", c.errWant, errb.String())
				}
			}
		})
	}
}

func TestPrepJSONReport(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.txt")
	os.WriteFile(in, []byte("__label__2 Great: loved it\n\n__label__1 Bad: hated it\n__label__1 ...: !!!\n"), 0o644)
	args := []string{"trainer", "prep", "--train", in, "--test", in, "--cache-dir", filepath.Join(dir, "c"), "--json", "--min-count", "1", "--max-len", "2"}
	for i, wantHit := range []bool{false, true} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != exitOK {
			t.Fatalf("run %d: exit %d: %s", i, code, errb.String())
		}
		var rep map[string]any
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
			t.Fatalf("run %d: not one JSON object: %v\n%s", i, err, out.String())
		}
		for _, k := range []string{"reviews_read", "kept", "dropped", "tokens", "unk_rate", "labels", "cache_path", "cache_hit", "seconds", "test"} {
			if _, ok := rep[k]; !ok {
				t.Fatalf("run %d: report lacks %q: %s", i, k, out.String())
			}
		}
		if rep["reviews_read"] != 3.0 || rep["kept"] != 2.0 || rep["cache_hit"] != wantHit || rep["truncated_reviews"] != 2.0 {
			t.Fatalf("run %d: %s", i, out.String())
		}
		if d := rep["dropped"].(map[string]any); d["empty_after_cleaning"] != 1.0 {
			t.Fatalf("run %d: dropped %v", i, d)
		}
	}
}

func TestSynthCommand(t *testing.T) {
	dir := t.TempDir()
	out1, out2 := filepath.Join(dir, "a.txt"), filepath.Join(dir, "b.txt")
	for _, out := range []string{out1, out2} {
		var so, se bytes.Buffer
		if code := run([]string{"trainer", "synth", "--n", "300", "--seed", "5", "--out", out, "--workers", "2"}, &so, &se); code != exitOK {
			t.Fatalf("exit %d: %s", code, se.String())
		}
	}
	a, _ := os.ReadFile(out1)
	b, _ := os.ReadFile(out2)
	if len(a) == 0 || !bytes.Equal(a, b) || bytes.Count(a, []byte("\n")) != 300 {
		t.Fatalf("synth output not 300 reproducible lines (%d bytes)", len(a))
	}
	for _, args := range [][]string{{"--n", "0", "--out", out1}, {"--n", "5"}, {"--n", "5", "--out", out1, "--bogus"}} {
		var so, se bytes.Buffer
		if code := run(append([]string{"trainer", "synth"}, args...), &so, &se); code != exitUsage {
			t.Fatalf("%v: exit %d, want %d", args, code, exitUsage)
		}
	}
	var so, se bytes.Buffer
	if code := run([]string{"trainer", "synth", "--n", "5", "--out", filepath.Join(dir, "no", "such", "dir.txt")}, &so, &se); code != exitRuntime {
		t.Fatalf("unwritable output: exit %d, want %d", code, exitRuntime)
	}
}

// TestPrepQuickCacheCheck: by default prep proves a cache against the whole
// input and rebuilds after an edit in the middle that keeps the size and
// the modification time; --quick-cache-check, the explicit opt-in, reuses
// it on the key alone.
func TestPrepQuickCacheCheck(t *testing.T) {
	dir := t.TempDir()
	var b bytes.Buffer
	for i := 0; b.Len() < 3<<20; i++ {
		b.WriteString([]string{"__label__1 awful broken thing\n", "__label__2 great lovely thing\n"}[i%2])
	}
	in := filepath.Join(dir, "big.ft.txt")
	os.WriteFile(in, b.Bytes(), 0o644)
	cache := filepath.Join(dir, "cache")
	hit := func(extra ...string) bool {
		t.Helper()
		code, stdout, stderr := trainer(t, append([]string{"prep", "--train", in, "--cache-dir", cache, "--workers", "1", "--json"}, extra...)...)
		var r struct {
			CacheHit bool `json:"cache_hit"`
		}
		if code != exitOK || json.Unmarshal([]byte(stdout), &r) != nil {
			t.Fatalf("exit %d:\n%s\n%s", code, stdout, stderr)
		}
		return r.CacheHit
	}
	if hit() || !hit() {
		t.Fatal("first prep must build and the second reuse")
	}
	st, _ := os.Stat(in)
	raw := b.Bytes()
	mid := bytes.LastIndex(raw[:len(raw)/2], []byte("__label__")) + len("__label__")
	raw[mid] ^= '1' ^ '2'
	os.WriteFile(in, raw, 0o644)
	os.Chtimes(in, st.ModTime(), st.ModTime())
	if !hit("--quick-cache-check") {
		t.Fatal("--quick-cache-check did not reuse the cache on its key")
	}
	if hit() {
		t.Fatal("an edit in the middle with the same size and time reused the cache")
	}
}
