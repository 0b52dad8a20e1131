package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"trainer/internal/predict"
	"trainer/model"
)

// TestNonFiniteFlagsRejected: a NaN passes every comparison of a range
// check, so each float flag must be refused by name, with exit 2, before
// any data is read (the training file here does not exist).
func TestNonFiniteFlagsRejected(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "never-read.ft.txt")
	cases := []struct{ flag, value string }{
		{"clip", "nan"}, {"clip", "inf"}, {"clip", "-1"},
		{"weight-decay", "nan"}, {"weight-decay", "inf"},
		{"momentum", "nan"}, {"momentum", "1"},
		{"lr", "nan"}, {"lr", "inf"}, {"lr", "0"},
		{"dev-fraction", "nan"}, {"dev-fraction", "1"},
	}
	for _, c := range cases {
		t.Run(c.flag+"="+c.value, func(t *testing.T) {
			out := filepath.Join(dir, "run-"+c.flag+"-"+c.value)
			code, _, stderr := trainer(t, tinyTrain(missing, out, filepath.Join(dir, "cache"), "--"+c.flag, c.value)...)
			if code != exitUsage || !strings.Contains(stderr, "--"+c.flag) || strings.Contains(stderr, "never-read") {
				t.Fatalf("exit %d, want %d naming --%s before reading data; stderr:\n%s", code, exitUsage, c.flag, stderr)
			}
			if _, err := os.Stat(out); err == nil {
				t.Fatal("a refused run created its output directory")
			}
		})
	}
	for _, cmd := range [][]string{
		{"bench", "--train", missing, "--test", missing, "--clip", "nan"},
		{"bench", "--train", missing, "--test", missing, "--lr", "inf"},
	} {
		if code, _, stderr := trainer(t, cmd...); code != exitUsage || !strings.Contains(stderr, cmd[len(cmd)-2]) {
			t.Fatalf("%q: exit %d; stderr:\n%s", cmd, code, stderr)
		}
	}
}

// TestResumeMissingDirNotCreated: --resume names a run to continue, so a
// typo must fail without leaving an empty directory behind.
func TestResumeMissingDirNotCreated(t *testing.T) {
	dir := t.TempDir()
	corpus := synthCorpus(t, dir, 100, 1)
	gone := filepath.Join(dir, "no-such-run")
	code, _, stderr := trainer(t, tinyTrain(corpus, gone, filepath.Join(dir, "cache"), "--resume", gone)...)
	if code != exitRuntime || !strings.Contains(stderr, "no run directory") {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr)
	}
	if _, err := os.Stat(gone); !os.IsNotExist(err) {
		t.Fatalf("--resume created %s (%v)", gone, err)
	}
}

// TestResumeWithoutTrain: `train --resume DIR` takes the training (and
// test) file from the run's checkpoint, as its help says.
func TestResumeWithoutTrain(t *testing.T) {
	dir := t.TempDir()
	corpus := synthCorpus(t, dir, 300, 2)
	cache := filepath.Join(dir, "cache")
	out := filepath.Join(dir, "run")
	// Interrupted in its first epoch, as SIGINT would stop it.
	o := mustTrainOptions(t, tinyTrain(corpus, out, cache, "--epochs", "2", "--test", corpus))
	ctx, cancel := context.WithCancel(context.Background())
	steps := 0
	err := runTrainHooked(ctx, o, func() {
		if steps++; steps == 3 {
			cancel()
		}
	})
	cancel()
	if err == nil || !strings.Contains(err.Error(), "interrupted") {
		t.Fatalf("run returned %v, want interrupted", err)
	}
	args := tinyTrain("", out, cache, "--epochs", "2", "--resume", out)
	k := slices.Index(args, "--train")
	args = slices.Delete(args, k, k+2)
	code, stdout, stderr := trainer(t, args...)
	if code != exitOK {
		t.Fatalf("resume without --train: exit %d; stderr:\n%s", code, stderr)
	}
	if !strings.Contains(stdout, "accuracy (test)") {
		t.Fatalf("the resumed run did not evaluate the run's test file:\n%s", stdout)
	}
	if n := len(metricsLines(t, filepath.Join(out, "metrics.jsonl"))); n != 2 {
		t.Fatalf("metrics.jsonl has %d lines after resuming to 2 epochs", n)
	}
}

// TestTrainTreebankPredictSame: train honours --tokenizer treebank, the
// model file records it, and predict splits text as training did.
func TestTrainTreebankPredictSame(t *testing.T) {
	dir := t.TempDir()
	corpus := synthCorpus(t, dir, 200, 3)
	f, err := os.OpenFile(corpus, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 40; i++ {
		f.WriteString("__label__1 I don't like it, I can't use it\n__label__2 I do love it, it's great\n")
	}
	f.Close()
	cache := filepath.Join(dir, "cache")
	runs := map[string][]string{}
	for _, tok := range []string{"treebank", "split"} {
		out := filepath.Join(dir, tok)
		if code, _, stderr := trainer(t, tinyTrain(corpus, out, cache, "--epochs", "1", "--min-count", "1", "--tokenizer", tok)...); code != exitOK {
			t.Fatalf("--tokenizer %s: exit %d; stderr:\n%s", tok, code, stderr)
		}
		path := filepath.Join(out, "model.bin")
		mf, err := model.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		if mf.Preprocess.Tokenizer != tok {
			t.Fatalf("model file records tokenizer %q, trained with %s", mf.Preprocess.Tokenizer, tok)
		}
		m, err := predict.Load(path, predict.Options{Workers: 1})
		if err != nil {
			t.Fatal(err)
		}
		var words []string
		for _, id := range m.Encode([]string{"I don't like it"})[0] {
			words = append(words, mf.Vocab[id])
		}
		runs[tok] = words
		if code, _, stderr := trainer(t, "predict", "--model", path, "I don't like it"); code != exitOK {
			t.Fatalf("predict: exit %d; stderr:\n%s", code, stderr)
		}
	}
	if want := []string{"i", "do", "n't", "like", "it"}; !slices.Equal(runs["treebank"], want) {
		t.Fatalf("treebank model encodes %q, want %q", runs["treebank"], want)
	}
	if want := []string{"i", "don't", "like", "it"}; !slices.Equal(runs["split"], want) {
		t.Fatalf("split model encodes %q, want %q", runs["split"], want)
	}
}

// TestSharedFlagsMeanTheSame: a flag several commands take is refused
// with the same message by each of them, before any file is read (the
// model here does not exist).
func TestSharedFlagsMeanTheSame(t *testing.T) {
	m := filepath.Join(t.TempDir(), "never-read.bin")
	out := filepath.Join(t.TempDir(), "out")
	// What each command needs besides, so that only the flag under test is
	// wrong; positional arguments come last.
	needs := map[string][]string{"predict": {"text"}, "encode": {"text"}, "report": {"--input", "x"}, "synth": {"--n", "1"}}
	cases := []struct {
		cmds []string
		args []string
		msg  string
	}{
		{[]string{"predict", "eval", "encode", "report", "serve", "export"}, nil, ": --model FILE is required"},
		{[]string{"predict", "eval", "report", "serve"}, []string{"--model", m, "--workers", "-1"}, ": --workers must be 0 (one per core) or more, got -1"},
		{[]string{"synth"}, []string{"--out", out, "--workers", "-1"}, ": --workers must be 0 (one per core) or more, got -1"},
		{[]string{"predict", "eval", "report"}, []string{"--model", m, "--batch-size", "0"}, ": --batch-size must be at least 1, got 0"},
		{[]string{"predict", "eval", "report", "serve"}, []string{"--model", m, "--precision", "fp16"}, `: --precision "fp16": want fp32 or int8`},
		{[]string{"export", "report"}, []string{"--model", m}, ": --out DIR is required"},
		{[]string{"synth"}, nil, ": --out FILE is required"},
		{[]string{"tune"}, []string{"--train", m}, ": --out DIR is required"},
		{[]string{"tune", "bench"}, []string{"--train", m, "--test", m, "--out", out, "--budget", "0s"}, ": --budget 0s: want a positive duration, e.g. 30m"},
		{[]string{"train", "bench"}, []string{"--train", m, "--test", m, "--out", out, "--max-len", "0"}, ": --max-len must be at least 1, got 0"},
		{[]string{"prep"}, []string{"--train", m, "--max-len", "-1"}, ": --max-len must be at least 0, got -1"},
	}
	for _, c := range cases {
		for _, cmd := range c.cmds {
			args := slices.Concat([]string{cmd}, c.args, needs[cmd])
			code, _, stderr := trainer(t, args...)
			if want := "trainer: " + cmd + c.msg + "\n"; code != exitUsage || stderr != want {
				t.Errorf("%v: exit %d, stderr %q; want %d and %q", args, code, stderr, exitUsage, want)
			}
		}
	}
}
