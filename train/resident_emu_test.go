//go:build emu && !cuda

package train

import (
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
