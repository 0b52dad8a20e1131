package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"trainer/data"
	"trainer/model"
	"trainer/train/device"
)

// Approaches the bench knows, in the reference's words.
const (
	approachDDP    = "ddp"        // data parallel over CPU workers
	approachDDPMP  = "ddp-mp"     // data parallel over pipelines of model-parallel stages
	approachHybrid = "amp-hybrid" // mixed precision GPU with CPU workers, hybrid scheduler
)

func benchCommand() *cli.Command {
	return &cli.Command{
		Name:  "bench",
		Usage: "train a matrix of configurations for a fixed budget and compare them",
		Description: "Runs every combination of --approaches, --cpus and --ranks on the same data and model for\n" +
			"--budget of training time (or --steps steps), evaluating on --test as it goes. Prints the\n" +
			"reference's table (CPUs used, approach, accuracy, loss, training time) with real tokens/s and the\n" +
			"speedup over the 1-CPU ddp row, and writes bench.csv, bench.json and PNG plots (loss and accuracy\n" +
			"against time, scaling) into --out. Configurations this binary cannot run are listed as skipped\n" +
			"with the reason. Ranks above 1 run under mpirun and need a binary built with `make mpi`.",
		Flags: benchFlags(),
		Action: func(c *cli.Context) error {
			if err := requireNoArgs(c); err != nil {
				return err
			}
			o, err := benchOptionsFrom(c)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
			defer stop()
			if o.RankChild != "" {
				return runBenchChild(ctx, o)
			}
			return runBench(ctx, o, c.App.Writer, c.App.ErrWriter)
		},
	}
}

func benchFlags() []cli.Flag {
	flags := []cli.Flag{
		&cli.StringFlag{Name: "out", Value: "bench-out", Usage: "directory for bench.csv, bench.json and the plots"},
		&cli.StringFlag{Name: "approaches", Value: strings.Join([]string{approachDDP, approachDDPMP, approachHybrid}, ","), Usage: "comma-separated: ddp, ddp-mp, amp-hybrid"},
		&cli.StringFlag{Name: "cpus", Value: "1,2", Usage: "comma-separated CPU counts (workers over all ranks)"},
		&cli.StringFlag{Name: "ranks", Value: "1", Usage: "comma-separated MPI process counts"},
		&cli.DurationFlag{Name: "budget", Value: 60 * time.Second, Usage: "training time per configuration (evaluation excluded)"},
		&cli.IntFlag{Name: "steps", Usage: "train exactly this many steps per configuration instead of --budget"},
		&cli.IntFlag{Name: "repeat", Value: 1, Usage: "run the matrix this many times, in alternating order, and report each configuration's median run"},
		&cli.IntFlag{Name: "evals", Value: 8, Usage: "evaluations on --test per configuration, for the curves"},
		&cli.IntFlag{Name: "eval-max", Value: 5000, Usage: "evaluate on at most this many test reviews"},
		seedFlag(),
		&cli.StringFlag{Name: "mpirun", Value: "mpirun --allow-run-as-root --oversubscribe", Usage: "launcher for --ranks above 1"},
		&cli.StringFlag{Name: "rank-child", Hidden: true, Usage: "internal: run one configuration as an MPI rank, rank 0 writing its result here"},
	}
	// The reference's model: E=128, H=256, the last step's state, reviews
	// cut at 256 tokens.
	def := model.Config{EmbedDim: 128, Hidden: 256, Layers: 1, Pool: model.PoolLast}
	flags = append(flags, dataFlags()...)
	flags = append(flags, modelFlags(def, 256)...)
	flags = append(flags, optimFlags(optimDefaults{Batch: defaultBatch})...)
	return append(flags, pipelineFlags(2)...)
}

// benchOptions is the validated command line of a bench run.
type benchOptions struct {
	Train, Test    string
	Out            string
	Approaches     []string
	CPUs, Ranks    []int
	Budget         time.Duration
	Steps          int
	Repeat         int
	Evals, EvalMax int
	Stages, Micro  int
	Chunks         int
	Seed           uint64
	Model          model.Config
	MaxLen         int
	BatchSize      int
	LR             float64
	Optim          device.OptimConfig
	Clip           float64
	WordDropout    float64
	Data           data.PrepOptions // how the inputs are read and encoded
	VocabSize      int
	MinCount       int
	MPIRun         []string
	RankChild      string
	args           []string // the flags as given, for the MPI children
}

func benchOptionsFrom(c *cli.Context) (*benchOptions, error) {
	g, err := parseRunGroups(c)
	if err != nil {
		return nil, err
	}
	d, op, pl := g.d, g.op, g.pl
	o := &benchOptions{
		Data: d.PrepOptions, Train: d.Train, Test: d.Test, Out: c.String("out"),
		Budget: c.Duration("budget"), Steps: c.Int("steps"), Repeat: c.Int("repeat"), Evals: c.Int("evals"), EvalMax: c.Int("eval-max"),
		Stages: pl.Stages, Micro: pl.MicroBatches, Chunks: pl.Chunks, Seed: c.Uint64(flagSeed),
		BatchSize: op.BatchSize, LR: op.LR, Optim: op.Optim, Clip: op.Clip, WordDropout: op.WordDropout,
		VocabSize: d.VocabSize, MinCount: d.MinCount,
		MPIRun: strings.Fields(c.String("mpirun")), RankChild: c.String("rank-child"),
	}
	if o.Model, o.MaxLen, err = parseModel(c, o.VocabSize); err != nil {
		return nil, err
	}
	for _, a := range strings.Split(c.String("approaches"), ",") {
		a = strings.TrimSpace(a)
		switch a {
		case approachDDP, approachDDPMP, approachHybrid:
			o.Approaches = append(o.Approaches, a)
		default:
			return nil, usagef("bench: --approaches: unknown approach %q (want ddp, ddp-mp or amp-hybrid)", a)
		}
	}
	if o.CPUs, err = parseCounts("cpus", c.String("cpus")); err != nil {
		return nil, err
	}
	if o.Ranks, err = parseCounts("ranks", c.String("ranks")); err != nil {
		return nil, err
	}
	switch {
	case o.Train == "" || o.Test == "":
		return nil, usagef("bench: --train FILE and --test FILE are required")
	case o.Steps < 0:
		return nil, usagef("bench: --steps must be >= 0, got %d", o.Steps)
	case o.Steps == 0 && o.Budget <= 0:
		return nil, usagef("bench: --budget must be positive, got %v", o.Budget)
	case o.Repeat < 1:
		return nil, usagef("bench: --repeat must be at least 1, got %d", o.Repeat)
	case o.Evals < 1 || o.EvalMax < 1:
		return nil, usagef("bench: --evals and --eval-max must be at least 1")
	case len(o.MPIRun) == 0:
		return nil, usagef("bench: --mpirun is empty")
	}
	o.args = benchChildArgs(c)
	return o, nil
}

// parseCounts reads a comma-separated list of positive integers.
func parseCounts(flag, s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, usagef("bench: --%s: %q is not a positive integer", flag, f)
		}
		out = append(out, n)
	}
	return out, nil
}

// benchChildArgs repeats the flags that shape a run, for an MPI child that
// must train exactly as this process would.
func benchChildArgs(c *cli.Context) []string {
	var args []string
	for _, f := range benchFlags() {
		name := f.Names()[0]
		switch name {
		case "out", "approaches", "cpus", "ranks", "repeat", "mpirun", "rank-child":
			continue // the parent sets these per configuration
		}
		if c.IsSet(name) {
			v := c.Value(name)
			if d, ok := v.(time.Duration); ok {
				v = d.String()
			}
			args = append(args, fmt.Sprintf("--%s=%v", name, v))
		}
	}
	return args
}

// cacheDir keeps the encoded data of a bench run beside its results, so
// that MPI children read what the parent encoded instead of racing to
// write it.
func (o *benchOptions) cacheDir() string { return filepath.Join(o.Out, "cache") }

// runBench runs the matrix and writes the reports.
func runBench(ctx context.Context, o *benchOptions, stdout, stderr interface{ Write([]byte) (int, error) }) error {
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	env, err := loadBenchData(ctx, o, o.cacheDir())
	if err != nil {
		return err
	}
	defer env.close()
	fmt.Fprintf(stderr, "bench: %d train reviews, %d test reviews (evaluating on %d), vocabulary %d, %s per configuration\n",
		env.train.Len(), env.testAll, env.testRows, env.vocab, o.budgetText())
	matrix := o.matrix()
	runs := make([][]benchResult, len(matrix)) // per configuration, one per round
	for round := 0; round < o.Repeat; round++ {
		// Odd rounds run the matrix backwards, so that a machine whose
		// speed drifts does not always favour the same rows.
		order := make([]int, len(matrix))
		for k := range order {
			order[k] = k
			if round%2 == 1 {
				order[k] = len(matrix) - 1 - k
			}
		}
		for _, k := range order {
			cfg := matrix[k]
			if ctx.Err() != nil {
				return fmt.Errorf("bench: %w", context.Cause(ctx))
			}
			label := cfg.label()
			if o.Repeat > 1 {
				label = fmt.Sprintf("%s (round %d of %d)", label, round+1, o.Repeat)
			}
			fmt.Fprintf(stderr, "bench: %s ...\n", label)
			r := runBenchConfig(ctx, o, env, cfg)
			if r.Error != "" {
				fmt.Fprintf(stderr, "bench: %s failed: %s\n", label, r.Error)
			} else if r.Skipped != "" {
				fmt.Fprintf(stderr, "bench: %s skipped: %s\n", label, r.Skipped)
			} else {
				fmt.Fprintf(stderr, "bench: %s: accuracy %.4f, loss %.4f, %.0f tokens/s\n", label, r.Accuracy, r.Loss, r.TokensPerS)
			}
			runs[k] = append(runs[k], r)
		}
	}
	results := medianRuns(runs)
	if err := writeBenchTable(stdout, results); err != nil {
		return err
	}
	if err := writeBenchFiles(o, env, results); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "bench: wrote %s\n", strings.Join([]string{
		filepath.Join(o.Out, "bench.csv"), filepath.Join(o.Out, "bench.json"),
		filepath.Join(o.Out, "loss.png"), filepath.Join(o.Out, "accuracy.png"), filepath.Join(o.Out, "scaling.png")}, ", "))
	for _, r := range results {
		if r.Error != "" {
			return fmt.Errorf("bench: %d configuration(s) failed; see bench.json", countFailed(results))
		}
	}
	return nil
}

func countFailed(rs []benchResult) int {
	n := 0
	for _, r := range rs {
		if r.Error != "" {
			n++
		}
	}
	return n
}

func (o *benchOptions) budgetText() string {
	if o.Steps > 0 {
		return fmt.Sprintf("%d steps", o.Steps)
	}
	return o.Budget.String()
}

// matrix lists every configuration in a stable order: approach, then
// ranks, then CPUs.
func (o *benchOptions) matrix() []benchConfig {
	var out []benchConfig
	for _, a := range o.Approaches {
		for _, r := range o.Ranks {
			for _, c := range o.CPUs {
				out = append(out, benchConfig{Approach: a, CPUs: c, Ranks: r})
			}
		}
	}
	return out
}
