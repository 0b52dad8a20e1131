package main

import (
	"context"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"trainer/model"
	"trainer/train"
)

// TestTrainNgrams trains a small model with the wide n-gram path end to
// end: the model file records the path and its table has learnt; one and
// two CPU workers end with the same weights up to summation order; and a
// run interrupted and resumed ends with the weights of an uninterrupted
// one, bit for bit, the wide table and its optimizer moments included,
// while a resume with other n-gram settings is refused.
func TestTrainNgrams(t *testing.T) {
	dir := t.TempDir()
	corpus := synthCorpus(t, dir, 300, 6)
	cache := filepath.Join(dir, "cache")
	ngrams := []string{"--ngrams", "2", "--buckets", "64"}
	finalWeights := func(out string) []float32 {
		t.Helper()
		ck, err := train.LoadCheckpoint(filepath.Join(out, train.CheckpointName))
		if err != nil {
			t.Fatal(err)
		}
		return ck.Params
	}

	two := filepath.Join(dir, "two")
	if code, _, stderr := trainer(t, tinyTrain(corpus, two, cache, ngrams...)...); code != exitOK {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr)
	}
	f, err := model.Load(filepath.Join(two, "model.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if f.Config.Ngrams != 2 || f.Config.Buckets != 64 {
		t.Fatalf("model file config %+v, want ngrams 2 and 64 buckets", f.Config)
	}
	if !slices.ContainsFunc(model.NewLayout(f.Config).Wide(f.Params), func(v float32) bool { return v != 0 }) {
		t.Fatal("the wide table is still zero after training")
	}

	one := filepath.Join(dir, "one")
	if code, _, stderr := trainer(t, tinyTrain(corpus, one, cache, append(ngrams, "--cpu-workers", "1")...)...); code != exitOK {
		t.Fatalf("1 worker: exit %d; stderr:\n%s", code, stderr)
	}
	w1, w2 := finalWeights(one), finalWeights(two)
	for i := range w1 {
		if d := math.Abs(float64(w1[i] - w2[i])); d > 1e-4+1e-3*math.Abs(float64(w1[i])) {
			t.Fatalf("param %d: 2 workers %.9g, 1 worker %.9g", i, w2[i], w1[i])
		}
	}

	resumed := filepath.Join(dir, "resumed")
	o := mustTrainOptions(t, tinyTrain(corpus, resumed, cache, ngrams...))
	ctx, cancel := context.WithCancel(context.Background())
	steps := 0
	err = runTrainHooked(ctx, o, func() {
		if steps++; steps == 5 {
			cancel()
		}
	})
	cancel()
	if err == nil || !strings.Contains(err.Error(), "interrupted") {
		t.Fatalf("run returned %v, want interrupted", err)
	}
	// The n-gram settings are part of the run: resuming with others is refused.
	if code, _, stderr := trainer(t, tinyTrain(corpus, resumed, cache, "--ngrams", "3", "--buckets", "64", "--resume", resumed)...); code != exitUsage || !strings.Contains(stderr, "settings differ") {
		t.Fatalf("resume with --ngrams 3: exit %d; stderr:\n%s", code, stderr)
	}
	if code, _, stderr := trainer(t, tinyTrain(corpus, resumed, cache, append(ngrams, "--resume", resumed)...)...); code != exitOK {
		t.Fatalf("resume: exit %d; stderr:\n%s", code, stderr)
	}
	if !sameBits(finalWeights(resumed), w2) {
		t.Fatal("the resumed run ended with other weights than the uninterrupted one")
	}
}
