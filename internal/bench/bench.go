// Package bench is the training benchmark matrix: configurations
// (approach, CPUs, MPI ranks) trained on the same data and model for the
// same budget, each run under mpirun when it has several ranks, repeated
// rounds folded into medians, speedups over the 1-CPU ddp row, and the
// report (table, bench.csv, bench.json) and plots that compare them.
package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"trainer/data"
	"trainer/model"
	"trainer/train"
	"trainer/train/device"
)

// Approaches the bench knows, in the reference's words.
const (
	DDP    = "ddp"        // data parallel over CPU workers
	DDPMP  = "ddp-mp"     // data parallel over pipelines of model-parallel stages
	Hybrid = "amp-hybrid" // mixed precision GPU with CPU workers, hybrid scheduler
)

// Options is a bench run: the matrix, the budget of each configuration,
// the data and model they share, and how a configuration of several MPI
// ranks starts. Validate checks it; Run does too.
type Options struct {
	Out            string   // bench.csv, bench.json, the plots and the encoded cache
	Approaches     []string // DDP, DDPMP or Hybrid each
	CPUs, Ranks    []int    // CPU workers over all ranks; MPI processes
	Budget         time.Duration
	Steps          int // train exactly this many steps per configuration instead of Budget
	Repeat         int // rounds of the matrix; each configuration reports its median round
	Evals, EvalMax int // evaluations per configuration; test reviews evaluated at most
	Seed           uint64
	// Data is how the inputs are read and encoded; Train and Test are
	// required, and CacheDir is replaced by a folder under Out.
	Data        data.PrepOptions
	Model       model.Config // training replaces VocabSize by the vocabulary's size
	MaxLen      int
	BatchSize   int
	LR          float64
	Optim       device.OptimConfig
	Clip        float64
	WordDropout float64
	Pipeline    train.PipelineOptions // the stages of DDPMP
	MPI         Launcher
	// RankChild, when set, makes Run one rank of the single configuration
	// in the matrix, started by mpirun through MPI; rank 0 writes its
	// Result to this file.
	RankChild string
}

// Launcher starts a configuration of several ranks as
// `MPIRun... -np N Exe Args(c, result)...`.
type Launcher struct {
	MPIRun []string // the launcher and its options
	Exe    string   // the program every rank runs
	// Args are Exe's arguments that make it run c as one rank, with
	// Options.RankChild set to result.
	Args func(c Config, result string) []string
	// Settings are the flags that shape a run, one "name=value" each; every
	// rank checks that all ranks hold the same.
	Settings []string
}

// Validate reports the first setting a run cannot start with.
func (o *Options) Validate() error {
	for _, a := range o.Approaches {
		if a != DDP && a != DDPMP && a != Hybrid {
			return fmt.Errorf("bench: --approaches: unknown approach %q (want ddp, ddp-mp or amp-hybrid)", a)
		}
	}
	switch {
	case len(o.Approaches) == 0 || len(o.CPUs) == 0 || len(o.Ranks) == 0 || slices.Min(o.CPUs) < 1 || slices.Min(o.Ranks) < 1:
		return fmt.Errorf("bench: --approaches, --cpus and --ranks must each list at least one value, counts positive")
	case o.Data.Train == "" || o.Data.Test == "":
		return fmt.Errorf("bench: --train FILE and --test FILE are required")
	case o.Steps < 0:
		return fmt.Errorf("bench: --steps must be >= 0, got %d", o.Steps)
	case o.Steps == 0 && o.Budget <= 0:
		return fmt.Errorf("bench: --budget must be positive, got %v", o.Budget)
	case o.Repeat < 1:
		return fmt.Errorf("bench: --repeat must be at least 1, got %d", o.Repeat)
	case o.Evals < 1 || o.EvalMax < 1:
		return fmt.Errorf("bench: --evals and --eval-max must be at least 1")
	case len(o.MPI.MPIRun) == 0:
		return fmt.Errorf("bench: --mpirun is empty")
	case o.RankChild != "" && (len(o.Approaches) != 1 || len(o.CPUs) != 1 || len(o.Ranks) != 1):
		return fmt.Errorf("bench --rank-child: exactly one approach, cpus and ranks value")
	}
	return nil
}

// Run runs the matrix, printing progress to stderr and the table to
// stdout, and writes the files into o.Out; with o.RankChild it is one rank
// of a configuration instead. Configurations that fail are in the report,
// and make Run fail once it is written.
func Run(ctx context.Context, o Options, stdout, stderr io.Writer) error {
	if err := o.Validate(); err != nil {
		return err
	}
	if o.RankChild != "" {
		return runChild(ctx, &o)
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	env, err := loadData(ctx, &o)
	if err != nil {
		return err
	}
	defer env.close()
	fmt.Fprintf(stderr, "bench: %d train reviews, %d test reviews (evaluating on %d), vocabulary %d, %s per configuration\n",
		env.train.Len(), env.testAll, env.testRows, env.vocab, o.budgetText())
	results, err := runRounds(ctx, &o, env, stderr)
	if err != nil {
		return err
	}
	if err := WriteTable(stdout, results); err != nil {
		return err
	}
	if err := writeFiles(&o, env, results); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "bench: wrote %s\n", strings.Join([]string{
		filepath.Join(o.Out, "bench.csv"), filepath.Join(o.Out, "bench.json"),
		filepath.Join(o.Out, "loss.png"), filepath.Join(o.Out, "accuracy.png"), filepath.Join(o.Out, "scaling.png")}, ", "))
	if n := countFailed(results); n > 0 {
		return fmt.Errorf("bench: %d configuration(s) failed; see bench.json", n)
	}
	return nil
}

// runRounds runs every configuration o.Repeat times and folds the rounds
// into one result per configuration, in matrix order.
func runRounds(ctx context.Context, o *Options, env *dataEnv, stderr io.Writer) ([]Result, error) {
	matrix := o.matrix()
	runs := make([][]Result, len(matrix)) // per configuration, one per round
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
				return nil, fmt.Errorf("bench: %w", context.Cause(ctx))
			}
			label := cfg.Label()
			if o.Repeat > 1 {
				label = fmt.Sprintf("%s (round %d of %d)", label, round+1, o.Repeat)
			}
			fmt.Fprintf(stderr, "bench: %s ...\n", label)
			r := runConfig(ctx, o, env, cfg)
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
	return medianRuns(runs), nil
}

func countFailed(rs []Result) int {
	n := 0
	for _, r := range rs {
		if r.Error != "" {
			n++
		}
	}
	return n
}

func (o *Options) budgetText() string {
	if o.Steps > 0 {
		return fmt.Sprintf("%d steps", o.Steps)
	}
	return o.Budget.String()
}

// matrix lists every configuration in a stable order: approach, then
// ranks, then CPUs.
func (o *Options) matrix() []Config {
	var out []Config
	for _, a := range o.Approaches {
		for _, r := range o.Ranks {
			for _, c := range o.CPUs {
				out = append(out, Config{Approach: a, CPUs: c, Ranks: r})
			}
		}
	}
	return out
}

// cacheDir keeps the encoded data of a bench run beside its results, so
// that MPI children read what the parent encoded instead of racing to
// write it.
func (o *Options) cacheDir() string { return filepath.Join(o.Out, "cache") }
