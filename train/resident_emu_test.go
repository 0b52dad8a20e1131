//go:build emu && !cuda

package train

import (
	"fmt"
	"math"
	"testing"

	// The emulated CUDA backend registers itself as --device cuda:N
	// under -tags emu.
	_ "trainer/cuda/emu"
	"trainer/data"
	"trainer/model"
	"trainer/train/device"
)

// TestAssembleCUDAIsResident: with the emulated CUDA backend linked (-tags
// emu), a run on --device cuda:0 alone trains through the device-resident
// step, in every precision, with and without the wide bigram path, and with
// the default model's shape (bidirectional, max pooling, bigrams), and its
// loss comes down over two epochs; with CPU workers beside it, the same
// device goes under the hybrid scheduler.
func TestAssembleCUDAIsResident(t *testing.T) {
	lstm := model.Config{VocabSize: 40, EmbedDim: 8, Hidden: 8, Layers: 1, Pool: model.PoolMean}
	bigrams := lstm
	bigrams.Ngrams, bigrams.Buckets = 2, 64
	d := synthDataset(96, lstm.VocabSize, 3)
	for _, tc := range []struct {
		c       model.Config
		amp     string
		workers int
	}{
		{lstm, "fp32", 0}, {lstm, "bf16", 0}, {lstm, "fp16", 0}, {lstm, "fp32", 1},
		{bigrams, "fp32", 0}, {bigrams, "bf16", 0}, {bigrams, "fp32", 1},
		{smallDefaultModel, "fp32", 0}, {smallDefaultModel, "bf16", 0}, {smallDefaultModel, "fp32", 1},
	} {
		c := tc.c
		run, err := Assemble(RunConfig{Model: c, Seed: 7, Optim: device.DefaultOptimConfig(), Clip: 5,
			Devices: Devices{Device: device.Spec{Kind: "cuda"}, CPUWorkers: tc.workers, Precision: tc.amp, Streams: 1},
			Loop:    LoopConfig{Epochs: 2, Seed: 7, Dir: t.TempDir(), Schedule: LRSchedule{Base: 1e-2}},
			Hooks: LoopHooks{
				Train: data.NewBatcher(d, data.BatchOptions{BatchSize: 16, MaxLen: 24, Seed: 7, Bucket: true, Shuffle: true}),
			}})
		if err != nil {
			t.Fatalf("%s + %d cpu, ngrams %d: %v", tc.amp, tc.workers, c.Ngrams, err)
		}
		_, resident := run.Stepper.(*ResidentStepper)
		if resident != (tc.workers == 0) || (run.Hybrid != nil) != (tc.workers > 0) {
			run.Close()
			t.Fatalf("%s + %d cpu, ngrams %d: stepper %T, hybrid %v", tc.amp, tc.workers, c.Ngrams, run.Stepper, run.Hybrid != nil)
		}
		var losses []float64
		var precision string
		run.Loop.h.OnEpoch = func(rec EpochRecord) { losses, precision = append(losses, rec.TrainLoss), rec.Arithmetic }
		_, err = run.Train(t.Context())
		run.Close()
		if err != nil {
			t.Fatalf("%s + %d cpu, ngrams %d: %v", tc.amp, tc.workers, c.Ngrams, err)
		}
		if len(losses) != 2 || !(losses[1] < losses[0]) || precision != tc.amp {
			t.Errorf("%s + %d cpu, ngrams %d: train loss by epoch %v, want it to fall; precision %q", tc.amp, tc.workers, c.Ngrams, losses, precision)
		}
	}
}

// TestAssembleCUDANgramsMatchCPU: a run with the wide bigram path on
// --device cuda:0 alone trains through the device-resident step (features
// hashed, the lazy update of the embedding and the wide table decided on
// the device) and ends with the weights of the same run on one CPU worker,
// to the rounding that AdamW's steps let through: per view, the RMS of the
// difference against the RMS of the CPU's total update. So does the
// default model's shape (bidirectional, max pooling, bigrams).
func TestAssembleCUDANgramsMatchCPU(t *testing.T) {
	for _, tc := range ngramShapes {
		t.Run(tc.name, func(t *testing.T) { testResidentMatchesCPU(t, tc.c) })
	}
}

func testResidentMatchesCPU(t *testing.T, c model.Config) {
	opt := device.DefaultOptimConfig()
	opt.WeightDecay, opt.LazyEmbedding = 0.01, true
	weights := trainOnEach(t, RunConfig{Model: c, Seed: 7, Optim: opt, Clip: 5, Loop: LoopConfig{Schedule: LRSchedule{Base: 1e-2}}},
		synthDataset(96, c.VocabSize, 3), map[string]Devices{
			"cpu":  {Device: device.Spec{Kind: "cpu"}, CPUWorkers: 1},
			"cuda": {Device: device.Spec{Kind: "cuda"}, Precision: "fp32", Streams: 1},
		}, func(name string, run *Run) error {
			if _, resident := run.Stepper.(*ResidentStepper); resident != (name == "cuda") {
				return fmt.Errorf("stepper %T", run.Stepper)
			}
			return nil
		})
	init := make([]float32, model.NewLayout(c).Size())
	model.InitParams(c, init, 7)
	got, want := weights["cuda"], weights["cpu"]
	for _, v := range model.NewLayout(c).Views() {
		g, w, i0 := v.Slice(got), v.Slice(want), v.Slice(init)
		var diff2, move2 float64
		for i := range w {
			d, m := float64(g[i])-float64(w[i]), float64(w[i])-float64(i0[i])
			diff2, move2 = diff2+d*d, move2+m*m
		}
		if move2 == 0 {
			t.Errorf("%s: the CPU run did not move it", v.Name)
			continue
		}
		if rel := math.Sqrt(diff2 / move2); rel > 1e-3 {
			t.Errorf("%s: RMS difference %.3g of the update, want at most 1e-3", v.Name, rel)
		} else {
			t.Logf("%s: RMS difference %.3g of the update", v.Name, rel)
		}
	}
}
