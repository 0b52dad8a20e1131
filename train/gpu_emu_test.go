package train

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
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

// smallDefaultModel is the command's default model in small: bidirectional,
// max pooling over time, the wide bigram path.
var smallDefaultModel = model.Config{VocabSize: 40, EmbedDim: 8, Hidden: 6, Layers: 1, Bidirectional: true,
	Pool: model.PoolMax, Ngrams: 2, Buckets: 64}

// ngramShapes are the models the device-against-CPU tests train with the
// wide n-gram path: mean pooling with bigrams, and the default's shape.
var ngramShapes = []struct {
	name string
	c    model.Config
}{
	{"mean-bigrams", model.Config{VocabSize: 40, EmbedDim: 8, Hidden: 8, Layers: 1, Pool: model.PoolMean, Ngrams: 2, Buckets: 64}},
	{"default-shape", smallDefaultModel},
}

// TestAssembleEmulatedGPU trains through the real GPU replica and its loss
// scaler on the emulated device, alone and beside a CPU worker under the
// hybrid scheduler, with and without the wide bigram path, and with the
// default model's shape (bidirectional, max pooling), and checks what the
// metrics log reports.
func TestAssembleEmulatedGPU(t *testing.T) {
	lstm := model.Config{VocabSize: 40, EmbedDim: 8, Hidden: 8, Layers: 1, Pool: model.PoolMean}
	bigrams := lstm
	bigrams.Ngrams, bigrams.Buckets = 2, 64
	d := synthDataset(80, lstm.VocabSize, 5)
	cases := []struct {
		name    string
		c       model.Config
		workers int
		names   []string // the schedule's replicas; nil: no scheduler
	}{
		{"fp16 alone", lstm, 0, nil},
		{"fp16 + 1 cpu", lstm, 1, []string{"emu", "cpu"}},
		{"fp16 alone, bigrams", bigrams, 0, nil},
		{"fp16 + 1 cpu, bigrams", bigrams, 1, []string{"emu", "cpu"}},
		{"fp16 + 1 cpu, default shape", smallDefaultModel, 1, []string{"emu", "cpu"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.c
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

// TestEmulatedGPUMatchesCPUWithNgrams: the GPU replica on the emulated
// device, training alone with the wide bigram path (its features hashed on
// the device), ends with the weights of one CPU worker on the same batches,
// up to summation order; so does the default model's shape (bidirectional,
// max pooling, bigrams). SGD, as in TestEmulatedHybridMatchesCPUOracle, so
// that a real difference cannot hide behind Adam's sign steps.
func TestEmulatedGPUMatchesCPUWithNgrams(t *testing.T) {
	for _, tc := range ngramShapes {
		t.Run(tc.name, func(t *testing.T) { testEmulatedGPUMatchesCPU(t, tc.c) })
	}
}

func testEmulatedGPUMatchesCPU(t *testing.T, c model.Config) {
	opt := device.DefaultOptimConfig()
	opt.Kind = "sgd"
	weights := trainOnEach(t, RunConfig{Model: c, Seed: 7, Optim: opt, Loop: LoopConfig{Schedule: LRSchedule{Base: 0.05}}},
		synthDataset(96, c.VocabSize, 5), map[string]Devices{
			"cpu": {Device: device.Spec{Kind: "cpu"}, CPUWorkers: 1},
			"emu": {Device: device.Spec{Kind: "emu"}, Precision: "fp32", Streams: 1},
		}, nil)
	want, got := weights["cpu"], weights["emu"]
	lay := model.NewLayout(c)
	if len(got) != lay.Size() || len(want) != lay.Size() {
		t.Fatalf("%d and %d parameters, the model has %d", len(got), len(want), lay.Size())
	}
	if wide := lay.Wide(want); slices.Max(wide) == 0 && slices.Min(wide) == 0 {
		t.Fatal("the CPU run left the wide table at zero: nothing to compare")
	}
	for _, v := range lay.Views() {
		g, w := v.Slice(got), v.Slice(want)
		worst := 0.0
		for i := range w {
			diff := math.Abs(float64(g[i] - w[i]))
			worst = max(worst, diff)
			if diff > 1e-5+1e-4*math.Abs(float64(w[i])) {
				t.Fatalf("%s[%d] = %v, CPU %v (|diff| %.3g)", v.Name, i, g[i], w[i], diff)
			}
		}
		t.Logf("%s: largest difference from the CPU %.3g", v.Name, worst)
	}
}

// trainOnEach trains cfg for 2 epochs of d on each of devs and returns
// each run's final weights by name; check, when set, sees each run before
// it trains.
func trainOnEach(t *testing.T, cfg RunConfig, d *data.Dataset, devs map[string]Devices, check func(name string, run *Run) error) map[string][]float32 {
	t.Helper()
	weights := map[string][]float32{}
	for name, dev := range devs {
		cfg := cfg
		cfg.Devices = dev
		cfg.Loop.Epochs, cfg.Loop.Seed, cfg.Loop.Dir = 2, cfg.Seed, t.TempDir()
		cfg.Hooks = LoopHooks{Train: data.NewBatcher(d, data.BatchOptions{BatchSize: 16, MaxLen: 24, Seed: cfg.Seed, Bucket: true, Shuffle: true})}
		run, err := Assemble(cfg)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if check != nil {
			err = check(name, run)
		}
		if err == nil {
			_, err = run.Train(t.Context())
		}
		if err == nil {
			weights[name], err = run.Weights()
		}
		run.Close()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	return weights
}
