package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"trainer/internal/predict"
	"trainer/model"
)

// TestEncodePrintsPredictsInputs: encode prints exactly the ids predict
// reads and, for a model with the wide n-gram path (the default), their
// n-gram features after a tab; a model without the path keeps the plain
// format, one line of ids per review.
func TestEncodePrintsPredictsInputs(t *testing.T) {
	defaultModel, corpus := trainedModel(t)
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain")
	if code, _, stderr := trainer(t, tinyTrain(corpus, plain, filepath.Join(dir, "cache"), "--ngrams", "0")...); code != exitOK {
		t.Fatalf("train --ngrams 0: exit %d:\n%s", code, stderr)
	}
	for _, modelPath := range []string{defaultModel, filepath.Join(plain, "model.bin")} {
		m, err := predict.Load(modelPath, predict.Options{})
		if err != nil {
			t.Fatal(err)
		}
		cfg := m.File.Config
		t.Run(fmt.Sprintf("ngrams=%d", cfg.Ngrams), func(t *testing.T) {
			long := strings.Repeat("great product ", m.MaxLen()) // longer than max len: cut
			texts := []string{"great great product, love it", "", "zzzunknownzzz", long}
			want := m.Inputs(texts)
			in := filepath.Join(t.TempDir(), "in.txt")
			os.WriteFile(in, []byte("__label__1 "+strings.Join(texts, "\n")+"\n"), 0o644)
			for _, args := range [][]string{
				append([]string{"encode", "--model", modelPath}, texts...),
				{"encode", "--model", modelPath, "--file", in},
			} {
				code, out, stderr := trainer(t, args...)
				if code != exitOK {
					t.Fatalf("%v: exit %d: %s", args, code, stderr)
				}
				lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
				if len(lines) != len(texts) {
					t.Fatalf("%d lines for %d texts", len(lines), len(texts))
				}
				for i, l := range lines {
					idsPart, featPart, tab := strings.Cut(l, "\t")
					if ids := atois(t, idsPart); !slices.Equal(ids, want[i]) {
						t.Errorf("%v review %d: %v, predict reads %v", args[3:], i, ids, want[i])
					}
					if tab != (cfg.Ngrams > 0) {
						t.Fatalf("review %d: line %q: tab %v with --ngrams %d", i, l, tab, cfg.Ngrams)
					}
					if wantFeats := model.NgramFeatures(want[i], cfg, nil); tab && !slices.Equal(atois(t, featPart), wantFeats) {
						t.Errorf("review %d: features %q, want %v", i, featPart, wantFeats)
					}
				}
			}
			if n := len(want[3]); n != m.MaxLen() {
				t.Errorf("a long review encoded to %d ids, max len %d", n, m.MaxLen())
			}
			code, js, _ := trainer(t, "encode", "--model", modelPath, "--json", texts[0])
			var rec struct {
				IDs      []int32
				Length   int
				NgramIDs []int32 `json:"ngram_ids"`
			}
			if code != exitOK || json.Unmarshal([]byte(js), &rec) != nil || rec.Length != len(want[0]) || !slices.Equal(rec.IDs, want[0]) ||
				!slices.Equal(rec.NgramIDs, model.NgramFeatures(want[0], cfg, nil)) || (cfg.Ngrams == 0) != !strings.Contains(js, "ngram_ids") {
				t.Errorf("--json: %q", js)
			}
		})
	}
}

// atois parses space-separated ids.
func atois(t *testing.T, s string) []int32 {
	t.Helper()
	var ids []int32
	for _, f := range strings.Fields(s) {
		n, err := strconv.Atoi(f)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, int32(n))
	}
	return ids
}

func TestExportWritesONNX(t *testing.T) {
	modelPath, _ := trainedModel(t)
	out := filepath.Join(t.TempDir(), "export")
	code, stdout, stderr := trainer(t, "export", "--model", modelPath, "--format", "onnx", "--out", out)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	path := filepath.Join(out, "model.onnx")
	if st, err := os.Stat(path); err != nil || st.Size() < 100 || strings.TrimSpace(stdout) != path {
		t.Errorf("export printed %q; file: %v", stdout, err)
	}
	// The default model has the wide n-gram path: its graph takes the
	// features as a third input rather than dropping the path.
	if raw, _ := os.ReadFile(path); !bytes.Contains(raw, []byte("ngram_ids")) {
		t.Error("the default model's graph has no ngram_ids input")
	}
}

func TestServeExportEncodeUsage(t *testing.T) {
	modelPath, _ := trainedModel(t)
	damaged := filepath.Join(t.TempDir(), "damaged.bin")
	raw, _ := os.ReadFile(modelPath)
	raw[len(raw)-1] ^= 1
	os.WriteFile(damaged, raw, 0o644)
	cases := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"serve"}, exitUsage, "--model"},
		{[]string{"serve", "--model", modelPath, "--workers", "-1"}, exitUsage, "--workers"},
		{[]string{"serve", "--model", modelPath, "--log-format", "xml"}, exitUsage, "--log-format"},
		{[]string{"serve", "--model", modelPath, "--precision", "fp16"}, exitUsage, "--precision"},
		{[]string{"serve", "--model", damaged}, exitRuntime, "checksum"},
		{[]string{"serve", "--model", modelPath, "--addr", "256.0.0.1:1"}, exitRuntime, "serve"},
		{[]string{"export", "--model", modelPath}, exitUsage, "--out"},
		{[]string{"export", "--model", modelPath, "--out", "x", "--format", "tflite"}, exitUsage, "--format"},
		{[]string{"export", "--model", damaged, "--out", t.TempDir()}, exitRuntime, "checksum"},
		{[]string{"encode", "--model", modelPath}, exitUsage, "no reviews"},
		{[]string{"encode", "--model", modelPath, "--file", "/nonexistent/x"}, exitRuntime, "no such file"},
	}
	for _, c := range cases {
		code, _, stderr := trainer(t, c.args...)
		if code != c.code || !strings.Contains(stderr, c.msg) || strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
			t.Errorf("%v: exit %d, stderr %q; want %d and one line naming %q", c.args, code, stderr, c.code, c.msg)
		}
	}
}
