package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"trainer/data"
	"trainer/train"
	"trainer/train/device"
	"trainer/train/mpi"
)

// benchConfig is one cell of the matrix.
type benchConfig struct {
	Approach string `json:"approach"`
	CPUs     int    `json:"cpus"`  // CPU workers over all ranks
	Ranks    int    `json:"ranks"` // MPI processes
}

func (c benchConfig) label() string {
	return fmt.Sprintf("%s cpus=%d ranks=%d", c.Approach, c.CPUs, c.Ranks)
}

// benchPoint is one evaluation during a run, for the curves.
type benchPoint struct {
	Seconds   float64 `json:"seconds"` // training time so far
	Steps     int64   `json:"steps"`
	TrainLoss float64 `json:"train_loss"` // mean over the steps since the previous point
	Loss      float64 `json:"loss"`       // on the test reviews
	Accuracy  float64 `json:"accuracy"`
}

// benchResult is one configuration's outcome; Skipped or Error explain a
// configuration that did not run.
type benchResult struct {
	benchConfig
	Name       string  `json:"name"` // the approach in the reference's words
	Skipped    string  `json:"skipped,omitempty"`
	Error      string  `json:"error,omitempty"`
	Accuracy   float64 `json:"accuracy"`
	Loss       float64 `json:"loss"`
	Seconds    float64 `json:"training_s"`
	Steps      int64   `json:"steps"`
	Tokens     int64   `json:"tokens"`
	TokensPerS float64 `json:"tokens_per_s"`
	Speedup    float64 `json:"speedup"` // tokens/s over the 1-CPU ddp single-process row
	// With --repeat: every round's tokens/s and speedup, in round order;
	// the fields above are the median round's.
	TokensPerSRuns []float64    `json:"tokens_per_s_runs,omitempty"`
	SpeedupRuns    []float64    `json:"speedup_runs,omitempty"`
	Bubble         float64      `json:"bubble,omitempty"`
	Shares         []string     `json:"hybrid_shares,omitempty"`
	Curve          []benchPoint `json:"curve"`
}

// benchEnv is the data every configuration trains and evaluates on.
type benchEnv struct {
	prep     *data.Prepared
	train    *data.Dataset
	test     []data.Batch
	testRows int
	testAll  int
	vocab    int
}

func (e *benchEnv) close() { e.prep.Close() }

// loadBenchData reads and encodes the files once; every configuration
// sees the same vocabulary, batches and test reviews.
func loadBenchData(ctx context.Context, o *benchOptions, cache string) (*benchEnv, error) {
	po := o.Data
	po.CacheDir = cache
	p, err := data.Prepare(ctx, po)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	if p.Train.Len() == 0 || p.Test == nil || p.Test.Len() == 0 {
		p.Close()
		return nil, fmt.Errorf("bench: %s or %s holds no reviews", o.Train, o.Test)
	}
	env := &benchEnv{prep: p, train: p.Train, testAll: p.Test.Len(), vocab: p.Vocab.Size()}
	test := data.NewBatcher(p.Test, data.BatchOptions{BatchSize: 256, MaxLen: o.MaxLen, Bucket: true, Seed: o.Seed, Shuffle: true}).Epoch(0)
	for _, b := range test {
		if env.testRows >= o.EvalMax {
			break
		}
		if n := o.EvalMax - env.testRows; b.Size > n {
			b = b.Rows(0, n)
		}
		env.test = append(env.test, b)
		env.testRows += b.Size
	}
	return env, nil
}

// approachTitle names a configuration in the reference's words.
func approachTitle(c benchConfig, stages int) string {
	var s string
	switch c.Approach {
	case approachDDP:
		s = "DDP (CPU)"
	case approachDDPMP:
		s = fmt.Sprintf("DDP + model parallel, %d stages (CPU)", stages)
	case approachHybrid:
		s = "AMP hybrid GPU + CPU"
	}
	if c.Ranks > 1 {
		s += fmt.Sprintf(", %d MPI ranks", c.Ranks)
	}
	return s
}

// skipReason says why this binary or these settings cannot run c, or "".
func skipReason(o *benchOptions, c benchConfig) string {
	switch {
	case c.Ranks > 1 && !mpi.Built():
		return "ranks > 1 need a binary built with MPI support (make mpi)"
	case c.CPUs < c.Ranks:
		return fmt.Sprintf("%d CPUs cannot feed %d ranks (one CPU per rank at least)", c.CPUs, c.Ranks)
	case c.CPUs%c.Ranks != 0:
		return fmt.Sprintf("%d CPUs do not split evenly over %d ranks", c.CPUs, c.Ranks)
	case c.Approach == approachHybrid && !device.Available("cuda"):
		return "needs a GPU: this binary has no CUDA support (make cuda)"
	case c.Approach == approachDDPMP && o.Stages > len(train.PipelineUnits(o.Model)):
		return fmt.Sprintf("%d pipeline stages need more than the model's %d units (%s)", o.Stages,
			len(train.PipelineUnits(o.Model)), strings.Join(train.PipelineUnits(o.Model), ", "))
	case c.Approach == approachDDPMP && (c.CPUs/c.Ranks)%o.Stages != 0:
		return fmt.Sprintf("%d CPUs per rank do not hold whole pipelines of %d stages", c.CPUs/c.Ranks, o.Stages)
	}
	return ""
}

// runBenchConfig runs one configuration, in this process or under mpirun.
func runBenchConfig(ctx context.Context, o *benchOptions, env *benchEnv, c benchConfig) benchResult {
	r := benchResult{benchConfig: c, Name: approachTitle(c, o.Stages)}
	if why := skipReason(o, c); why != "" {
		r.Skipped = why
		return r
	}
	var err error
	if c.Ranks > 1 {
		err = runUnderMPI(ctx, o, c, &r)
	} else {
		err = benchTrain(ctx, o, env, c, mpi.Single(), &r)
	}
	if err != nil {
		r.Error = err.Error()
	}
	return r
}

// runUnderMPI starts this binary under mpirun as the configuration's ranks
// and reads rank 0's result.
func runUnderMPI(ctx context.Context, o *benchOptions, c benchConfig, r *benchResult) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	result := filepath.Join(o.Out, fmt.Sprintf("rank-result-%s-%d-%d.json", c.Approach, c.CPUs, c.Ranks))
	os.Remove(result)
	args := append([]string{}, o.MPIRun[1:]...)
	args = append(args, "-np", fmt.Sprint(c.Ranks), exe, "bench", "--rank-child", result,
		"--out", o.Out, "--approaches", c.Approach, "--cpus", fmt.Sprint(c.CPUs), "--ranks", fmt.Sprint(c.Ranks))
	args = append(args, o.args...)
	cmd := exec.CommandContext(ctx, o.MPIRun[0], args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", strings.Join(cmd.Args, " "), err, lastLines(string(out), 6))
	}
	b, err := os.ReadFile(result)
	if err != nil {
		return fmt.Errorf("rank 0 wrote no result: %w: %s", err, lastLines(string(out), 6))
	}
	defer os.Remove(result)
	name := r.Name
	if err := json.Unmarshal(b, r); err != nil {
		return fmt.Errorf("rank 0 result %s: %w", result, err)
	}
	r.Name = name
	return nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// runBenchChild is one rank of a configuration started by runUnderMPI.
func runBenchChild(ctx context.Context, o *benchOptions) error {
	if len(o.Approaches) != 1 || len(o.CPUs) != 1 || len(o.Ranks) != 1 {
		return usagef("bench --rank-child: exactly one approach, cpus and ranks value")
	}
	c := benchConfig{Approach: o.Approaches[0], CPUs: o.CPUs[0], Ranks: o.Ranks[0]}
	env, err := loadBenchData(ctx, o, o.cacheDir())
	if err != nil {
		return err
	}
	defer env.close()
	settings := append([]string{"command=bench", "approach=" + c.Approach, fmt.Sprint("cpus=", c.CPUs)}, o.args...)
	dist, err := mpi.Start(true, settings, env.train.Len(), 10*time.Minute)
	if err != nil {
		return err
	}
	defer dist.Close()
	if dist.Size() != c.Ranks {
		return dist.Fail(fmt.Errorf("bench: started with %d ranks, configuration wants %d", dist.Size(), c.Ranks))
	}
	r := benchResult{benchConfig: c, Name: approachTitle(c, o.Stages)}
	if err := benchTrain(ctx, o, env, c, dist, &r); err != nil {
		return dist.Fail(err)
	}
	if !dist.Root() {
		return nil
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return os.WriteFile(o.RankChild, b, 0o644)
}

// benchTrain trains one configuration within this process (one rank of it
// under MPI) until the budget is spent, evaluating on the test reviews
// evenly over the budget. It runs the training loop with a budget stop and
// no files.
func benchTrain(ctx context.Context, o *benchOptions, env *benchEnv, c benchConfig, dist *mpi.Job, r *benchResult) error {
	cfg := train.RunConfig{Model: o.Model, Seed: o.Seed, Optim: o.Optim, Clip: o.Clip,
		Devices: train.Devices{Device: device.Spec{Kind: "cpu"}, CPUWorkers: c.CPUs / c.Ranks}}
	cfg.Model.VocabSize = env.vocab
	switch c.Approach {
	case approachDDPMP:
		cfg.Devices.Pipeline = train.PipelineOptions{Stages: o.Stages, MicroBatches: o.Micro, Chunks: o.Chunks}
	case approachHybrid:
		cfg.Devices.Device, cfg.Devices.Precision, cfg.Devices.Streams, cfg.Devices.Hybrid = device.Spec{Kind: "cuda"}, "fp32", 1, true
	}
	if dist.Size() > 1 {
		cfg.Ranks = dist
	}
	batcher := data.NewBatcher(env.train, data.BatchOptions{BatchSize: o.BatchSize, MaxLen: o.MaxLen, Seed: o.Seed, Bucket: true, Shuffle: true,
		WordDropout: o.WordDropout})
	cfg.Loop = train.LoopConfig{Epochs: math.MaxInt32, Seed: o.Seed, Schedule: train.LRSchedule{Base: o.LR, Decay: "constant"}, NoFiles: true}
	var run *train.Run
	point := func(sec float64, steps int64, trainLoss float64) error {
		if !dist.Root() {
			return nil
		}
		params, err := run.Weights()
		if err != nil {
			return err
		}
		m, err := train.Evaluate(run.Eval, params, env.test)
		if err != nil {
			return fmt.Errorf("evaluation: %w", err)
		}
		r.Curve = append(r.Curve, benchPoint{Seconds: sec, Steps: steps, TrainLoss: trainLoss, Loss: m.Loss, Accuracy: m.Accuracy})
		r.Accuracy, r.Loss = m.Accuracy, m.Loss
		return nil
	}
	budget := benchBudget{o: o, r: r, point: point, nextEval: 1}
	cfg.Hooks = train.LoopHooks{Train: batcher, Stop: budget.step}
	run, err := train.Assemble(cfg)
	if err != nil {
		return err
	}
	defer run.Close()
	budget.run = run
	if err := point(0, 0, 0); err != nil {
		return err
	}
	if _, err := run.Train(ctx); err != nil {
		return err
	}
	if r.Seconds > 0 {
		r.TokensPerS = float64(r.Tokens) / r.Seconds
	}
	if budget.bubbleSteps > 0 {
		r.Bubble = budget.bubble / float64(budget.bubbleSteps)
	}
	if run.Hybrid != nil {
		for _, sh := range run.Hybrid.Last().Shares {
			r.Shares = append(r.Shares, fmt.Sprintf("%s:%d", sh.Name, sh.Rows))
		}
	}
	return nil
}

// benchBudget ends a benchmark run when its budget (seconds of training,
// or --steps) is spent and takes the curve's points evenly over it.
type benchBudget struct {
	o           *benchOptions
	r           *benchResult
	run         *train.Run
	point       func(sec float64, steps int64, trainLoss float64) error
	nextEval    int
	lossSum     float64
	lossRows    int
	bubble      float64
	bubbleSteps int
}

// step is the loop's Stop hook.
func (b *benchBudget) step(st train.StepStats) (bool, error) {
	r := b.r
	r.Steps++
	r.Seconds += st.Seconds
	r.Tokens += int64(st.Tokens)
	b.lossSum += st.Loss
	b.lossRows += st.Rows
	if ps := b.run.Pipelines; len(ps) > 0 {
		for _, p := range ps {
			b.bubble += p.Last().Bubble / float64(len(ps))
		}
		b.bubbleSteps++
	}
	done := r.Seconds >= b.o.Budget.Seconds()
	progress := r.Seconds / b.o.Budget.Seconds()
	if b.o.Steps > 0 {
		done = r.Steps >= int64(b.o.Steps)
		progress = float64(r.Steps) / float64(b.o.Steps)
	}
	if done || progress*float64(b.o.Evals) >= float64(b.nextEval) {
		if err := b.point(r.Seconds, r.Steps, b.lossSum/float64(max(b.lossRows, 1))); err != nil {
			return false, err
		}
		b.lossSum, b.lossRows = 0, 0
		b.nextEval++
	}
	return done, nil
}

// medianRuns folds the rounds of a repeated matrix (runs[k]: configuration
// k's result in each round) into one result per configuration. Speedups
// are taken within a round, against that round's 1-CPU row; a
// configuration's result is then its run of median speedup (the lower
// median for an even count; ties by tokens/s), with every round's tokens/s
// and speedup listed beside it. A configuration that failed in any round
// is reported by its first failure.
func medianRuns(runs [][]benchResult) []benchResult {
	rounds := 0
	for _, rs := range runs {
		rounds = max(rounds, len(rs))
	}
	for round := 0; round < rounds; round++ {
		var rs []benchResult
		for _, r := range runs {
			rs = append(rs, r[round])
		}
		fillSpeedups(rs)
		for k := range runs {
			runs[k][round].Speedup = rs[k].Speedup
		}
	}
	out := make([]benchResult, len(runs))
	for k, rs := range runs {
		out[k] = rs[0]
		if i := slices.IndexFunc(rs, func(r benchResult) bool { return r.Error != "" }); i >= 0 {
			out[k] = rs[i]
			continue
		}
		if rounds < 2 || rs[0].Skipped != "" {
			continue
		}
		sorted := slices.Clone(rs)
		slices.SortStableFunc(sorted, func(a, b benchResult) int {
			if c := cmp.Compare(a.Speedup, b.Speedup); c != 0 {
				return c
			}
			return cmp.Compare(a.TokensPerS, b.TokensPerS)
		})
		out[k] = sorted[(len(sorted)-1)/2]
		for _, r := range rs {
			out[k].TokensPerSRuns = append(out[k].TokensPerSRuns, r.TokensPerS)
			out[k].SpeedupRuns = append(out[k].SpeedupRuns, r.Speedup)
		}
	}
	return out
}

// fillSpeedups sets each row's tokens/s relative to the single-process
// 1-CPU ddp row, when the matrix has one.
func fillSpeedups(rs []benchResult) {
	base := 0.0
	for _, r := range rs {
		if r.Approach == approachDDP && r.CPUs == 1 && r.Ranks == 1 && r.Skipped == "" && r.Error == "" {
			base = r.TokensPerS
		}
	}
	if base == 0 {
		return
	}
	for i := range rs {
		if rs[i].TokensPerS > 0 {
			rs[i].Speedup = rs[i].TokensPerS / base
		}
	}
}
