package train

import (
	"math"
	"testing"

	"trainer/data"
	"trainer/model"
	"trainer/train/device"
)

// TestEmulatedHybridMatchesCPUOracle: the emulated GPU beside two CPU
// workers, the hybrid scheduler splitting every batch by its cost model,
// ends with the weights of one CPU worker on the same batches (fp32, up to
// summation order), however the batches were split. SGD rather than AdamW:
// Adam's first steps turn a gradient of 1e-9 against -1e-9 (summation
// order) into updates of +lr and -lr, which would hide a real difference
// behind a wide tolerance.
func TestEmulatedHybridMatchesCPUOracle(t *testing.T) {
	c := model.Config{VocabSize: 40, EmbedDim: 8, Hidden: 8, Layers: 1, Pool: model.PoolMean}
	d := synthDataset(120, c.VocabSize, 5)
	opt := device.DefaultOptimConfig()
	opt.Kind = "sgd"
	runs := map[string]Devices{
		"oracle": {Device: device.Spec{Kind: "cpu"}, CPUWorkers: 1},
		"hybrid": {Device: device.Spec{Kind: "emu"}, CPUWorkers: 2, Precision: "fp32", Streams: 1},
	}
	params := map[string][]float32{}
	for name, devs := range runs {
		run, err := Assemble(RunConfig{Model: c, Seed: 7, Optim: opt, Devices: devs,
			Loop: LoopConfig{Epochs: 2, Seed: 7, Dir: t.TempDir(), Schedule: LRSchedule{Base: 0.05}},
			Hooks: LoopHooks{
				Train: data.NewBatcher(d, data.BatchOptions{BatchSize: 16, MaxLen: 24, Seed: 7, Bucket: true, Shuffle: true}),
			}})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := run.Train(t.Context()); err != nil {
			run.Close()
			t.Fatalf("%s: %v", name, err)
		}
		if name == "hybrid" && run.Hybrid == nil {
			t.Fatal("hybrid: no scheduler between the emulated GPU and the CPU workers")
		}
		w, err := run.Weights()
		run.Close()
		if err != nil {
			t.Fatal(err)
		}
		params[name] = w
	}
	want, got := params["oracle"], params["hybrid"]
	if len(got) != len(want) {
		t.Fatalf("%d parameters, oracle %d", len(got), len(want))
	}
	worst := 0.0
	for i := range want {
		diff := math.Abs(float64(got[i] - want[i]))
		worst = max(worst, diff)
		if diff > 1e-5+1e-4*math.Abs(float64(want[i])) {
			t.Fatalf("param %d = %v, CPU oracle %v (|diff| %.3g)", i, got[i], want[i], diff)
		}
	}
	t.Logf("largest difference from the CPU oracle: %.3g", worst)
}
