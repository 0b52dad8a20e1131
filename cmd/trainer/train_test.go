package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"trainer/data"
	"trainer/internal/console"
	"trainer/model"
	"trainer/train"
	"trainer/train/job"
)

// synthCorpus writes n synthetic labelled reviews and returns the path.
func synthCorpus(t testing.TB, dir string, n int64, seed uint64) string {
	t.Helper()
	path := filepath.Join(dir, "reviews.ft.txt")
	if _, err := data.SynthFile(context.Background(), path, data.SynthOptions{N: n, Seed: seed, Workers: 1}); err != nil {
		t.Fatal(err)
	}
	return path
}

// trainer runs the CLI in-process and returns exit status and output.
func trainer(t testing.TB, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(append([]string{"trainer"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

// tinyTrain is a fast training command line on a small model.
func tinyTrain(trainFile, out, cache string, extra ...string) []string {
	args := []string{"train", "--train", trainFile, "--out", out, "--cache-dir", cache, "--epochs", "2",
		"--embed-dim", "8", "--hidden", "8", "--batch-size", "16", "--cpu-workers", "2", "--workers", "1",
		"--seed", "7", "--log-format", "json"}
	return append(args, extra...)
}

func TestTrainBadInput(t *testing.T) {
	dir := t.TempDir()
	corpus := synthCorpus(t, dir, 300, 1)
	empty := filepath.Join(dir, "empty.ft.txt")
	os.WriteFile(empty, []byte("__label__1 !!!\n__label__2 ...\n"), 0o644)
	cache := filepath.Join(dir, "cache")
	done := filepath.Join(dir, "done")
	os.MkdirAll(done, 0o755)
	os.WriteFile(filepath.Join(done, "model.bin"), []byte("a finished run"), 0o644)
	cases := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"existing run", tinyTrain(corpus, done, cache), exitUsage, "--overwrite replaces it"},
		{"unknown flag", tinyTrain(corpus, filepath.Join(dir, "a"), cache, "--no-such-flag"), exitUsage, "no-such-flag"},
		{"hidden 0", tinyTrain(corpus, filepath.Join(dir, "b"), cache, "--hidden", "0"), exitUsage, "hidden size must be at least 1"},
		{"vocab 1", tinyTrain(corpus, filepath.Join(dir, "c"), cache, "--vocab-size", "1"), exitUsage, "vocab-size 1 is too small"},
		{"layers 0", tinyTrain(corpus, filepath.Join(dir, "d"), cache, "--layers", "0"), exitUsage, "layers must be at least 1"},
		{"bad pool", tinyTrain(corpus, filepath.Join(dir, "e"), cache, "--pool", "median"), exitUsage, "pooling"},
		{"4-grams", tinyTrain(corpus, filepath.Join(dir, "n1"), cache, "--ngrams", "4"), exitUsage, "--ngrams 4: want 0 (off) to 3"},
		{"negative buckets", tinyTrain(corpus, filepath.Join(dir, "n2"), cache, "--ngrams", "2", "--buckets", "-1"), exitUsage, "--buckets -1"},
		{"buckets without bigrams", tinyTrain(corpus, filepath.Join(dir, "n3"), cache, "--ngrams", "1", "--buckets", "100"), exitUsage, "--buckets 100 needs --ngrams 2 or 3"},
		{"cuda without cuda", tinyTrain(corpus, filepath.Join(dir, "f"), cache, "--device", "cuda:0"), exitUsage, "make cuda"},
		{"bad device", tinyTrain(corpus, filepath.Join(dir, "g"), cache, "--device", "tpu"), exitUsage, `unknown device kind "tpu"`},
		{"no train", []string{"train", "--out", dir}, exitUsage, "--train FILE is required"},
		{"zero workers", tinyTrain(corpus, filepath.Join(dir, "h"), cache, "--cpu-workers", "0"), exitUsage, "--cpu-workers"},
		{"bad optimizer", tinyTrain(corpus, filepath.Join(dir, "i"), cache, "--optimizer", "lbfgs"), exitUsage, "unknown optimizer"},
		{"empty training set", tinyTrain(empty, filepath.Join(dir, "j"), cache), exitRuntime, "no reviews"},
		{"missing file", tinyTrain(filepath.Join(dir, "nope.txt"), filepath.Join(dir, "k"), cache), exitRuntime, "nope.txt"},
		{"resume nothing", tinyTrain(corpus, filepath.Join(dir, "l"), cache, "--resume", filepath.Join(dir, "l")), exitRuntime, "no run directory"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := trainer(t, c.args...)
			if code != c.code || !strings.Contains(stderr, c.msg) {
				t.Fatalf("exit %d, want %d with %q; stderr:\n%s", code, c.code, c.msg, stderr)
			}
		})
	}
	if b, _ := os.ReadFile(filepath.Join(done, "model.bin")); string(b) != "a finished run" {
		t.Fatal("a refused run touched the existing model.bin")
	}
}

func TestTrainNaNKeepsCheckpoint(t *testing.T) {
	dir := t.TempDir()
	corpus := synthCorpus(t, dir, 300, 1)
	out := filepath.Join(dir, "run")
	// A learning rate of 1e38 overflows the weights within a few steps.
	code, _, stderr := trainer(t, tinyTrain(corpus, out, filepath.Join(dir, "cache"), "--lr", "1e38", "--clip", "0", "--checkpoint-every", "1")...)
	if code != exitRuntime || !strings.Contains(stderr, "NaN") || !strings.Contains(stderr, "last checkpoint") {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr)
	}
	if _, err := train.LoadCheckpoint(filepath.Join(out, train.CheckpointName)); err != nil {
		t.Fatalf("last good checkpoint unreadable: %v", err)
	}
}

func loadParams(t testing.TB, path string) []float32 {
	t.Helper()
	f, err := model.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return f.Params
}

func sameBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] && !(a[i] != a[i] && b[i] != b[i]) {
			return false
		}
	}
	return true
}

func TestTrainReproducibleAndOutputs(t *testing.T) {
	dir := t.TempDir()
	corpus := synthCorpus(t, dir, 400, 2)
	cache := filepath.Join(dir, "cache")
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	for _, out := range []string{a, b} {
		code, stdout, stderr := trainer(t, tinyTrain(corpus, out, cache, "--test", corpus)...)
		if code != exitOK {
			t.Fatalf("exit %d; stderr:\n%s", code, stderr)
		}
		for _, col := range []string{"CPUs used", "approach", "accuracy", "loss", "training time", "DDP x2 (CPU)"} {
			if !strings.Contains(stdout, col) {
				t.Fatalf("summary lacks %q:\n%s", col, stdout)
			}
		}
	}
	if !sameBits(loadParams(t, filepath.Join(a, "model.bin")), loadParams(t, filepath.Join(b, "model.bin"))) {
		t.Fatal("two runs with the same seed and workers wrote different weights")
	}
	lines, _ := os.ReadFile(filepath.Join(a, "metrics.jsonl"))
	if n := strings.Count(string(lines), "\n"); n != 2 {
		t.Fatalf("metrics.jsonl has %d lines, want 2", n)
	}
	for _, k := range []string{`"epoch"`, `"train_loss"`, `"seconds"`, `"tokens_per_s"`, `"accuracy"`, `"test_accuracy"`} {
		if !strings.Contains(string(lines), k) {
			t.Fatalf("metrics.jsonl lacks %s", k)
		}
	}
}

// TestTrainResumeCLI interrupts a run through its context (what SIGINT
// does) at several points and checks that --resume ends with the weights of
// an uninterrupted run, bit for bit.
func TestTrainResumeCLI(t *testing.T) {
	dir := t.TempDir()
	corpus := synthCorpus(t, dir, 400, 3)
	cache := filepath.Join(dir, "cache")
	full := filepath.Join(dir, "full")
	if code, _, stderr := trainer(t, tinyTrain(corpus, full, cache, "--checkpoint-every", "5")...); code != exitOK {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr)
	}
	want := loadParams(t, filepath.Join(full, "model.bin"))
	for _, stop := range []int{3, 11, 23, 30} { // 23 batches per epoch
		out := filepath.Join(dir, "stop")
		os.RemoveAll(out)
		o := mustTrainOptions(t, tinyTrain(corpus, out, cache, "--checkpoint-every", "5"))
		ctx, cancel := context.WithCancel(context.Background())
		steps := 0
		err := runTrainHooked(ctx, o, func() {
			if steps++; steps == stop {
				cancel()
			}
		})
		cancel()
		if err == nil || !strings.Contains(err.Error(), "interrupted") {
			t.Fatalf("stop %d: run returned %v", stop, err)
		}
		code, _, stderr := trainer(t, tinyTrain(corpus, out, cache, "--checkpoint-every", "5", "--resume", out)...)
		if code != exitOK {
			t.Fatalf("stop %d: resume exit %d; stderr:\n%s", stop, code, stderr)
		}
		if !sameBits(loadParams(t, filepath.Join(out, "model.bin")), want) {
			t.Fatalf("stop %d: resumed run wrote other weights than the uninterrupted one", stop)
		}
	}
	// Changing a setting that shapes the weights is refused.
	code, _, stderr := trainer(t, tinyTrain(corpus, full, cache, "--lr", "0.5", "--resume", full, "--epochs", "3")...)
	if code != exitUsage || !strings.Contains(stderr, "LR") {
		t.Fatalf("resume with another lr: exit %d; stderr:\n%s", code, stderr)
	}
}

// mustTrainOptions parses a train command line.
func mustTrainOptions(t testing.TB, args []string) *job.Options {
	t.Helper()
	var o *job.Options
	cmd := trainCommand()
	cmd.Action = func(c *cli.Context) (err error) {
		o, err = trainOptionsFrom(c)
		return err
	}
	app := &cli.App{Commands: []*cli.Command{cmd}, Writer: io.Discard, ErrWriter: io.Discard}
	if err := app.Run(append([]string{"trainer"}, args...)); err != nil {
		t.Fatal(err)
	}
	return o
}

// runTrainHooked runs a training run that calls hook after every step,
// to interrupt it at an exact step as a signal would.
func runTrainHooked(ctx context.Context, o *job.Options, hook func()) error {
	log := console.New(io.Discard, true)
	rep := job.ConsoleReporter(log)
	shown := rep.Training
	rep.Training = func(epochs int) job.Progress { return hookedProgress{shown(epochs), hook} }
	_, err := job.Run(ctx, o, rep)
	return err
}

// hookedProgress calls hook after every step it shows.
type hookedProgress struct {
	job.Progress
	hook func()
}

func (p hookedProgress) Step(epoch, batch, batches int, st train.StepStats) {
	p.Progress.Step(epoch, batch, batches, st)
	p.hook()
}
