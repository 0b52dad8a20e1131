//go:build emu && !cuda

package train

import (
	"strings"
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
// step, in every precision, and its loss comes down over two epochs; with
// CPU workers beside it, the same device goes under the hybrid scheduler.
func TestAssembleCUDAIsResident(t *testing.T) {
	c := model.Config{VocabSize: 40, EmbedDim: 8, Hidden: 8, Layers: 1, Pool: model.PoolMean}
	d := synthDataset(96, c.VocabSize, 3)
	for _, tc := range []struct {
		amp     string
		workers int
	}{{"fp32", 0}, {"bf16", 0}, {"fp16", 0}, {"fp32", 1}} {
		run, err := Assemble(RunConfig{Model: c, Seed: 7, Optim: device.DefaultOptimConfig(), Clip: 5,
			Devices: Devices{Device: device.Spec{Kind: "cuda"}, CPUWorkers: tc.workers, Precision: tc.amp, Streams: 1},
			Loop:    LoopConfig{Epochs: 2, Seed: 7, Dir: t.TempDir(), Schedule: LRSchedule{Base: 1e-2}},
			Hooks: LoopHooks{
				Train: data.NewBatcher(d, data.BatchOptions{BatchSize: 16, MaxLen: 24, Seed: 7, Bucket: true, Shuffle: true}),
			}})
		if err != nil {
			t.Fatalf("%s + %d cpu: %v", tc.amp, tc.workers, err)
		}
		_, resident := run.Stepper.(*ResidentStepper)
		if resident != (tc.workers == 0) || (run.Hybrid != nil) != (tc.workers > 0) {
			run.Close()
			t.Fatalf("%s + %d cpu: stepper %T, hybrid %v", tc.amp, tc.workers, run.Stepper, run.Hybrid != nil)
		}
		var losses []float64
		var precision string
		run.Loop.h.OnEpoch = func(rec EpochRecord) { losses, precision = append(losses, rec.TrainLoss), rec.Arithmetic }
		_, err = run.Train(t.Context())
		run.Close()
		if err != nil {
			t.Fatalf("%s + %d cpu: %v", tc.amp, tc.workers, err)
		}
		if len(losses) != 2 || !(losses[1] < losses[0]) || precision != tc.amp {
			t.Errorf("%s + %d cpu: train loss by epoch %v, want it to fall; precision %q", tc.amp, tc.workers, losses, precision)
		}
	}
}

// TestAssembleCUDARefusesNgrams: the GPU path has no wide n-gram path yet,
// so a run that asks for one on the device, alone or beside CPU workers,
// fails at assembly with one line naming --ngrams instead of training a
// different model than the CPU would.
func TestAssembleCUDARefusesNgrams(t *testing.T) {
	c := model.Config{VocabSize: 40, EmbedDim: 8, Hidden: 8, Layers: 1, Pool: model.PoolMean, Ngrams: 2, Buckets: 16}
	for _, workers := range []int{0, 1} {
		run, err := Assemble(RunConfig{Model: c, Seed: 7, Optim: device.DefaultOptimConfig(),
			Devices: Devices{Device: device.Spec{Kind: "cuda"}, CPUWorkers: workers, Precision: "fp32", Streams: 1},
			Loop:    LoopConfig{Epochs: 1, Seed: 7, Dir: t.TempDir(), Schedule: LRSchedule{Base: 1e-2}},
			Hooks:   LoopHooks{Train: data.NewBatcher(synthDataset(16, c.VocabSize, 3), data.BatchOptions{BatchSize: 8, MaxLen: 8, Seed: 7})}})
		if err == nil {
			run.Close()
			t.Fatalf("%d cpu workers: an n-gram model assembled on the GPU", workers)
		}
		if msg := err.Error(); !strings.Contains(msg, "--ngrams is not supported on the GPU yet") || strings.Contains(msg, "\n") {
			t.Errorf("%d cpu workers: error %q, want one line naming --ngrams", workers, msg)
		}
	}
}
