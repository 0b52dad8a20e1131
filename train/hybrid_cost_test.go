package train

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"trainer/train/device"
)

func TestFitCost(t *testing.T) {
	exact := func(a, b float64, rows ...int) []costObs {
		var o []costObs
		for _, r := range rows {
			o = append(o, costObs{r, a + b*float64(r)})
		}
		return o
	}
	cases := []struct {
		name      string
		obs       []costObs
		prev      HybridCost
		hasPrev   bool
		wantFixed float64
		wantRow   float64
		tol       float64 // relative
		refits    int     // further fits, each pulled toward the last, as observe does step after step
	}{
		{"spread shares recover both", exact(0.020, 0.0001, 10, 100, 200, 250), HybridCost{}, false, 0.020, 0.0001, 0.02, 5},
		{"spread shares beat a wrong prior", exact(0.020, 0.0001, 10, 100, 200, 250, 30, 180), HybridCost{PerRow: 0.001}, true, 0.020, 0.0001, 0.02, 5},
		{"one share keeps the prior's shape", exact(0.010, 0.001, 50, 50, 50), HybridCost{Fixed: 0.005, PerRow: 0.0005}, true, 0.010, 0.001, 1e-9, 0},
		{"one point and no prior: per-row", exact(0.010, 0.001, 20), HybridCost{}, false, 0, 0.030 / 20, 1e-9, 0},
		{"time falling with rows: old shape", []costObs{{10, 0.03}, {20, 0.02}, {30, 0.01}}, HybridCost{Fixed: 0.01, PerRow: 0.0005}, true, 0.01, 0.0005, 1e-9, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := fitCost(c.obs, c.prev, c.hasPrev)
			for range c.refits {
				got = fitCost(c.obs, got, true)
			}
			if got.Fixed < 0 || got.PerRow < 0 {
				t.Fatalf("negative cost %+v", got)
			}
			if !near(got.Fixed, c.wantFixed, c.tol, 1e-6) || !near(got.PerRow, c.wantRow, c.tol, 1e-9) {
				t.Fatalf("fit %+v, want fixed %g per row %g", got, c.wantFixed, c.wantRow)
			}
			if got.Samples != len(c.obs) {
				t.Fatalf("samples %d, want %d", got.Samples, len(c.obs))
			}
		})
	}
}

func near(got, want, rel, abs float64) bool {
	return math.Abs(got-want) <= abs+rel*math.Abs(want)
}

// TestCostPolicySplit checks the splits that do not need measurements:
// the even split of the warm-up and probe steps, splits from priors, and
// the edge cases of batch size.
func TestCostPolicySplit(t *testing.T) {
	cases := []struct {
		name  string
		n     int
		prior []HybridCost
		want  []int
	}{
		{"unmeasured: even", 10, make([]HybridCost, 3), []int{4, 3, 3}},
		{"one unmeasured: even", 10, []HybridCost{{PerRow: 1}, {}, {PerRow: 1}}, []int{4, 3, 3}},
		{"per-row priors: proportional", 100, []HybridCost{{PerRow: 1.0 / 300}, {PerRow: 1.0 / 100}}, []int{75, 25}},
		{"100x slower gets nothing", 64, []HybridCost{{PerRow: 1e-4}, {PerRow: 1e-2}}, []int{64, 0}},
		{"fixed cost dominates: alone", 256, []HybridCost{{Fixed: 0.020, PerRow: 1e-6}, {Fixed: 0.0005, PerRow: 0.004}}, []int{256, 0}},
		{"large per-row cost: shared", 256, []HybridCost{{Fixed: 0.005, PerRow: 0.0002}, {Fixed: 0.0005, PerRow: 0.004}}, []int{243, 13}},
		{"empty batch", 0, []HybridCost{{PerRow: 1}, {PerRow: 2}}, []int{0, 0}},
		{"fewer rows than replicas", 2, make([]HybridCost, 3), []int{1, 1, 0}},
		{"fewer rows than useful replicas", 2, []HybridCost{{PerRow: 1}, {PerRow: 1}, {PerRow: 1}}, []int{1, 1, 0}},
		{"one replica", 7, []HybridCost{{PerRow: 5}}, []int{7}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := newCostPolicy(len(c.prior), 1, 16, c.prior)
			got, probe := p.split(c.n)
			if !slices.Equal(got, c.want) {
				t.Fatalf("split(%d) = %v, want %v", c.n, got, c.want)
			}
			sum := 0
			for i, r := range got {
				sum += r
				if probe[i] {
					t.Fatalf("replica %d re-probed on the first step", i)
				}
			}
			if sum != c.n {
				t.Fatalf("rows sum to %d, want %d", sum, c.n)
			}
		})
	}
}

// simReplica is a replica in simulated time: a step on r rows takes
// fixed + perRow*r seconds, times a seeded log-normal noise, plus first on
// its first step (allocation, module load). From step changeAt on (when
// set) it costs like then instead.
type simReplica struct {
	fixed, perRow, noise, first, reduce float64
	changeAt                            int
	then                                *simReplica
}

// cost is the noise-free step time of r rows at step s.
func (r simReplica) cost(s, rows int) float64 {
	if r.then != nil && s >= r.changeAt {
		return r.then.cost(s, rows)
	}
	return r.fixed + r.perRow*float64(rows)
}

// simStep is one simulated step.
type simStep struct {
	rows     []int
	probe    []bool
	expected float64 // noise-free step: slowest share plus reduce costs
	best     float64 // noise-free step of the best replica alone
	gpuAlone float64 // noise-free step of replica 0 alone
}

// simulate drives the cost policy with simulated replicas for a number of
// steps of n rows: deterministic (seeded noise, simulated clock).
func simulate(t *testing.T, reps []simReplica, n, steps int, seed uint64) []simStep {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 99))
	p := newCostPolicy(len(reps), defaultWarmupSteps, defaultReprobeEvery, nil)
	seen := make([]bool, len(reps))
	var out []simStep
	for s := 1; s <= steps; s++ {
		rows, probe := p.split(n)
		st := simStep{rows: rows, probe: probe, best: math.Inf(1)}
		sum := 0
		for i, r := range reps {
			alone := r.cost(s, n) + r.reduce
			st.best = math.Min(st.best, alone)
			if i == 0 {
				st.gpuAlone = alone
			}
			sum += rows[i]
			if rows[i] == 0 {
				continue
			}
			c := r.cost(s, rows[i])
			st.expected = math.Max(st.expected, c)
			measured := c * math.Exp(r.noise*rng.NormFloat64())
			if !seen[i] {
				measured += r.first
				seen[i] = true
			}
			p.observe(i, rows[i], measured, r.reduce, probe[i], 0.5)
		}
		for i, r := range reps {
			if rows[i] > 0 {
				st.expected += r.reduce
			}
		}
		if sum != n {
			t.Fatalf("step %d: rows %v sum to %d, want %d", s, rows, sum, n)
		}
		out = append(out, st)
	}
	return out
}

// gpuAndCPUs is one simulated GPU followed by k identical CPU workers.
func gpuAndCPUs(gpu, cpu simReplica, k int) []simReplica {
	reps := []simReplica{gpu}
	for range k {
		reps = append(reps, cpu)
	}
	return reps
}

const (
	// settleSteps are the warm-up, the probe (see costPolicy) and the
	// steps the fit needs to settle: not held to maxSlower.
	settleSteps = 8
	maxSlower   = 0.02 // hybrid may be this much slower per step than the best replica alone
)

// The GPU of the replay: 20 ms a step whatever its share, a slow
// first step; CPU workers with a per-row cost.
var (
	fixedGPU = simReplica{fixed: 0.020, perRow: 2e-5, noise: 0.03, first: 0.5, reduce: 1e-4}
	rowGPU   = simReplica{fixed: 0.005, perRow: 2e-4, noise: 0.03, first: 0.5, reduce: 1e-4}
	cpu      = simReplica{fixed: 5e-4, perRow: 0.004, noise: 0.10, first: 0.01, reduce: 1e-4}
)

// TestHybridNeverSlowerThanBestReplica: once settled, whatever the
// replicas, every step the scheduler plans is within 2% of the best
// replica alone (noise-free costs of the split it chose), except re-probes
// of replicas whose one row lengthens the step, which come at most once
// in 32 steps.
func TestHybridNeverSlowerThanBestReplica(t *testing.T) {
	slowCPU := simReplica{fixed: 5e-4, perRow: 0.4, noise: 0.1, reduce: 1e-4}
	cases := []struct {
		name string
		reps []simReplica
		n    int
	}{
		{"fixed-cost GPU + 12 CPU workers", gpuAndCPUs(fixedGPU, cpu, 12), 256},
		{"per-row GPU + 12 CPU workers", gpuAndCPUs(rowGPU, cpu, 12), 256},
		{"fixed-cost GPU + 4 CPU workers, batch 64", gpuAndCPUs(fixedGPU, cpu, 4), 64},
		{"4 equal CPU workers", gpuAndCPUs(cpu, cpu, 3), 128},
		{"GPU + 100x slower CPU worker", gpuAndCPUs(fixedGPU, slowCPU, 1), 256},
		{"noiseless GPU alone", []simReplica{{fixed: 0.01, perRow: 1e-5}}, 256},
	}
	for _, c := range cases {
		for seed := uint64(1); seed <= 3; seed++ {
			steps := simulate(t, c.reps, c.n, 300, seed)
			costly := 0
			for s, st := range steps[settleSteps:] {
				if st.expected <= st.best*(1+maxSlower) {
					continue
				}
				if slices.Contains(st.probe, true) {
					costly++
					continue
				}
				t.Fatalf("%s, seed %d, step %d: split %v takes %.2f ms, best replica alone %.2f ms (%+.1f%%)",
					c.name, seed, s+settleSteps+1, st.rows, 1e3*st.expected, 1e3*st.best, 100*(st.expected/st.best-1))
			}
			if limit := len(steps)/(2*defaultReprobeEvery) + 1; costly > limit {
				t.Errorf("%s, seed %d: %d re-probes lengthened the step, want at most %d", c.name, seed, costly, limit)
			}
		}
	}
}

// TestHybridReplayKeepsTheGPU replays the case: a GPU with 20 ms
// of fixed cost and a slow first step beside 12 CPU workers. A split by
// rows/s gave the GPU 10 rows and then none for ever; the cost model keeps
// it the main replica.
func TestHybridReplayKeepsTheGPU(t *testing.T) {
	steps := simulate(t, gpuAndCPUs(fixedGPU, cpu, 12), 256, 100, 1)
	for s, st := range steps[settleSteps:] {
		if st.rows[0] < 200 {
			t.Fatalf("step %d: the GPU got %d of 256 rows (split %v)", s+settleSteps+1, st.rows[0], st.rows)
		}
	}
}

// TestHybridFasterThanGPUWhenCPUsHelp: with a GPU whose per-row cost is
// large, the CPU workers take rows and the step is shorter than the GPU's
// alone.
func TestHybridFasterThanGPUWhenCPUsHelp(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		steps := simulate(t, gpuAndCPUs(rowGPU, cpu, 12), 256, 200, seed)
		hybrid, gpu := 0.0, 0.0
		for _, st := range steps[settleSteps:] {
			hybrid += st.expected
			gpu += st.gpuAlone
		}
		last := steps[len(steps)-1]
		t.Logf("seed %d: mean step %.2f ms against the GPU alone %.2f ms, last split %v", seed,
			1e3*hybrid/float64(len(steps)-settleSteps), 1e3*gpu/float64(len(steps)-settleSteps), last.rows)
		if hybrid >= 0.9*gpu {
			t.Errorf("seed %d: hybrid steps sum to %.3f s, GPU alone %.3f s: want at least 10%% faster", seed, hybrid, gpu)
		}
		if last.rows[0] == 256 {
			t.Errorf("seed %d: CPU workers got nothing (split %v)", seed, last.rows)
		}
	}
}

// TestHybridBringsBackReplicaThatBecameFast: CPU workers too slow to help
// are left out; from step 100 they are fast (another job left the
// machine), and within 50 steps they have rows again. Both kinds of left
// out replicas are covered: one whose probe row fits in the GPU's step
// and one whose probe row would lengthen it.
func TestHybridBringsBackReplicaThatBecameFast(t *testing.T) {
	fast := &simReplica{fixed: 5e-4, perRow: 1e-4, noise: 0.05, reduce: 1e-4}
	cases := []struct {
		name string
		gpu  simReplica
		slow simReplica
	}{
		{"probe fits in the step", rowGPU, simReplica{fixed: 5e-4, perRow: 0.03, noise: 0.05, reduce: 1e-4, changeAt: 100, then: fast}},
		{"probe lengthens the step", rowGPU, simReplica{fixed: 5e-4, perRow: 0.08, noise: 0.05, reduce: 1e-4, changeAt: 100, then: fast}},
	}
	for _, c := range cases {
		for seed := uint64(1); seed <= 3; seed++ {
			steps := simulate(t, gpuAndCPUs(c.gpu, c.slow, 2), 256, 200, seed)
			if r := steps[99].rows; r[1] != 0 && !steps[99].probe[1] {
				t.Fatalf("%s, seed %d: the slow workers had rows before they became fast (split %v)", c.name, seed, r)
			}
			back := -1
			for s := 100; s < len(steps); s++ {
				st := steps[s]
				if st.rows[1] > 1 && st.rows[2] > 1 {
					back = s + 1
					break
				}
			}
			if back < 0 || back > 150 {
				for s := 95; s < len(steps); s++ {
					t.Logf("step %d: %v %v", s+1, steps[s].rows, steps[s].probe)
				}
				t.Fatalf("%s, seed %d: workers fast from step 100 were back at step %d, want by 150", c.name, seed, back)
			}
			t.Logf("%s, seed %d: back at step %d, split %v", c.name, seed, back, steps[back-1].rows)
		}
	}
}

// TestHybridScheduleCarriesModel: the schedule each step reports (and
// metrics.jsonl with it) has the plan and each replica's fitted model once
// the probe is over, and Split does not advance the schedule.
func TestHybridScheduleCarriesModel(t *testing.T) {
	h, err := NewHybrid([]device.Replica{exactReplica{"a"}, exactReplica{"b"}}, HybridOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	params := make([]float32, 4)
	b := hybridBatch(9, 64, 10, 30)
	var s HybridSchedule
	for step := 1; step <= 4; step++ {
		if _, s, err = h.Step(params, b, make([]float32, 4)); err != nil {
			t.Fatal(err)
		}
		if step <= 2 && s.Planned != 0 {
			t.Fatalf("step %d (warm-up or probe) planned %v, want 0", step, s.Planned)
		}
	}
	if s.Planned <= 0 {
		t.Fatalf("step 4 planned %v, want the modelled step", s.Planned)
	}
	for _, sh := range s.Shares {
		if sh.Rows > 0 && (sh.Model.Samples < 1 || sh.Model.Fixed+sh.Model.PerRow <= 0) {
			t.Fatalf("share %+v has no fitted model", sh)
		}
	}
	before := h.policy.step
	h.Split(64)
	if h.policy.step != before {
		t.Fatal("Split advanced the schedule")
	}
}
