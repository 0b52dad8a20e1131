package train

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"

	"trainer/data"
	"trainer/model"
	"trainer/train/device"
)

// cpuResident is a device.Resident that computes on the host: a CPU
// replica for the gradient and the host optimizer for the step, as a GPU
// does on its device. Trained through the loop, it must give the weights
// of the engine over one CPU worker bit for bit.
type cpuResident struct {
	rep    *CPUReplica
	opt    Optimizer
	clip   float64
	params []float32
	grad   []float32
	closed bool
}

func newCPUResident(req device.Request) (*cpuResident, error) {
	rep, err := NewCPUReplica(req.Model, 0)
	if err != nil {
		return nil, err
	}
	opt, err := NewOptimizer(req.Optim, len(req.Params))
	if err != nil {
		return nil, err
	}
	return &cpuResident{rep: rep, opt: opt, clip: req.Clip, params: append([]float32(nil), req.Params...),
		grad: make([]float32, len(req.Params))}, nil
}

func (c *cpuResident) Name() string { return "cpuresident" }

func (c *cpuResident) Step(b data.Batch, lr float64) (device.StepResult, error) {
	clear(c.grad)
	res, err := c.rep.Compute(c.params, b, c.grad)
	if err != nil {
		return device.StepResult{}, err
	}
	sq := reduceRange([][]float32{c.grad}, 0, len(c.grad), float32(1/float64(b.Size)))
	st := device.StepResult{Result: res, GradNorm: math.Sqrt(sq), LossScale: 1}
	if math.IsNaN(st.Loss) || math.IsInf(st.Loss, 0) || math.IsNaN(st.GradNorm) || math.IsInf(st.GradNorm, 0) {
		return st, device.ErrNonFinite
	}
	st.ClipScale = ClipScale(st.GradNorm, c.clip)
	if st.ClipScale != 1 {
		scaleRange(c.grad, float32(st.ClipScale))
	}
	c.opt.Begin()
	c.opt.Update(c.params, c.grad, lr, 0, len(c.params))
	return st, nil
}

func (c *cpuResident) ReadParams(dst []float32) error  { copy(dst, c.params); return nil }
func (c *cpuResident) WriteParams(src []float32) error { copy(c.params, src); return nil }
func (c *cpuResident) OptimState() (device.OptimState, error) {
	return c.opt.State(), nil
}
func (c *cpuResident) SetOptimState(s device.OptimState) error { return c.opt.SetState(s) }
func (c *cpuResident) Scalers() []*device.LossScaler           { return nil }
func (c *cpuResident) Forwarders() []device.Forwarder {
	return []device.Forwarder{residentForwarder{c}}
}
func (c *cpuResident) Close() error { c.closed = true; return nil }

// residentForwarder evaluates with the resident's own weights.
type residentForwarder struct{ c *cpuResident }

func (f residentForwarder) Forward(_ []float32, b data.Batch, logits []float32) error {
	return f.c.rep.Forward(f.c.params, b, logits)
}

// The cpuresident backend opens a cpuResident, and no host replicas.
func init() {
	device.Register("cpuresident", func(spec device.Spec, req device.Request) (*device.Set, error) {
		r, err := newCPUResident(req)
		if err != nil {
			return nil, err
		}
		return &device.Set{Name: spec.String(), Precision: "fp32", Resident: r, Close: r.Close}, nil
	})
}

var assembleModel = model.Config{VocabSize: 60, EmbedDim: 6, Hidden: 5, Layers: 1, Pool: model.PoolMean}

// assembleRun assembles and trains a small run on synthetic reviews in
// dir; stopAfter > 0 interrupts it after that many steps.
func assembleRun(t *testing.T, dir string, devs Devices, resume *Checkpoint, stopAfter int) ([]float32, Summary, error) {
	t.Helper()
	return assembleRunWith(t, dir, devs, resume, stopAfter, nil)
}

// assembleRunDropout is assembleRun with word dropout in the training
// batches.
func assembleRunDropout(t *testing.T, dir string, devs Devices, resume *Checkpoint, stopAfter int, wordDropout float64) ([]float32, Summary, error) {
	t.Helper()
	return assembleRunWith(t, dir, devs, resume, stopAfter, func(_ *RunConfig, bo *data.BatchOptions) {
		bo.WordDropout = wordDropout
	})
}

// assembleRunWith is assembleRun with edit applied first to the run's
// configuration and the training batches' options (nil: none).
func assembleRunWith(t *testing.T, dir string, devs Devices, resume *Checkpoint, stopAfter int, edit func(*RunConfig, *data.BatchOptions)) ([]float32, Summary, error) {
	t.Helper()
	d := synthDataset(120, assembleModel.VocabSize, 5)
	trainSet, dev := data.SplitDev(d, 0.2, 3)
	oc := device.DefaultOptimConfig()
	cfg := RunConfig{Model: assembleModel, Seed: 9, Optim: oc, Devices: devs,
		Loop: LoopConfig{Epochs: 2, Seed: 9, Dir: dir, Schedule: LRSchedule{Base: 0.01, Decay: "cosine", Total: 20}},
		Hooks: LoopHooks{
			Dev: data.NewBatcher(dev, data.BatchOptions{BatchSize: 10, MaxLen: 30, Bucket: true}).Epoch(0),
		},
		Resume: resume,
	}
	bo := data.BatchOptions{BatchSize: 10, MaxLen: 30, Seed: 9, Bucket: true, Shuffle: true}
	if edit != nil {
		edit(&cfg, &bo)
	}
	cfg.Hooks.Train = data.NewBatcher(trainSet, bo)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	steps := 0
	cfg.Hooks.OnStep = func(int, int, int, StepStats) {
		if steps++; steps == stopAfter {
			cancel()
		}
	}
	run, err := Assemble(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer run.Close()
	sum, err := run.Train(ctx)
	w, werr := run.Weights()
	if werr != nil {
		t.Fatal(werr)
	}
	return append([]float32(nil), w...), sum, err
}

func TestAssembleResidentMatchesEngine(t *testing.T) {
	cpu := Devices{Device: device.Spec{Kind: "cpu"}, CPUWorkers: 1}
	resident := Devices{Device: device.Spec{Kind: "cpuresident"}}
	want, wantSum, err := assembleRun(t, t.TempDir(), cpu, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	got, sum, err := assembleRun(t, dir, resident, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !sameBits(got, want) {
		t.Fatal("the resident replica trained other weights than the engine over one CPU worker")
	}
	if sum.BestRecord.Dev == nil || sum.BestRecord.Dev.Accuracy != wantSum.BestRecord.Dev.Accuracy {
		t.Fatalf("best dev %+v, engine %+v: evaluation must use the resident's weights", sum.BestRecord.Dev, wantSum.BestRecord.Dev)
	}
	// Interrupted and resumed through its checkpoint (weights and optimizer
	// state read back from the device), it ends where the full run did.
	for _, stop := range []int{3, 10} {
		dir := t.TempDir()
		if _, _, err := assembleRun(t, dir, resident, nil, stop); !errors.Is(err, ErrInterrupted) {
			t.Fatalf("stop %d: %v, want an interruption", stop, err)
		}
		ck, err := LoadCheckpoint(filepath.Join(dir, CheckpointName))
		if err != nil {
			t.Fatal(err)
		}
		got, _, err := assembleRun(t, dir, resident, ck, 0)
		if err != nil {
			t.Fatal(err)
		}
		if !sameBits(got, want) {
			t.Fatalf("stop %d: the resumed resident run ended with other weights", stop)
		}
	}
}

func TestResidentStepperErrors(t *testing.T) {
	if _, err := NewResidentStepper(nil, 3); err == nil {
		t.Fatal("a nil resident was accepted")
	}
	p := make([]float32, model.NewLayout(assembleModel).Size())
	r, err := newCPUResident(device.Request{Model: assembleModel, Optim: device.DefaultOptimConfig(), Params: p})
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewResidentStepper(r, len(p))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetWeights(make([]float32, 2)); err == nil {
		t.Fatal("weights of the wrong size were accepted")
	}
	if _, err := s.Step(data.Batch{}, 0.1); err == nil {
		t.Fatal("an empty batch was accepted")
	}
	s.Close()
	if !r.closed {
		t.Fatal("Close did not close the resident replica")
	}
}

// TestMetricsLogResumeNoDuplicates: a run killed right after an epoch's
// metrics line, before its checkpoint, leaves that line in the log; the
// resumed run writes the epoch again, so it must drop the stale line.
func TestMetricsLogResumeNoDuplicates(t *testing.T) {
	cpu := Devices{Device: device.Spec{Kind: "cpu"}, CPUWorkers: 2}
	dir := t.TempDir()
	// Interrupted in epoch 2: the checkpoint holds 1 finished epoch.
	if _, _, err := assembleRun(t, dir, cpu, nil, 12); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("%v, want an interruption", err)
	}
	ck, err := LoadCheckpoint(filepath.Join(dir, CheckpointName))
	if err != nil {
		t.Fatal(err)
	}
	if ck.Epoch != 1 {
		t.Fatalf("checkpoint at epoch %d, want 1 (the test's data changed)", ck.Epoch)
	}
	// What a kill -9 after epoch 2's line and before its checkpoint leaves.
	f, _ := os.OpenFile(filepath.Join(dir, "metrics.jsonl"), os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(`{"epoch":2,"stale":true}` + "\n")
	f.Close()
	if _, _, err := assembleRun(t, dir, cpu, ck, 0); err != nil {
		t.Fatal(err)
	}
	var epochs []int
	lf, _ := os.Open(filepath.Join(dir, "metrics.jsonl"))
	defer lf.Close()
	sc := bufio.NewScanner(lf)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		if m["stale"] != nil {
			t.Fatal("the stale line of the killed run survived the resume")
		}
		epochs = append(epochs, int(m["epoch"].(float64)))
	}
	if len(epochs) != 2 || epochs[0] != 1 || epochs[1] != 2 {
		t.Fatalf("metrics log epochs %v, want [1 2]", epochs)
	}
}

func TestOpenMetricsLogKeeps(t *testing.T) {
	cases := []struct {
		name, before string
		keep         int
		after        string
	}{
		{"fresh run empties", "a\nb\n", 0, ""},
		{"keeps the first lines", "a\nb\nc\n", 2, "a\nb\n"},
		{"shorter log kept whole", "a\n", 3, "a\n"},
		{"partial last line kept when within keep", "a\nb", 2, "a\nb"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "m.jsonl")
			os.WriteFile(path, []byte(c.before), 0o644)
			m, err := openMetricsLog(path, c.keep)
			if err != nil {
				t.Fatal(err)
			}
			m.Close()
			if b, _ := os.ReadFile(path); string(b) != c.after {
				t.Fatalf("log %q, want %q", b, c.after)
			}
		})
	}
	if _, err := openMetricsLog(filepath.Join(t.TempDir(), "no", "dir", "m.jsonl"), 0); err == nil {
		t.Fatal("a log in a missing directory was opened")
	}
}

func TestAssembleNoReplicas(t *testing.T) {
	_, err := Assemble(RunConfig{Model: assembleModel, Optim: device.DefaultOptimConfig(),
		Devices: Devices{Device: device.Spec{Kind: "cpu"}}, Loop: LoopConfig{Epochs: 1}})
	if err == nil {
		t.Fatal("a run without CPU workers or a device was assembled")
	}
}

// TestAssembleWordDropout checks the data-parallel contract with word
// dropout on: the masks are drawn per review and position, so two workers
// give one worker's weights (up to summation order), and a run interrupted
// and resumed gives the uninterrupted run's weights exactly.
func TestAssembleWordDropout(t *testing.T) {
	const p = 0.3
	one := Devices{Device: device.Spec{Kind: "cpu"}, CPUWorkers: 1}
	two := Devices{Device: device.Spec{Kind: "cpu"}, CPUWorkers: 2}
	want, _, err := assembleRunDropout(t, t.TempDir(), one, nil, 0, p)
	if err != nil {
		t.Fatal(err)
	}
	plain, _, err := assembleRunDropout(t, t.TempDir(), one, nil, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if maxAbsDiff(want, plain) < 1e-4 {
		t.Fatal("word dropout 0.3 left the weights as without dropout: the batches were not changed")
	}
	got, _, err := assembleRunDropout(t, t.TempDir(), two, nil, 0, p)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxAbsDiff(want, got); d > 1e-4 {
		t.Fatalf("2 workers differ from 1 by up to %g with word dropout", d)
	}
	dir := t.TempDir()
	if _, _, err := assembleRunDropout(t, dir, two, nil, 7, p); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("interrupted run returned %v", err)
	}
	ck, err := LoadCheckpoint(filepath.Join(dir, CheckpointName))
	if err != nil {
		t.Fatal(err)
	}
	full, _, err := assembleRunDropout(t, t.TempDir(), two, nil, 0, p)
	if err != nil {
		t.Fatal(err)
	}
	resumed, _, err := assembleRunDropout(t, dir, two, ck, 0, p)
	if err != nil {
		t.Fatal(err)
	}
	if !sameBits(resumed, full) {
		t.Fatal("resumed run with word dropout ended with other weights than the uninterrupted one")
	}
}

func maxAbsDiff(a, b []float32) float64 {
	m := 0.0
	for i := range a {
		m = max(m, math.Abs(float64(a[i])-float64(b[i])))
	}
	return m
}
