package train

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"trainer/data"
	"trainer/model"
	"trainer/train/device"
)

func TestNewHybridRejectsBadOptions(t *testing.T) {
	r := []device.Replica{exactReplica{"a"}, exactReplica{"b"}}
	cases := []struct {
		name string
		reps []device.Replica
		opt  HybridOptions
	}{
		{"no replicas", nil, HybridOptions{}},
		{"alpha above one", r, HybridOptions{Alpha: 2}},
		{"prior count", r, HybridOptions{Prior: []float64{1}}},
		{"negative prior", r, HybridOptions{Prior: []float64{1, -1}}},
		{"prior cost count", r, HybridOptions{PriorCost: []HybridCost{{PerRow: 1}}}},
		{"negative prior cost", r, HybridOptions{PriorCost: []HybridCost{{PerRow: 1}, {Fixed: -1}}}},
		{"NaN prior cost", r, HybridOptions{PriorCost: []HybridCost{{PerRow: math.NaN()}, {}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := NewHybrid(c.reps, c.opt); err == nil {
				t.Fatal("want an error")
			}
		})
	}
}

// TestHybridConverges runs replicas 1x, 2x and 4x slower than the fastest and
// checks that within a few steps the shares follow speed and no replica waits
// more than 10% of a step. Speeds come from sleeps, which a loaded machine
// stretches at random, so the check gets three attempts.
func TestHybridConverges(t *testing.T) {
	var why string
	for attempt := 1; attempt <= 3; attempt++ {
		if why = hybridConvergence(t); why == "" {
			return
		}
		t.Logf("attempt %d: %s", attempt, why)
	}
	t.Fatal(why)
}

// hybridConvergence runs one trial and says what went wrong, if anything.
func hybridConvergence(t *testing.T) string {
	const batch = 280
	reps := []device.Replica{
		sleepyReplica{exactReplica{}, 100 * time.Microsecond, "fast"},
		sleepyReplica{exactReplica{}, 200 * time.Microsecond, "mid"},
		sleepyReplica{exactReplica{}, 400 * time.Microsecond, "slow"},
	}
	h, err := NewHybrid(reps, HybridOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	params := make([]float32, 8)
	grad := make([]float32, len(params))
	b := hybridBatch(1, batch, 20, 50)
	var idle []float64
	for step := 1; step <= 10; step++ {
		_, s, err := h.Step(params, b, grad)
		if err != nil {
			t.Fatal(err)
		}
		if step > 4 {
			idle = append(idle, s.MaxIdleFrac())
		}
		t.Logf("step %d: %.1f ms, shares %v, max idle %.1f%%, models %+v", step, s.Seconds*1e3, hybridRows(s), 100*s.MaxIdleFrac(), h.Models())
	}
	// Speeds 4:2:1 over 280 rows: 160, 80, 40 once converged.
	want := []int{160, 80, 40}
	got := h.Split(batch)
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > 0.15*float64(want[i]) {
			return fmt.Sprintf("converged split %v, want about %v", got, want)
		}
	}
	slices.Sort(idle)
	if med := idle[len(idle)/2]; med > 0.10 {
		return fmt.Sprintf("median max idle fraction %.1f%% once converged, want <= 10%% (all: %.3f)", 100*med, idle)
	}
	return ""
}

func TestHybridDropsVerySlowReplica(t *testing.T) {
	reps := []device.Replica{
		sleepyReplica{exactReplica{}, 100 * time.Microsecond, "fast"},
		sleepyReplica{exactReplica{}, 40 * time.Millisecond, "slow"},
	}
	h, err := NewHybrid(reps, HybridOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	params := make([]float32, 4)
	grad := make([]float32, 4)
	// 16 rows: the fast replica needs 1.6 ms for all of them, the slow one
	// 40 ms for one, so even timings skewed 3x by a loaded machine keep it
	// out once both are measured (the warm-up and probe steps split evenly).
	b := hybridBatch(2, 16, 10, 30)
	var s HybridSchedule
	for step := 0; step < 4; step++ {
		if _, s, err = h.Step(params, b, grad); err != nil {
			t.Fatal(err)
		}
	}
	if s.Shares[1].Rows != 0 || !s.Shares[1].Excluded {
		t.Fatalf("400x slower replica got %d rows, want 0 (models %+v)", s.Shares[1].Rows, h.Models())
	}
	if s.Shares[0].Rows != 16 {
		t.Fatalf("fast replica got %d rows, want all 16", s.Shares[0].Rows)
	}
}

// TestHybridEqualsOneReplica checks the DDP contract: whatever the split, the
// summed gradient and result equal one replica on the whole batch.
func TestHybridEqualsOneReplica(t *testing.T) {
	params := []float32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	b := hybridBatch(3, 97, 15, 40)
	want := make([]float32, len(params))
	wantRes, err := exactReplica{}.Compute(params, b, want)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		prior []float64
	}{
		{"even", nil},
		{"skewed", []float64{1, 5, 11}},
		{"one dropped", []float64{1000, 1000, 1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			reps := []device.Replica{exactReplica{"a"}, exactReplica{"b"}, exactReplica{"c"}}
			h, err := NewHybrid(reps, HybridOptions{Prior: c.prior})
			if err != nil {
				t.Fatal(err)
			}
			// grad starts non-zero: Compute must add, not overwrite.
			got := make([]float32, len(params))
			for j := range got {
				got[j] = 1
			}
			res, s, err := h.Step(params, b, got)
			if err != nil {
				t.Fatal(err)
			}
			for j := range got {
				if got[j]-1 != want[j] {
					t.Fatalf("grad[%d] = %v, want %v (split %v)", j, got[j]-1, want[j], hybridRows(s))
				}
			}
			if res != wantRes {
				t.Fatalf("result %+v, want %+v", res, wantRes)
			}
		})
	}
}

type brokenReplica struct{}

func (brokenReplica) Name() string { return "broken" }
func (brokenReplica) Compute([]float32, data.Batch, []float32) (device.Result, error) {
	return device.Result{}, errors.New("device lost")
}

func TestHybridReportsReplicaError(t *testing.T) {
	h, err := NewHybrid([]device.Replica{exactReplica{"ok"}, brokenReplica{}}, HybridOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.Compute(make([]float32, 2), hybridBatch(4, 8, 5, 10), make([]float32, 2))
	if err == nil || !strings.Contains(err.Error(), "broken") {
		t.Fatalf("error %v does not name the failing replica", err)
	}
}

func hybridRows(s HybridSchedule) []int {
	r := make([]int, len(s.Shares))
	for i, sh := range s.Shares {
		r[i] = sh.Rows
	}
	return r
}

// TestEngineWithHybrid drives the engine with a hybrid scheduler as its one
// replica: the weights after several optimizer steps equal the engine
// with one plain replica, whatever split the scheduler picks.
func TestEngineWithHybrid(t *testing.T) {
	batches := []data.Batch{hybridBatch(5, 31, 9, 20), hybridBatch(6, 64, 12, 20), hybridBatch(7, 3, 4, 20)}
	run := func(rep device.Replica) []float32 {
		params := make([]float32, 12)
		for j := range params {
			params[j] = float32(j)
		}
		opt, err := NewOptimizer(device.OptimConfig{Kind: "sgd", Momentum: 0.9}, len(params))
		if err != nil {
			t.Fatal(err)
		}
		e, err := NewEngine(params, []device.Replica{rep}, opt, 0)
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
	want := run(exactReplica{"one"})
	h, err := NewHybrid([]device.Replica{exactReplica{"a"}, exactReplica{"b"}}, HybridOptions{Prior: []float64{3, 1}})
	if err != nil {
		t.Fatal(err)
	}
	got := run(h)
	if !slices.Equal(got, want) {
		t.Fatalf("hybrid engine weights %v, want %v", got, want)
	}
}

// TestHybridRealModel: CPU model replicas of different speeds under the
// scheduler give the gradient of one replica on the whole batch, up to
// fp32 summation order.
func TestHybridRealModel(t *testing.T) {
	// The n-gram model steps on its support only, wide rows included.
	for _, cfg := range []model.Config{
		{VocabSize: 60, EmbedDim: 6, Hidden: 5, Layers: 2},
		{VocabSize: 60, EmbedDim: 6, Hidden: 5, Layers: 1, Pool: model.PoolMax, Ngrams: 3, Buckets: 50},
	} {
		t.Run(fmt.Sprintf("ngrams%d", cfg.Ngrams), func(t *testing.T) { hybridRealModel(t, cfg) })
	}
}

func hybridRealModel(t *testing.T, cfg model.Config) {
	params := make([]float32, model.NewLayout(cfg).Size())
	model.InitParams(cfg, params, 4)
	b := hybridBatch(8, 41, 11, cfg.VocabSize)
	one, err := NewCPUReplica(cfg, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]float32, len(params))
	wantRes, err := one.Compute(params, b, want)
	if err != nil {
		t.Fatal(err)
	}
	cpus, err := NewCPUReplicas(cfg, 3)
	if err != nil {
		t.Fatal(err)
	}
	var reps []device.Replica
	for i, c := range cpus {
		reps = append(reps, sleepyReplica{c, time.Duration(i) * 50 * time.Microsecond, c.Name()})
	}
	h, err := NewHybrid(reps, HybridOptions{Sparsity: TableRows(cfg)})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	scale := 0.0
	for _, v := range want {
		scale = math.Max(scale, math.Abs(float64(v)))
	}
	for step := 0; step < 3; step++ { // the split changes as speeds are learnt
		got := make([]float32, len(params))
		res, s, err := h.Step(params, b, got)
		if err != nil {
			t.Fatal(err)
		}
		if res.Rows != wantRes.Rows || res.Correct != wantRes.Correct || math.Abs(res.Loss-wantRes.Loss) > 1e-5*wantRes.Loss {
			t.Fatalf("step %d: result %+v, one replica %+v", step, res, wantRes)
		}
		for j := range got {
			if d := math.Abs(float64(got[j] - want[j])); d > 1e-5*scale+1e-4*math.Abs(float64(want[j])) {
				t.Fatalf("step %d split %v: grad[%d] = %v, one replica %v", step, hybridRows(s), j, got[j], want[j])
			}
		}
	}
}
