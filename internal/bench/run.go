package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"trainer/data"
	"trainer/train"
	"trainer/train/device"
	"trainer/train/mpi"
)

// dataEnv is the data every configuration trains and evaluates on.
type dataEnv struct {
	prep     *data.Prepared
	train    *data.Dataset
	test     []data.Batch
	testRows int
	testAll  int
	vocab    int
}

func (e *dataEnv) close() { e.prep.Close() }

// loadData reads and encodes the files once; every configuration sees the
// same vocabulary, batches and test reviews.
func loadData(ctx context.Context, o *Options) (*dataEnv, error) {
	po := o.Data
	po.CacheDir = o.cacheDir()
	p, err := data.Prepare(ctx, po)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	if p.Train.Len() == 0 || p.Test == nil || p.Test.Len() == 0 {
		p.Close()
		return nil, fmt.Errorf("bench: %s or %s holds no reviews", o.Data.Train, o.Data.Test)
	}
	env := &dataEnv{prep: p, train: p.Train, testAll: p.Test.Len(), vocab: p.Vocab.Size()}
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

// skipReason says why this binary or these settings cannot run c, or "".
func skipReason(o *Options, c Config) string {
	units := train.PipelineUnits(o.Model)
	switch {
	case c.Ranks > 1 && !mpi.Built():
		return "ranks > 1 need a binary built with MPI support (make mpi)"
	case c.CPUs < c.Ranks:
		return fmt.Sprintf("%d CPUs cannot feed %d ranks (one CPU per rank at least)", c.CPUs, c.Ranks)
	case c.CPUs%c.Ranks != 0:
		return fmt.Sprintf("%d CPUs do not split evenly over %d ranks", c.CPUs, c.Ranks)
	case c.Approach == Hybrid && !device.Available("cuda"):
		return "needs a GPU: this binary has no CUDA support (make cuda)"
	case c.Approach == DDPMP && o.Pipeline.Stages > len(units):
		return fmt.Sprintf("%d pipeline stages need more than the model's %d units (%s)", o.Pipeline.Stages,
			len(units), strings.Join(units, ", "))
	case c.Approach == DDPMP && (c.CPUs/c.Ranks)%o.Pipeline.Stages != 0:
		return fmt.Sprintf("%d CPUs per rank do not hold whole pipelines of %d stages", c.CPUs/c.Ranks, o.Pipeline.Stages)
	}
	return ""
}

// runConfig runs one configuration, in this process or under mpirun.
func runConfig(ctx context.Context, o *Options, env *dataEnv, c Config) Result {
	r := Result{Config: c, Name: approachTitle(c, o.Pipeline.Stages)}
	if why := skipReason(o, c); why != "" {
		r.Skipped = why
		return r
	}
	var err error
	if c.Ranks > 1 {
		err = runUnderMPI(ctx, o, c, &r)
	} else {
		err = trainConfig(ctx, o, env, c, mpi.Single(), &r)
	}
	if err != nil {
		r.Error = err.Error()
	}
	return r
}

// runUnderMPI starts the program under mpirun as the configuration's ranks
// and reads rank 0's result.
func runUnderMPI(ctx context.Context, o *Options, c Config, r *Result) error {
	if o.MPI.Exe == "" || o.MPI.Args == nil {
		return fmt.Errorf("no program to start under %s", o.MPI.MPIRun[0])
	}
	result := filepath.Join(o.Out, fmt.Sprintf("rank-result-%s-%d-%d.json", c.Approach, c.CPUs, c.Ranks))
	os.Remove(result)
	args := append([]string{}, o.MPI.MPIRun[1:]...)
	args = append(args, "-np", fmt.Sprint(c.Ranks), o.MPI.Exe)
	args = append(args, o.MPI.Args(c, result)...)
	cmd := exec.CommandContext(ctx, o.MPI.MPIRun[0], args...)
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

// runChild is one rank of a configuration started by runUnderMPI.
func runChild(ctx context.Context, o *Options) error {
	c := Config{Approach: o.Approaches[0], CPUs: o.CPUs[0], Ranks: o.Ranks[0]}
	env, err := loadData(ctx, o)
	if err != nil {
		return err
	}
	defer env.close()
	settings := append([]string{"command=bench", "approach=" + c.Approach, fmt.Sprint("cpus=", c.CPUs)}, o.MPI.Settings...)
	dist, err := mpi.Start(true, settings, env.train.Len(), 10*time.Minute)
	if err != nil {
		return err
	}
	defer dist.Close()
	if dist.Size() != c.Ranks {
		return dist.Fail(fmt.Errorf("bench: started with %d ranks, configuration wants %d", dist.Size(), c.Ranks))
	}
	r := Result{Config: c, Name: approachTitle(c, o.Pipeline.Stages)}
	if err := trainConfig(ctx, o, env, c, dist, &r); err != nil {
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

// runSettings is how configuration c trains: the approach's devices, the
// loop of train with no files and no end of its own (the budget ends it).
func runSettings(o *Options, env *dataEnv, c Config, dist *mpi.Job) train.RunConfig {
	cfg := train.RunConfig{Model: o.Model, Seed: o.Seed, Optim: o.Optim, Clip: o.Clip,
		Devices: train.Devices{Device: device.Spec{Kind: "cpu"}, CPUWorkers: c.CPUs / c.Ranks}}
	cfg.Model.VocabSize = env.vocab
	switch c.Approach {
	case DDPMP:
		cfg.Devices.Pipeline = o.Pipeline
	case Hybrid:
		cfg.Devices.Device, cfg.Devices.Precision, cfg.Devices.Streams, cfg.Devices.Hybrid = device.Spec{Kind: "cuda"}, "fp32", 1, true
	}
	if dist.Size() > 1 {
		cfg.Ranks = dist
	}
	cfg.Loop = train.LoopConfig{Epochs: math.MaxInt32, Seed: o.Seed, Schedule: train.LRSchedule{Base: o.LR, Decay: "constant"}, NoFiles: true}
	return cfg
}

// trainConfig trains one configuration within this process (one rank of
// it under MPI) with train's loop until the budget is spent, evaluating on
// the test reviews evenly over the budget.
func trainConfig(ctx context.Context, o *Options, env *dataEnv, c Config, dist *mpi.Job, r *Result) error {
	cfg := runSettings(o, env, c, dist)
	batcher := data.NewBatcher(env.train, data.BatchOptions{BatchSize: o.BatchSize, MaxLen: o.MaxLen, Seed: o.Seed, Bucket: true, Shuffle: true,
		WordDropout: o.WordDropout})
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
		r.Curve = append(r.Curve, Point{Seconds: sec, Steps: steps, TrainLoss: trainLoss, Loss: m.Loss, Accuracy: m.Accuracy})
		r.Accuracy, r.Loss = m.Accuracy, m.Loss
		return nil
	}
	b := budget{o: o, r: r, point: point, nextEval: 1}
	cfg.Hooks = train.LoopHooks{Train: batcher, Stop: b.step}
	run, err := train.Assemble(cfg)
	if err != nil {
		return err
	}
	defer run.Close()
	b.run = run
	if err := point(0, 0, 0); err != nil {
		return err
	}
	if _, err := run.Train(ctx); err != nil {
		return err
	}
	if r.Seconds > 0 {
		r.TokensPerS = float64(r.Tokens) / r.Seconds
	}
	if b.bubbleSteps > 0 {
		r.Bubble = b.bubble / float64(b.bubbleSteps)
	}
	if run.Hybrid != nil {
		for _, sh := range run.Hybrid.Last().Shares {
			r.Shares = append(r.Shares, fmt.Sprintf("%s:%d", sh.Name, sh.Rows))
		}
	}
	return nil
}

// budget ends a benchmark run when its budget (seconds of training, or
// Options.Steps) is spent and takes the curve's points evenly over it.
type budget struct {
	o           *Options
	r           *Result
	run         *train.Run
	point       func(sec float64, steps int64, trainLoss float64) error
	nextEval    int
	lossSum     float64
	lossRows    int
	bubble      float64
	bubbleSteps int
}

// step is the loop's Stop hook.
func (b *budget) step(st train.StepStats) (bool, error) {
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
