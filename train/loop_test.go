package train

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"trainer/data"
	"trainer/internal/atomicfile"
	"trainer/train/device"
)

type loopRun struct {
	workers   int
	epochs    int
	every     int     // checkpoint every this many steps
	stopAfter int     // cancel the context after this many steps (0 = never)
	nanAt     int     // replica call that returns a NaN loss (0 = never)
	patience  int     // early stopping
	lr        float64 // 0 = 0.05
	// scaler, when set, gives replica i a dynamic loss scaler (see
	// scaledReplica) that the loop checkpoints.
	scaler func(i int) *device.LossScaler
}

const loopVocab = 64

// runLoop trains the bag-of-words stand-in on a synthetic set for r and
// returns the final weights and the run's error.
func runLoop(t *testing.T, dir string, r loopRun, resume *Checkpoint) ([]float32, Summary, error) {
	t.Helper()
	d := synthDataset(200, loopVocab, 11)
	trainSet, dev := data.SplitDev(d, 0.2, 7)
	params := newBowParams(loopVocab)
	reps := make([]device.Replica, r.workers)
	fw := make([]device.Forwarder, r.workers)
	var calls atomic.Int64
	var scalers []*device.LossScaler
	for i := range reps {
		rep := bowReplica{vocab: loopVocab, nanAt: r.nanAt, calls: &calls}
		reps[i], fw[i] = rep, rep
		if r.scaler != nil {
			sc := r.scaler(i)
			scalers = append(scalers, sc)
			reps[i] = scaledReplica{rep, sc}
		}
	}
	opt, _ := NewOptimizer(device.DefaultOptimConfig(), len(params))
	e, err := NewEngine(params, reps, opt, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	lr := r.lr
	if lr == 0 {
		lr = 0.05
	}
	devB := data.NewBatcher(dev, data.BatchOptions{BatchSize: 16}).Epoch(0)
	cfg := LoopConfig{
		Epochs: r.epochs, Seed: 5, Patience: r.patience, CheckpointEvery: r.every, Dir: dir,
		Schedule: LRSchedule{Base: lr, Warmup: 3, Total: 40, Decay: "cosine"},
		Model:    json.RawMessage(`{"vocab":64}`), Run: json.RawMessage(`{}`),
		Scalers: scalers,
	}
	steps := 0
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h := LoopHooks{
		Train: data.NewBatcher(trainSet, data.BatchOptions{BatchSize: 13, Seed: 5, Shuffle: true, Bucket: true}),
		Dev:   devB, Test: devB[:2], Eval: fw,
		SaveBest: func(p []float32, rec EpochRecord) error {
			return atomicfile.Write(filepath.Join(dir, "model.bin"), func(w io.Writer) error {
				return writeFloats(w, p)
			})
		},
		OnStep: func(epoch, batch, batches int, st StepStats) {
			steps++
			if r.stopAfter > 0 && steps == r.stopAfter {
				cancel()
			}
		},
	}
	l, err := NewLoop(e, cfg, h, resume)
	if err != nil {
		return nil, Summary{}, err
	}
	sum, err := l.Run(ctx)
	return append([]float32(nil), params...), sum, err
}

func sameBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

func TestLoopReproducible(t *testing.T) {
	a, sa, err := runLoop(t, t.TempDir(), loopRun{workers: 2, epochs: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := runLoop(t, t.TempDir(), loopRun{workers: 2, epochs: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !sameBits(a, b) {
		t.Fatal("two runs with the same seed ended with different weights")
	}
	if sa.Epochs != 2 || sa.Steps != 2*13 { // 160 reviews in batches of 13
		t.Fatalf("summary %+v", sa)
	}
	if sa.Last.Dev == nil || sa.Last.Dev.Accuracy < 0.7 {
		t.Fatalf("stand-in model did not learn: %+v", sa.Last.Dev)
	}
}

// TestLoopResumeExact interrupts runs at several points (mid-epoch, right
// after a periodic checkpoint, at an epoch boundary) and checks that
// resuming ends with exactly the weights of an uninterrupted run.
func TestLoopResumeExact(t *testing.T) {
	full, fullSum, err := runLoop(t, t.TempDir(), loopRun{workers: 2, epochs: 3, every: 4}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, stop := range []int{1, 4, 6, 13, 27} {
		dir := t.TempDir()
		_, _, err := runLoop(t, dir, loopRun{workers: 2, epochs: 3, every: 4, stopAfter: stop}, nil)
		if !errors.Is(err, ErrInterrupted) {
			t.Fatalf("stop %d: run returned %v", stop, err)
		}
		ck, err := LoadCheckpoint(filepath.Join(dir, CheckpointName))
		if err != nil {
			t.Fatal(err)
		}
		if ck.Step != int64(stop) {
			t.Fatalf("stop %d: checkpoint at step %d", stop, ck.Step)
		}
		got, sum, err := runLoop(t, dir, loopRun{workers: 2, epochs: 3, every: 4}, ck)
		if err != nil {
			t.Fatalf("stop %d: resume: %v", stop, err)
		}
		if !sameBits(got, full) {
			t.Fatalf("stop %d: resumed run ended with other weights", stop)
		}
		if sum.Steps != fullSum.Steps || sum.BestEpoch != fullSum.BestEpoch {
			t.Fatalf("stop %d: summary %+v, uninterrupted %+v", stop, sum, fullSum)
		}
		lines := readMetrics(t, filepath.Join(dir, "metrics.jsonl"))
		if len(lines) != 3 {
			t.Fatalf("stop %d: %d metrics lines after resume, want 3", stop, len(lines))
		}
	}
}

// TestLoopResumeLossScale checks that checkpoints carry the replicas' loss
// scales: a run interrupted and resumed ends with the weights and scaler
// states of an uninterrupted one, and a checkpoint with another number of
// scalers is refused.
func TestLoopResumeLossScale(t *testing.T) {
	scalersInto := func(dst *[]*device.LossScaler) func(int) *device.LossScaler {
		return func(int) *device.LossScaler {
			s, err := device.NewLossScalerWith(1<<16, 2, 0.5, 3)
			if err != nil {
				t.Fatal(err)
			}
			*dst = append(*dst, s)
			return s
		}
	}
	var full []*device.LossScaler
	fullW, _, err := runLoop(t, t.TempDir(), loopRun{workers: 2, epochs: 2, every: 4, scaler: scalersInto(&full)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if full[0].Skipped() == 0 {
		t.Fatal("the scale never moved: the test would not notice a lost scale")
	}
	for _, stop := range []int{5, 14} {
		dir := t.TempDir()
		var first []*device.LossScaler
		if _, _, err := runLoop(t, dir, loopRun{workers: 2, epochs: 2, every: 4, stopAfter: stop, scaler: scalersInto(&first)}, nil); !errors.Is(err, ErrInterrupted) {
			t.Fatalf("stop %d: run returned %v", stop, err)
		}
		ck, err := LoadCheckpoint(filepath.Join(dir, CheckpointName))
		if err != nil {
			t.Fatal(err)
		}
		if len(ck.Scalers) != 2 || ck.Scalers[1] != first[1].State() {
			t.Fatalf("stop %d: checkpoint scalers %+v, the run's %+v", stop, ck.Scalers, first[1].State())
		}
		var resumed []*device.LossScaler
		got, _, err := runLoop(t, dir, loopRun{workers: 2, epochs: 2, every: 4, scaler: scalersInto(&resumed)}, ck)
		if err != nil {
			t.Fatalf("stop %d: resume: %v", stop, err)
		}
		if !sameBits(got, fullW) {
			t.Fatalf("stop %d: resumed run ended with other weights", stop)
		}
		for i := range full {
			if resumed[i].State() != full[i].State() {
				t.Fatalf("stop %d: replica %d scaler %+v, uninterrupted %+v", stop, i, resumed[i].State(), full[i].State())
			}
		}
		_, _, err = runLoop(t, dir, loopRun{workers: 2, epochs: 2, every: 4}, ck)
		if err == nil || !strings.Contains(err.Error(), "loss scalers") {
			t.Fatalf("stop %d: resuming without scalers: %v, want a loss-scaler count error", stop, err)
		}
	}
}

func readMetrics(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m := map[string]any{}
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("metrics line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

func TestLoopMetricsLog(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := runLoop(t, dir, loopRun{workers: 1, epochs: 2}, nil); err != nil {
		t.Fatal(err)
	}
	lines := readMetrics(t, filepath.Join(dir, "metrics.jsonl"))
	if len(lines) != 2 {
		t.Fatalf("%d lines", len(lines))
	}
	for i, m := range lines {
		for _, k := range []string{"epoch", "train_loss", "seconds", "tokens_per_s", "accuracy", "dev_loss",
			"precision", "recall", "f1", "balanced_accuracy", "confusion", "test_accuracy", "test_loss"} {
			if _, ok := m[k]; !ok {
				t.Fatalf("line %d lacks %q: %v", i, k, m)
			}
		}
		if m["epoch"].(float64) != float64(i+1) || m["tokens_per_s"].(float64) <= 0 {
			t.Fatalf("line %d: %v", i, m)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "model.bin")); err != nil {
		t.Fatal("best model not written:", err)
	}
}

func TestLoopEarlyStopping(t *testing.T) {
	// A learning rate too small to change any prediction: dev accuracy
	// never improves after epoch 1, so patience 2 stops after epoch 3.
	_, sum, err := runLoop(t, t.TempDir(), loopRun{workers: 1, epochs: 10, patience: 2, lr: 1e-12}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !sum.EarlyStopped || sum.Epochs != 3 || sum.BestEpoch != 1 {
		t.Fatalf("summary %+v", sum)
	}
}

func TestLoopNaNKeepsCheckpoint(t *testing.T) {
	dir := t.TempDir()
	_, _, err := runLoop(t, dir, loopRun{workers: 1, epochs: 2, every: 3, nanAt: 8}, nil)
	if !errors.Is(err, device.ErrNonFinite) || !strings.Contains(err.Error(), "NaN") || !strings.Contains(err.Error(), CheckpointName) {
		t.Fatalf("error %v", err)
	}
	ck, err := LoadCheckpoint(filepath.Join(dir, CheckpointName))
	if err != nil {
		t.Fatal(err)
	}
	if ck.Step != 6 {
		t.Fatalf("kept checkpoint at step %d, want 6", ck.Step)
	}
	for _, p := range ck.Params {
		if math.IsNaN(float64(p)) {
			t.Fatal("checkpoint holds NaN weights")
		}
	}
}

func TestLoopRejects(t *testing.T) {
	opt, _ := NewOptimizer(device.DefaultOptimConfig(), 3)
	e, _ := NewEngine(make([]float32, 3), []device.Replica{bowReplica{vocab: 2}}, opt, 0)
	defer e.Close()
	empty := data.NewBatcher(&data.Dataset{Offsets: []int64{0}}, data.BatchOptions{BatchSize: 4})
	if _, err := NewLoop(e, LoopConfig{Epochs: 1, Schedule: LRSchedule{Base: 1}}, LoopHooks{Train: empty}, nil); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Fatalf("empty training set: %v", err)
	}
	full := data.NewBatcher(synthDataset(5, 8, 1), data.BatchOptions{BatchSize: 4})
	if _, err := NewLoop(e, LoopConfig{Epochs: 0, Schedule: LRSchedule{Base: 1}}, LoopHooks{Train: full}, nil); err == nil {
		t.Fatal("0 epochs accepted")
	}
	if _, err := NewLoop(e, LoopConfig{Epochs: 1, Schedule: LRSchedule{Base: 1}}, LoopHooks{Train: full}, &Checkpoint{Params: make([]float32, 9)}); err == nil {
		t.Fatal("checkpoint of another size accepted")
	}
}
