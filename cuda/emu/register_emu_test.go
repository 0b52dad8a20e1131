//go:build emu && !cuda

package emu

import (
	"testing"

	"trainer/cuda"
	"trainer/model"
	"trainer/train/device"
)

// TestRegisteredCUDATrainsResident opens --device cuda:0 the way the run
// assembly does, through the device registry, and proves by the device's
// counters that a training step is the device-resident one: the batch up,
// 16 bytes down, one host wait, for every precision.
func TestRegisteredCUDATrainsResident(t *testing.T) {
	cfg := model.Config{VocabSize: 50, EmbedDim: 8, Hidden: 8, Layers: 1, Pool: model.PoolMean}
	params := make([]float32, model.NewLayout(cfg).Size())
	model.InitParams(cfg, params, 3)
	spec, err := device.ParseSpec("cuda:0")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ amp, want string }{{"auto", "bf16"}, {"fp32", "fp32"}, {"bf16", "bf16"}, {"fp16", "fp16"}} {
		t.Run(c.amp, func(t *testing.T) {
			set, err := device.Open(spec, device.Request{Model: cfg, Precision: c.amp, Streams: 1,
				Optim: device.DefaultOptimConfig(), Params: params})
			if err != nil {
				t.Fatal(err)
			}
			defer set.Close()
			if set.Precision != c.want || set.Resident == nil {
				t.Fatalf("precision %s resident %v, want %s and a resident step", set.Precision, set.Resident != nil, c.want)
			}
			counted, ok := set.Resident.(interface{ Counters() cuda.Counters })
			if !ok {
				t.Fatalf("%T does not count", set.Resident)
			}
			b := TrafficBatch(cfg, 4, 6)
			batchBytes := int64(4 * (len(b.Tokens) + len(b.Lengths) + len(b.Labels)))
			for step := 0; step < 3; step++ {
				before := counted.Counters()
				st, err := set.Resident.Step(b, 1e-2)
				if err != nil {
					t.Fatal(err)
				}
				d := counted.Counters().Sub(before)
				if d.H2DBytes != batchBytes || d.D2HBytes != 16 || d.Syncs != 1 {
					t.Errorf("step %d: %d bytes up (batch %d), %d down, %d waits; want the batch, 16 and 1",
						step, d.H2DBytes, batchBytes, d.D2HBytes, d.Syncs)
				}
				if st.Rows != b.Size || st.Skipped || !(st.Loss > 0) {
					t.Errorf("step %d: %+v", step, st)
				}
			}
		})
	}
}
