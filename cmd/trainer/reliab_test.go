package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"trainer/internal/runlock"
	"trainer/model"
)

// TestTrainResumeProvesSameRun: a resume with other --epochs, or after the
// training data changed under the same path, is refused with one clear
// line; the untouched run then resumes.
func TestTrainResumeProvesSameRun(t *testing.T) {
	dir := t.TempDir()
	corpus := synthCorpus(t, dir, 300, 3)
	cache := filepath.Join(dir, "cache")
	out := filepath.Join(dir, "run")
	o := mustTrainOptions(t, tinyTrain(corpus, out, cache))
	ctx, cancel := context.WithCancel(context.Background())
	steps := 0
	err := runTrainHooked(ctx, o, func() {
		if steps++; steps == 5 {
			cancel()
		}
	})
	cancel()
	if err == nil || !strings.Contains(err.Error(), "interrupted") {
		t.Fatalf("run returned %v", err)
	}
	code, _, stderr := trainer(t, tinyTrain(corpus, out, cache, "--resume", out, "--epochs", "3")...)
	if code != exitUsage || !strings.Contains(stderr, "--epochs 3, but the run was started with --epochs 2") {
		t.Fatalf("other --epochs: exit %d; stderr:\n%s", code, stderr)
	}
	// The same file with every label flipped: same path, same size.
	orig, _ := os.ReadFile(corpus)
	flip := strings.NewReplacer("__label__1", "__label__2", "__label__2", "__label__1")
	os.WriteFile(corpus, []byte(flip.Replace(string(orig))), 0o644)
	code, _, stderr = trainer(t, tinyTrain(corpus, out, cache, "--resume", out)...)
	if code != exitUsage || !strings.Contains(stderr, "train data changed since the checkpoint") {
		t.Fatalf("flipped labels: exit %d; stderr:\n%s", code, stderr)
	}
	os.WriteFile(corpus, orig, 0o644)
	if code, _, stderr := trainer(t, tinyTrain(corpus, out, cache, "--resume", out)...); code != exitOK {
		t.Fatalf("same data: exit %d; stderr:\n%s", code, stderr)
	}
}

// TestTrainLocksRunDirectory: while another process holds --out, a run
// fails at once naming the holder, and writes nothing there.
func TestTrainLocksRunDirectory(t *testing.T) {
	dir := t.TempDir()
	corpus := synthCorpus(t, dir, 100, 4)
	out := filepath.Join(dir, "run")
	os.MkdirAll(out, 0o755)
	l, err := runlock.Acquire(out)
	if err != nil {
		t.Fatal(err)
	}
	code, _, stderr := trainer(t, tinyTrain(corpus, out, filepath.Join(dir, "cache"))...)
	l.Release()
	if code != exitRuntime || !strings.Contains(stderr, "in use by process "+strconv.Itoa(os.Getpid())) {
		t.Fatalf("exit %d, want %d naming pid %d; stderr:\n%s", code, exitRuntime, os.Getpid(), stderr)
	}
	if entries, _ := os.ReadDir(out); len(entries) != 1 {
		t.Fatalf("the refused run wrote into %s: %v", out, entries)
	}
}

// TestTrainSkipBadCounts: records --skip-bad drops are counted by reason on
// stderr, in the first line of metrics.jsonl and in the model file.
func TestTrainSkipBadCounts(t *testing.T) {
	dir := t.TempDir()
	corpus := synthCorpus(t, dir, 300, 5)
	body, _ := os.ReadFile(corpus)
	bad := append([]byte("__label__7 unknown label\nno label at all\n__label__9 another\n"), body...)
	os.WriteFile(corpus, bad, 0o644)
	out := filepath.Join(dir, "run")
	code, _, stderr := trainer(t, tinyTrain(corpus, out, filepath.Join(dir, "cache"), "--skip-bad")...)
	if code != exitOK {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "3 of 303 records dropped: bad_label 2, missing_label 1") {
		t.Fatalf("stderr lacks the counts:\n%s", stderr)
	}
	metrics, _ := os.ReadFile(filepath.Join(out, "metrics.jsonl"))
	var first struct {
		Dropped map[string]map[string]int64 `json:"dropped"`
	}
	json.Unmarshal(bytes.SplitN(metrics, []byte("\n"), 2)[0], &first)
	if first.Dropped["train"]["bad_label"] != 2 || first.Dropped["train"]["missing_label"] != 1 {
		t.Fatalf("metrics.jsonl first line: dropped %v", first.Dropped)
	}
	f, err := model.Load(filepath.Join(out, "model.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(f.Extra["dropped"], `"bad_label":2`) {
		t.Fatalf("model file extra: %v", f.Extra)
	}
}

// TestTrainTooSmallForDev: a training file of one review has no dev set to
// select a model with; the run says so instead of reporting 0% accuracy.
func TestTrainTooSmallForDev(t *testing.T) {
	dir := t.TempDir()
	one := filepath.Join(dir, "one.ft.txt")
	os.WriteFile(one, []byte("__label__2 great product works well\n"), 0o644)
	code, stdout, stderr := trainer(t, tinyTrain(one, filepath.Join(dir, "run"), filepath.Join(dir, "cache"))...)
	if code != exitRuntime || !strings.Contains(stderr, "no dev set: 1 review is too few") || strings.Contains(stdout, "accuracy") {
		t.Fatalf("exit %d; stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
}
