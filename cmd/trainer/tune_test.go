package main

import (
	"context"
	"errors"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"trainer/internal/console"
	"trainer/internal/tune"

	"trainer/data"
)

const realData = "../../../shared/data/amazon_polarity/"

// tuneData writes the first 1,000 training and 300 dev reviews of the
// real set into dir.
func tuneData(t *testing.T, dir string) (trainFile, devFile string) {
	t.Helper()
	os.MkdirAll(filepath.Join(dir, "train"), 0o755)
	os.MkdirAll(filepath.Join(dir, "dev"), 0o755)
	return headLines(t, realData+"train.ft.txt", filepath.Join(dir, "train"), 1000),
		headLines(t, realData+"dev.ft.txt", filepath.Join(dir, "dev"), 300)
}

// tinyTune is a short search: one rung of one epoch, the defaults and
// two random points.
func tinyTune(trainFile, devFile, out, cache string, extra ...string) []string {
	args := []string{"tune", "--train", trainFile, "--dev", devFile, "--out", out, "--cache-dir", cache,
		"--rungs", "1", "--bracket", "2", "--max-trials", "3", "--budget", "10m",
		"--cpu-workers", "2", "--workers", "1", "--seed", "3", "--log-format", "json"}
	return append(args, extra...)
}

func TestTuneEndToEnd(t *testing.T) {
	dir := t.TempDir()
	trainFile, devFile := tuneData(t, dir)
	out, cache := filepath.Join(dir, "out"), filepath.Join(dir, "cache")
	code, stdout, stderr := trainer(t, tinyTune(trainFile, devFile, out, cache)...)
	if code != exitOK {
		t.Fatalf("tune: exit %d\n%s", code, stderr)
	}
	for _, want := range []string{"after trial 3", "best: trial", "reproduce: trainer train --dev=", "(defaults)"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	st, err := tune.LoadState(filepath.Join(out, tune.StateName))
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Ranked()) != 3 {
		t.Fatalf("%d scored trials, want 3: %+v", len(st.Ranked()), st.Trials)
	}

	// The leaderboard is ranked by dev accuracy.
	tsv, err := os.ReadFile(filepath.Join(out, tune.LeaderboardName))
	if err != nil {
		t.Fatal(err)
	}
	rows := strings.Split(strings.TrimSpace(string(tsv)), "\n")[1:]
	var accs []float64
	for _, row := range rows {
		acc, err := strconv.ParseFloat(strings.Split(row, "\t")[2], 64)
		if err != nil {
			t.Fatalf("row %q: %v", row, err)
		}
		accs = append(accs, -acc)
	}
	if len(rows) != 3 || !slices.IsSorted(accs) {
		t.Fatalf("leaderboard.tsv not 3 rows best first:\n%s", tsv)
	}

	// The best model is a normal model file.
	code, pred, stderr := trainer(t, "predict", "--model", filepath.Join(out, tune.ModelName), "great product, works as described")
	if code != exitOK || !strings.Contains(pred, "great product") {
		t.Fatalf("predict with the tuned model: exit %d\n%s%s", code, pred, stderr)
	}

	// The same command again finds the search done and trains nothing.
	code, stdout, stderr = trainer(t, tinyTune(trainFile, devFile, out, cache)...)
	if code != exitOK || strings.Contains(stdout, "after trial") || !strings.Contains(stdout, "best: trial") {
		t.Fatalf("rerun: exit %d, want no new trial\n%s%s", code, stdout, stderr)
	}
}

// tuneOptionsOf parses a tune command line as the command does.
func tuneOptionsOf(t *testing.T, args []string) *tune.Session {
	t.Helper()
	var o *tune.Session
	cmd := tuneCommand()
	cmd.Action = func(c *cli.Context) (err error) {
		o, err = tuneOptionsFrom(c)
		return err
	}
	if err := newParser(cmd).Run(append([]string{"trainer"}, args...)); err != nil {
		t.Fatal(err)
	}
	return o
}

func TestTuneResumesAfterInterruption(t *testing.T) {
	dir := t.TempDir()
	trainFile, devFile := tuneData(t, dir)
	out, cache := filepath.Join(dir, "out"), filepath.Join(dir, "cache")
	args := tinyTune(trainFile, devFile, out, cache)
	// Small models keep the random trials quick; the first is the
	// defaults whatever the space.
	space := tune.Space{tune.Choice("embed-dim", "16", "32"), tune.Choice("hidden", "8", "16")}
	log := console.New(io.Discard, false)

	o := tuneOptionsOf(t, args)
	o.Space = space
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o.OnTrial = func(tr tune.Trial, _ *tune.State) {
		if tr.ID == 1 {
			cancel() // as a Ctrl-C between trials
		}
	}
	if err := runTune(ctx, o, log, io.Discard); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted tune: %v, want context.Canceled", err)
	}
	st, err := tune.LoadState(filepath.Join(out, tune.StateName))
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Trials) != 1 || st.Trials[0].Status != tune.StatusDone {
		t.Fatalf("after the interruption: %+v, want trial 1 done", st.Trials)
	}
	first := st.Trials[0]

	o = tuneOptionsOf(t, args)
	o.Space = space
	var ran []int
	o.OnTrial = func(tr tune.Trial, _ *tune.State) { ran = append(ran, tr.ID) }
	if err := runTune(context.Background(), o, log, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ran, []int{2, 3}) {
		t.Fatalf("resumed tune ran trials %v, want [2 3]", ran)
	}
	if st, err = tune.LoadState(filepath.Join(out, tune.StateName)); err != nil {
		t.Fatal(err)
	}
	if kept := st.Trials[0]; len(st.Ranked()) != 3 || kept.Seconds != first.Seconds || kept.DevAccuracy != first.DevAccuracy {
		t.Fatalf("after the resume: %+v, want trial 1 kept and 3 done", st.Trials)
	}

	// Another space, or other data in the same place, is another search.
	code, _, stderr := trainer(t, append(args, "--max-trials", "4")...)
	if code != exitUsage || !strings.Contains(stderr, "search space differs") {
		t.Fatalf("tune with another space: exit %d, want a refusal naming the space\n%s", code, stderr)
	}
	os.WriteFile(devFile, []byte("__label__2 a different dev set\n__label__1 bad\n"), 0o644)
	o = tuneOptionsOf(t, args)
	o.Space = space
	err = runTune(context.Background(), o, log, io.Discard)
	if !errors.Is(err, tune.ErrMismatch) || !strings.Contains(err.Error(), "dev data differ") {
		t.Fatalf("tune on changed dev data: %v, want a refusal naming the dev data", err)
	}
}

func TestTuneSpaceNamesTrainFlags(t *testing.T) {
	for _, d := range tune.DefaultSpace() {
		values := d.Values
		if len(values) == 0 {
			values = []string{strconv.FormatFloat(d.Lo, 'g', -1, 64), strconv.FormatFloat(d.Hi, 'g', -1, 64)}
		}
		for _, v := range values {
			t.Run(d.Flag+"="+v, func(t *testing.T) {
				// The flag after the point's must arrive too: a value
				// that ended the flags would lose it.
				args := append([]string{"--train", "t.txt", "--out", t.TempDir()}, tune.Point{d.Flag: v}.Args()...)
				args = append(args, "--seed=9")
				if _, err := parseTrainArgs(args); err != nil {
					t.Fatalf("train rejects %v: %v", args, err)
				}
				got, err := trainFlagValues(args, []string{d.Flag, flagSeed})
				if err != nil {
					t.Fatal(err)
				}
				if !got.Equal(tune.Point{d.Flag: v, flagSeed: "9"}) {
					t.Fatalf("%v gives train %v", args, got)
				}
			})
		}
	}
	if _, err := trainFlagValues([]string{"--train", "t.txt"}, []string{"no-such-flag"}); err == nil || !strings.Contains(err.Error(), "not a train flag") {
		t.Fatalf("a space naming --no-such-flag: %v, want an error", err)
	}
	if _, err := parseTrainArgs([]string{"--train", "t.txt", "--out", t.TempDir(), "--bidirectional", "false"}); err == nil {
		t.Fatal("a stray word among trial flags was accepted")
	}
}

func TestTuneUsage(t *testing.T) {
	dir := t.TempDir()
	trained := filepath.Join(dir, "trained")
	os.MkdirAll(trained, 0o755)
	os.WriteFile(filepath.Join(trained, "model.bin"), []byte("a training run's model"), 0o644)
	cases := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"no train", []string{"tune", "--out", dir}, exitUsage, "--train FILE is required"},
		{"no out", []string{"tune", "--train", "t.txt"}, exitUsage, "--out DIR is required"},
		{"rungs", []string{"tune", "--train", "t.txt", "--out", dir, "--rungs", "3,1"}, exitUsage, "--rungs"},
		{"budget", []string{"tune", "--train", "t.txt", "--out", dir, "--budget", "0s"}, exitUsage, "--budget"},
		{"bad data flag", []string{"tune", "--train", "t.txt", "--out", dir, "--vocab-size", "1"}, exitUsage, "vocab-size 1"},
		{"a training run", []string{"tune", "--train", "t.txt", "--out", trained}, exitUsage, "not a tune directory"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := trainer(t, c.args...)
			if code != c.code || !strings.Contains(stderr, c.msg) {
				t.Fatalf("exit %d, want %d with %q; stderr:\n%s", code, c.code, c.msg, stderr)
			}
		})
	}
	code, stdout, _ := trainer(t, "tune", "--print-space")
	if code != exitOK || strings.Count(stdout, "\n") != len(tune.DefaultSpace()) || !strings.Contains(stdout, "--lr log-uniform") {
		t.Fatalf("--print-space: exit %d\n%s", code, stdout)
	}
}

func TestTuneSettingsDoNotDependOnSpellingOutDefaults(t *testing.T) {
	base := []string{"tune", "--train", "t.txt", "--out", t.TempDir()}
	cases := []struct {
		name  string
		extra []string
		same  bool
	}{
		{"seed spelled out", []string{"--seed", "1"}, true},
		{"vocabulary size spelled out", []string{"--vocab-size", strconv.Itoa(data.DefaultVocabSize)}, true},
		{"more workers", []string{"--cpu-workers", "7"}, true},
		{"another seed", []string{"--seed", "2"}, false},
		{"another tokenizer", []string{"--tokenizer", "treebank"}, false},
	}
	plain := tuneOptionsOf(t, base).Settings
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := tuneOptionsOf(t, append(slices.Clone(base), c.extra...)).Settings
			if maps.Equal(got, plain) != c.same {
				t.Fatalf("settings %v against %v: same %v, want %v", got, plain, !c.same, c.same)
			}
		})
	}
}
