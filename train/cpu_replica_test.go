package train

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"trainer/data"
	"trainer/model"
	"trainer/train/device"
)

// TestCPUEngineWorkersAgree checks the DDP contract on the real model:
// 1, 2 and 3 CPU workers on the same global batches (sizes that 2 and 3 do
// not divide) give the same weights up to fp32 summation order, and so do
// workers that share the first layer's rows (ShareRows), 9 of them leaving
// some with empty shards of the 7-row batch; sharing workers are
// deterministic too. The n-gram models step lazily, so the wide table's
// rows must be in every step's support to be summed and updated at all.
func TestCPUEngineWorkersAgree(t *testing.T) {
	cfgs := []struct {
		c    model.Config
		lazy bool
	}{
		{model.Config{VocabSize: 50, EmbedDim: 6, Hidden: 5, Layers: 1, Pool: model.PoolLast}, false},
		{model.Config{VocabSize: 50, EmbedDim: 4, Hidden: 3, Layers: 2, Bidirectional: true, Pool: model.PoolMean}, false},
		{model.Config{VocabSize: 50, EmbedDim: 4, Hidden: 3, Layers: 1, Pool: model.PoolMax, Ngrams: 2, Buckets: 64}, true},
		{model.Config{VocabSize: 50, EmbedDim: 4, Hidden: 3, Layers: 2, Bidirectional: true, Pool: model.PoolMean, Ngrams: 3, Buckets: 7}, true},
	}
	d := synthDataset(40, 50, 21)
	batches := []data.Batch{batchOf(d, 0, 7), batchOf(d, 7, 18), batchOf(d, 18, 29)}
	for _, tc := range cfgs {
		c := tc.c
		run := func(workers int, share bool) []float32 {
			params := make([]float32, model.NewLayout(c).Size())
			model.InitParams(c, params, 3)
			reps, err := NewCPUReplicas(c, workers)
			if err != nil {
				t.Fatal(err)
			}
			if share {
				ShareRows(reps)
			}
			opt, _ := NewOptimizer(device.DefaultOptimConfig(), len(params))
			e, err := NewEngine(params, Replicas(reps), opt, 1)
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			if err := e.SetSparsity(TableRows(c), tc.lazy); err != nil {
				t.Fatal(err)
			}
			for _, b := range batches {
				if _, err := e.Step(b, 0.01); err != nil {
					t.Fatal(err)
				}
			}
			return params
		}
		ref := run(1, false)
		if wide := model.NewLayout(c).Wide(ref); wide != nil && !slices.ContainsFunc(wide, func(v float32) bool { return v != 0 }) {
			t.Fatalf("%+v: the wide table did not move from zero", c)
		}
		for _, tc := range []struct {
			workers int
			share   bool
		}{{2, false}, {3, false}, {2, true}, {3, true}, {9, true}} {
			got := run(tc.workers, tc.share)
			worst := 0.0
			for i := range ref {
				diff := math.Abs(float64(got[i] - ref[i]))
				if diff > 1e-6+1e-5*math.Abs(float64(ref[i])) {
					t.Fatalf("%+v, %d workers, share %v: param %d = %.9g, 1 worker %.9g", c, tc.workers, tc.share, i, got[i], ref[i])
				}
				worst = max(worst, diff)
			}
			t.Logf("%+v: %d workers, share %v, largest difference %.3g", c, tc.workers, tc.share, worst)
		}
		if a, b := run(3, true), run(3, true); !sameBits(a, b) {
			t.Fatalf("%+v: two runs of 3 sharing workers differ", c)
		}
	}
}

// TestSharedWorkerFailureStopsStep checks that a worker of a share that
// fails (here on a token outside the vocabulary) makes the step fail with
// its error instead of leaving the other workers waiting at a barrier.
func TestSharedWorkerFailureStopsStep(t *testing.T) {
	c := model.Config{VocabSize: 50, EmbedDim: 4, Hidden: 3, Layers: 1, Pool: model.PoolLast}
	d := synthDataset(8, 50, 4)
	b := batchOf(d, 0, 8)
	b.Tokens[(b.Size-1)*b.MaxLen] = 70 // the last shard's
	params := make([]float32, model.NewLayout(c).Size())
	model.InitParams(c, params, 1)
	reps, err := NewCPUReplicas(c, 3)
	if err != nil {
		t.Fatal(err)
	}
	ShareRows(reps)
	opt, _ := NewOptimizer(device.DefaultOptimConfig(), len(params))
	e, err := NewEngine(params, Replicas(reps), opt, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	done := make(chan error, 1)
	go func() {
		_, err := e.Step(b, 0.01)
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "outside the vocabulary") {
			t.Fatalf("step returned %v, want the bad token's error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a failed worker left the step hanging")
	}
}
