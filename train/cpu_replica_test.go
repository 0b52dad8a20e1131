package train

import (
	"math"
	"testing"

	"trainer/data"
	"trainer/model"
)

// TestCPUEngineWorkersAgree checks the DDP contract on the real model:
// 1, 2 and 3 CPU workers on the same global batches (sizes that 2 and 3 do
// not divide) give the same weights up to fp32 summation order.
func TestCPUEngineWorkersAgree(t *testing.T) {
	cfgs := []model.Config{
		{VocabSize: 50, EmbedDim: 6, Hidden: 5, Layers: 1, Pool: model.PoolLast},
		{VocabSize: 50, EmbedDim: 4, Hidden: 3, Layers: 2, Bidirectional: true, Pool: model.PoolMean},
	}
	d := synthDataset(40, 50, 21)
	batches := []data.Batch{batchOf(d, 0, 7), batchOf(d, 7, 18), batchOf(d, 18, 29)}
	for _, c := range cfgs {
		run := func(workers int) []float32 {
			params := make([]float32, model.NewLayout(c).Size())
			model.InitParams(c, params, 3)
			reps, err := NewCPUReplicas(c, workers)
			if err != nil {
				t.Fatal(err)
			}
			opt, _ := NewOptimizer(DefaultOptimConfig(), len(params))
			e, err := NewEngine(params, Replicas(reps), opt, 1)
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			for _, b := range batches {
				if _, err := e.Step(b, 0.01); err != nil {
					t.Fatal(err)
				}
			}
			return params
		}
		ref := run(1)
		for _, w := range []int{2, 3} {
			got := run(w)
			worst := 0.0
			for i := range ref {
				diff := math.Abs(float64(got[i] - ref[i]))
				if diff > 1e-6+1e-5*math.Abs(float64(ref[i])) {
					t.Fatalf("%+v, %d workers: param %d = %.9g, 1 worker %.9g", c, w, i, got[i], ref[i])
				}
				worst = max(worst, diff)
			}
			t.Logf("%+v: %d workers, largest difference %.3g", c, w, worst)
		}
	}
}
