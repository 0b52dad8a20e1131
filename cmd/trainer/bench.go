package main

import (
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"trainer/internal/bench"
	"trainer/model"
	"trainer/train/job"
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
			return bench.Run(ctx, o, c.App.Writer, c.App.ErrWriter)
		},
	}
}

func benchFlags() []cli.Flag {
	flags := []cli.Flag{
		outFlag("bench-out", "directory for bench.csv, bench.json and the plots"),
		&cli.StringFlag{Name: "approaches", Value: strings.Join([]string{bench.DDP, bench.DDPMP, bench.Hybrid}, ","), Usage: "comma-separated: ddp, ddp-mp, amp-hybrid"},
		&cli.StringFlag{Name: "cpus", Value: "1,2", Usage: "comma-separated CPU counts (workers over all ranks)"},
		&cli.StringFlag{Name: "ranks", Value: "1", Usage: "comma-separated MPI process counts"},
		budgetFlag(60*time.Second, "training time per configuration (evaluation excluded)"),
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
	flags = append(flags, optimFlags(optimDefaults{Batch: job.DefaultBatch})...)
	return append(flags, pipelineFlags(2)...)
}

// benchOptionsFrom parses and validates the command line of a bench run.
func benchOptionsFrom(c *cli.Context) (o bench.Options, err error) {
	g, err := parseRunGroups(c)
	if err != nil {
		return o, err
	}
	d, op, pl := g.d, g.op, g.pl
	o = bench.Options{
		Data: d.Prep, Out: c.String(flagOut),
		Budget: c.Duration("budget"), Steps: c.Int("steps"), Repeat: c.Int("repeat"), Evals: c.Int("evals"), EvalMax: c.Int("eval-max"),
		Pipeline: pl, Seed: c.Uint64(flagSeed),
		BatchSize: op.BatchSize, LR: op.LR, Optim: op.Optim, Clip: op.Clip, WordDropout: op.WordDropout,
		MPI: bench.Launcher{MPIRun: strings.Fields(c.String("mpirun")), Settings: benchChildArgs(c)}, RankChild: c.String("rank-child"),
	}
	if o.Model, o.MaxLen, err = parseModel(c, d.Prep.VocabSize); err != nil {
		return o, err
	}
	for _, a := range strings.Split(c.String("approaches"), ",") {
		o.Approaches = append(o.Approaches, strings.TrimSpace(a))
	}
	if o.CPUs, err = parseCounts("cpus", c.String("cpus")); err != nil {
		return o, err
	}
	if o.Ranks, err = parseCounts("ranks", c.String("ranks")); err != nil {
		return o, err
	}
	if o.Steps == 0 { // --steps replaces the budget
		if o.Budget, err = parseBudget(c); err != nil {
			return o, err
		}
	}
	if err := o.Validate(); err != nil {
		return o, usagef("%w", err)
	}
	if o.MPI.Exe, err = os.Executable(); err != nil {
		return o, fmt.Errorf("bench: %w", err)
	}
	out, shaping := o.Out, o.MPI.Settings
	o.MPI.Args = func(cfg bench.Config, result string) []string {
		return append([]string{"bench", "--rank-child", result, "--out", out, "--approaches", cfg.Approach,
			"--cpus", fmt.Sprint(cfg.CPUs), "--ranks", fmt.Sprint(cfg.Ranks)}, shaping...)
	}
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
// must train exactly as this process would; the parent sets the others
// per configuration.
func benchChildArgs(c *cli.Context) []string {
	return setFlagArgs(c, slices.DeleteFunc(flagNames(benchFlags()), func(name string) bool {
		return slices.Contains([]string{flagOut, "approaches", "cpus", "ranks", "repeat", "mpirun", "rank-child"}, name)
	}))
}
