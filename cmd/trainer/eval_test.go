package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// trainedModel trains a tiny model on a synthetic corpus and returns the
// model path and the corpus.
func trainedModel(t *testing.T) (string, string) {
	t.Helper()
	dir := t.TempDir()
	corpus := synthCorpus(t, dir, 300, 4)
	out := filepath.Join(dir, "run")
	if code, _, stderr := trainer(t, tinyTrain(corpus, out, filepath.Join(dir, "cache"))...); code != exitOK {
		t.Fatalf("train exit %d:\n%s", code, stderr)
	}
	return filepath.Join(out, "model.bin"), corpus
}

func TestEvalJSON(t *testing.T) {
	modelPath, corpus := trainedModel(t)
	code, stdout, stderr := trainer(t, "eval", "--model", modelPath, "--test", corpus, "--json", "--workers", "2")
	if code != exitOK {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(stdout), &m); err != nil {
		t.Fatalf("not one JSON object: %v\n%s", err, stdout)
	}
	for _, k := range []string{"accuracy", "loss", "balanced_accuracy", "n", "precision", "recall", "f1", "confusion"} {
		if _, ok := m[k]; !ok {
			t.Fatalf("lacks %q: %s", k, stdout)
		}
	}
	// The classification precision is a number; the arithmetic has its
	// own field rather than overwriting it.
	if _, ok := m["precision"].(float64); !ok || m["arithmetic"] != "fp32" {
		t.Fatalf("precision %v (want a number), arithmetic %v (want fp32): %s", m["precision"], m["arithmetic"], stdout)
	}
	if m["n"].(float64) != 300 {
		t.Fatalf("n = %v, want 300", m["n"])
	}
	// One worker scores the same as two.
	_, one, _ := trainer(t, "eval", "--model", modelPath, "--test", corpus, "--json", "--workers", "1")
	var m1 map[string]any
	json.Unmarshal([]byte(one), &m1)
	if m1["accuracy"] != m["accuracy"] || m1["loss"] != m["loss"] {
		t.Fatalf("1 worker %v, 2 workers %v", m1, m)
	}
	code, text, _ := trainer(t, "eval", "--model", modelPath, "--test", corpus)
	if code != exitOK || !strings.Contains(text, "balanced accuracy") || !strings.Contains(text, "actual pos") {
		t.Fatalf("text report:\n%s", text)
	}
}

func TestEvalBadInput(t *testing.T) {
	modelPath, corpus := trainedModel(t)
	dir := t.TempDir()
	otherLabels := filepath.Join(dir, "stars.ft.txt")
	os.WriteFile(otherLabels, []byte("__label__1 bad\n__label__5 five stars, great\n"), 0o644)
	raw, _ := os.ReadFile(modelPath)
	otherVersion := filepath.Join(dir, "v99.bin")
	bumped := append([]byte(nil), raw...)
	bumped[8] = 99 // the format version follows the 8 magic bytes
	os.WriteFile(otherVersion, bumped, 0o644)
	truncated := filepath.Join(dir, "short.bin")
	os.WriteFile(truncated, raw[:len(raw)/2], 0o644)
	cases := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"other labels", []string{"eval", "--model", modelPath, "--test", otherLabels}, exitRuntime, "line 2"},
		{"other version", []string{"eval", "--model", otherVersion, "--test", corpus}, exitRuntime, "version 99"},
		{"truncated model", []string{"eval", "--model", truncated, "--test", corpus}, exitRuntime, "truncated"},
		{"missing test", []string{"eval", "--model", modelPath}, exitUsage, "--test FILE is required"},
		{"unknown flag", []string{"eval", "--model", modelPath, "--test", corpus, "--bogus"}, exitUsage, "bogus"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := trainer(t, c.args...)
			if code != c.code || !strings.Contains(stderr, c.msg) {
				t.Fatalf("exit %d, want %d with %q; stderr:\n%s", code, c.code, c.msg, stderr)
			}
		})
	}
}

// TestEvalUsesTrainingLabelMap: a model trained with the labels inverted
// ('1=pos 2=neg') is evaluated with that map when eval is given none, the
// same as when the map is given again, and not as the default map reads.
func TestEvalUsesTrainingLabelMap(t *testing.T) {
	dir := t.TempDir()
	corpus := synthCorpus(t, dir, 400, 4)
	out := filepath.Join(dir, "run")
	if code, _, stderr := trainer(t, tinyTrain(corpus, out, filepath.Join(dir, "cache"), "--label-map", "1=pos 2=neg")...); code != exitOK {
		t.Fatalf("train: exit %d; stderr:\n%s", code, stderr)
	}
	accuracy := func(extra ...string) float64 {
		t.Helper()
		args := append([]string{"eval", "--model", filepath.Join(out, "model.bin"), "--test", corpus, "--json"}, extra...)
		code, stdout, stderr := trainer(t, args...)
		if code != exitOK {
			t.Fatalf("eval %v: exit %d; stderr:\n%s", extra, code, stderr)
		}
		var r struct{ Accuracy float64 }
		if err := json.Unmarshal([]byte(stdout), &r); err != nil {
			t.Fatalf("eval %v: %v in %q", extra, err, stdout)
		}
		return r.Accuracy
	}
	stored, given, flipped := accuracy(), accuracy("--label-map", "1=pos 2=neg"), accuracy("--label-map", "1=neg 2=pos")
	if stored != given {
		t.Errorf("accuracy %.4f with the model's own map, %.4f with it given again", stored, given)
	}
	if math.Abs(stored+flipped-1) > 1e-9 || stored <= 0.5 {
		t.Errorf("accuracy %.4f with the model's map and %.4f with the default: want them to sum to 1, the first above chance", stored, flipped)
	}
}
