package train

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"trainer/cuda"
	"trainer/cuda/emu"
	"trainer/data"
	"trainer/model"
	"trainer/train/device"
)

// The emu backend opens the real GPU replicas, one per stream, on the
// host-emulated device, each with a dynamic loss scaler under fp16, as the
// CUDA backend does on a GPU.
func init() {
	device.Register("emu", func(spec device.Spec, req device.Request) (*device.Set, error) {
		prec, err := cuda.ParsePrecision(req.Precision)
		if err != nil {
			return nil, err
		}
		be := emu.New(req.Streams)
		set := &device.Set{Name: spec.String(), Precision: req.Precision}
		for s := 0; s < req.Streams; s++ {
			r, err := cuda.NewReplica(be, s, req.Model, prec)
			if err != nil {
				return nil, err
			}
			if prec.NeedsLossScaling() {
				sc := device.NewLossScaler()
				r.SetScaler(sc)
				set.Scalers = append(set.Scalers, sc)
			}
			set.Replicas, set.Eval = append(set.Replicas, r), append(set.Eval, r)
		}
		return set, nil
	})
}

// TestAssembleEmulatedGPU trains through the real GPU replica and its loss
// scaler on the emulated device, alone and beside a CPU worker under the
// hybrid scheduler, and checks what the metrics log reports.
func TestAssembleEmulatedGPU(t *testing.T) {
	c := model.Config{VocabSize: 40, EmbedDim: 8, Hidden: 8, Layers: 1, Pool: model.PoolMean}
	d := synthDataset(80, c.VocabSize, 5)
	cases := []struct {
		name    string
		workers int
		names   []string // the schedule's replicas; nil: no scheduler
	}{
		{"fp16 alone", 0, nil},
		{"fp16 + 1 cpu", 1, []string{"emu", "cpu"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			run, err := Assemble(RunConfig{Model: c, Seed: 7, Optim: device.DefaultOptimConfig(), Clip: 5,
				Devices: Devices{Device: device.Spec{Kind: "emu"}, CPUWorkers: tc.workers, Precision: "fp16", Streams: 1},
				Loop:    LoopConfig{Epochs: 1, Seed: 7, Dir: dir, Schedule: LRSchedule{Base: 2e-3}},
				Hooks: LoopHooks{
					Train: data.NewBatcher(d, data.BatchOptions{BatchSize: 16, MaxLen: 24, Seed: 7, Bucket: true, Shuffle: true}),
					Dev:   data.NewBatcher(d, data.BatchOptions{BatchSize: 16, MaxLen: 24, Bucket: true}).Epoch(0),
				}})
			if err != nil {
				t.Fatal(err)
			}
			defer run.Close()
			if _, err := run.Train(t.Context()); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(filepath.Join(dir, "metrics.jsonl"))
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(string(b)), "\n")
			if len(lines) != 1 {
				t.Fatalf("%d metrics lines, want 1", len(lines))
			}
			var m struct {
				Accuracy     *float64       `json:"accuracy"`
				LossScale    float64        `json:"loss_scale"`
				SkippedSteps *int64         `json:"skipped_steps"`
				Workers      int            `json:"workers"`
				Schedule     *EpochSchedule `json:"schedule"`
			}
			if err := json.Unmarshal([]byte(lines[0]), &m); err != nil {
				t.Fatal(err)
			}
			if m.Accuracy == nil || *m.Accuracy < 0 || *m.Accuracy > 1 {
				t.Errorf("dev accuracy %v", m.Accuracy)
			}
			// Small fp16 gradients of a fresh model do not overflow at 2^16.
			if m.LossScale != device.DefaultInitScale || m.SkippedSteps == nil || *m.SkippedSteps != 0 {
				t.Errorf("loss_scale %v, skipped_steps %v; want 65536 and 0", m.LossScale, m.SkippedSteps)
			}
			if (m.Schedule != nil) != (tc.names != nil) {
				t.Fatalf("schedule %+v, want one for %v", m.Schedule, tc.names)
			}
			if m.Schedule != nil {
				for i, r := range m.Schedule.Replicas {
					if !strings.HasPrefix(r.Name, tc.names[i]) {
						t.Errorf("replica %d is %s, want %s...", i, r.Name, tc.names[i])
					}
				}
				if m.Workers != len(tc.names) {
					t.Errorf("workers %d, want %d", m.Workers, len(tc.names))
				}
			}
		})
	}
}
