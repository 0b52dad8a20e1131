package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"trainer/internal/runlock"
	"trainer/internal/tune"
	"trainer/train"
)

// leaderboardRows is how many trials the live leaderboard shows.
const leaderboardRows = 10

func tuneCommand() *cli.Command {
	return &cli.Command{
		Name:  "tune",
		Usage: "search training settings under a time budget; the best model becomes OUT/model.bin",
		Description: "Trains the defaults for the last rung's epochs first, then brackets of successive halving: --bracket\n" +
			"random points of the space below train for the first rung's epochs, the best third go on to the next\n" +
			"rung, retrained from scratch, until the last. Trials are scored by dev accuracy (--dev, or\n" +
			"--dev-fraction of --train held out as train does). After every trial OUT/tune.json records the search,\n" +
			"OUT/leaderboard.tsv ranks the trials, stdout shows the top " + strconv.Itoa(leaderboardRows) + " and OUT/model.bin is the best model so\n" +
			"far. The same command again resumes: finished trials are kept and the budget spent carries over.\n" +
			"See docs/tune.md.\n\nThe space:\n" + indent(tune.DefaultSpace().String()),
		Flags: tuneFlags(),
		Action: func(c *cli.Context) error {
			if c.Bool("print-space") {
				if err := requireNoArgs(c); err != nil {
					return err
				}
				_, err := fmt.Fprint(c.App.Writer, tune.DefaultSpace().String())
				return err
			}
			return interruptible(tuneOptionsFrom, runTune)(c)
		},
	}
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n  ")
}

// tunePassFlags are tune's flags that every trial passes on to training
// unchanged: the data, the dev set, the seed and the workers.
func tunePassFlags() []cli.Flag {
	flags := append(devFlags(), dataFlags()...)
	return append(flags, seedFlag(),
		&cli.IntFlag{Name: "cpu-workers", Value: runtime.NumCPU(), Usage: "data-parallel CPU workers of every trial"})
}

func tuneFlags() []cli.Flag {
	return append(tunePassFlags(),
		&cli.DurationFlag{Name: "budget", Value: 30 * time.Minute, Usage: "wall time of all trials together, carried over by a resume (a larger one extends a search)"},
		&cli.StringFlag{Name: "out", Usage: "tune directory: tune.json, leaderboard.tsv, model.bin, trials/NNN"},
		&cli.IntFlag{Name: "max-trials", Usage: "stop after this many trials (0: only the budget stops)"},
		&cli.IntSliceFlag{Name: "rungs", Value: cli.NewIntSlice(tune.DefaultRungs()...), Usage: "epochs of each successive-halving rung; the defaults train for the last"},
		&cli.IntFlag{Name: "bracket", Value: tune.DefaultBracket, Usage: "random points that start each bracket"},
		&cli.BoolFlag{Name: "print-space", Usage: "print the search space and exit"},
		logFormatFlag(),
	)
}

// tuneOptions is the validated command line of a search.
type tuneOptions struct {
	Out       string
	Budget    time.Duration
	Seed      uint64
	MaxTrials int
	Rungs     []int
	Bracket   int
	Space     tune.Space
	// Base are the training flags every trial shares, and Settings those
	// of them that shape the weights, which a resume must repeat.
	Base     []string
	Settings map[string]string

	// afterTrial, when set, runs after every recorded trial; tests use it
	// to interrupt a search between trials, as a signal would.
	afterTrial func(tune.Trial)
}

// resumeMayChange reports whether a resume may change a passed flag: the
// workers and the cache change how fast trials run, not what they learn,
// and the data files are compared by digest, so a moved file still
// resumes and a changed one does not.
func resumeMayChange(name string) bool {
	switch name {
	case "cpu-workers", "workers", "cache-dir", flagTrain, flagTest, "dev":
		return true
	}
	return false
}

func tuneOptionsFrom(c *cli.Context) (*tuneOptions, error) {
	o := &tuneOptions{Out: c.String("out"), Budget: c.Duration("budget"), Seed: c.Uint64(flagSeed), MaxTrials: c.Int("max-trials"),
		Rungs: c.IntSlice("rungs"), Bracket: c.Int("bracket"), Space: tune.DefaultSpace(), Settings: map[string]string{}}
	switch {
	case c.String(flagTrain) == "":
		return nil, usagef("tune: --train FILE is required")
	case o.Out == "":
		return nil, usagef("tune: --out DIR is required")
	case o.Budget <= 0:
		return nil, usagef("tune: --budget %v: want a positive duration, e.g. 30m", o.Budget)
	case o.MaxTrials < 0 || o.Bracket < 1:
		return nil, usagef("tune: --max-trials must be >= 0 and --bracket >= 1")
	case len(o.Rungs) == 0 || o.Rungs[0] < 1 || !slices.IsSorted(o.Rungs) || len(slices.Compact(slices.Clone(o.Rungs))) != len(o.Rungs):
		return nil, usagef("tune: --rungs %v: want increasing epochs from at least 1, e.g. 1,3,5", o.Rungs)
	}
	for _, name := range flagNames(tunePassFlags()) {
		v := fmt.Sprint(c.Value(name))
		// Every setting, given or not, so that a resume that spells
		// out a default is the same search.
		if !resumeMayChange(name) {
			o.Settings[name] = v
		}
		if c.IsSet(name) {
			o.Base = append(o.Base, "--"+name+"="+v)
		}
	}
	// Every trial parses the same flags; check them once, before reading
	// any data.
	if _, err := parseTrainArgs(append(slices.Clone(o.Base), "--out", o.Out)); err != nil {
		return nil, err
	}
	return o, nil
}

// parseTrainArgs reads a `trainer train` command line (without the command
// name) into validated options, so that a trial means what the same flags
// mean to train.
func parseTrainArgs(args []string) (*trainOptions, error) {
	var o *trainOptions
	cmd := &cli.Command{Name: "train", Flags: trainFlags(), Action: func(c *cli.Context) (err error) {
		// A stray word ends the flags, and the ones after it would be
		// silently ignored.
		if err := requireNoArgs(c); err != nil {
			return err
		}
		o, err = trainOptionsFrom(c)
		return err
	}}
	if err := newParser(cmd).Run(append([]string{"trainer", "train"}, args...)); err != nil {
		return nil, err
	}
	return o, nil
}

// trainFlagValues are the values train gives the flags named (its
// defaults, unless args set them): the search's first point. A name that
// is not a train flag is an error.
func trainFlagValues(args, names []string) (tune.Point, error) {
	p := tune.Point{}
	cmd := &cli.Command{Name: "train", Flags: trainFlags(), Action: func(c *cli.Context) error {
		if err := requireNoArgs(c); err != nil {
			return err
		}
		for _, n := range names {
			v := c.Value(n)
			if v == nil {
				return fmt.Errorf("tune: the search space names --%s, which is not a train flag", n)
			}
			p[n] = fmt.Sprint(v)
		}
		return nil
	}}
	return p, newParser(cmd).Run(append([]string{"trainer", "train"}, args...))
}

// newParser is a quiet app around one command, for parsing a command line
// in-process.
func newParser(cmd *cli.Command) *cli.App {
	app := &cli.App{Name: "trainer", Writer: io.Discard, ErrWriter: io.Discard, Commands: []*cli.Command{cmd},
		ExitErrHandler: func(*cli.Context, error) {},
		OnUsageError:   func(_ *cli.Context, err error, _ bool) error { return usageError{err} }}
	cmd.OnUsageError = app.OnUsageError
	return app
}

func runTune(ctx context.Context, o *tuneOptions, log *logger, stdout io.Writer) error {
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return fmt.Errorf("tune: %w", err)
	}
	lock, err := runlock.Acquire(o.Out)
	if err != nil {
		return fmt.Errorf("tune: %w", err)
	}
	defer lock.Release()
	// Never replace a training run's model with a search's.
	_, noState := os.Stat(filepath.Join(o.Out, tune.StateName))
	if _, err := os.Stat(filepath.Join(o.Out, tune.ModelName)); err == nil && noState != nil {
		return usagef("tune: %s holds a model.bin but no %s: not a tune directory; give another --out", o.Out, tune.StateName)
	}
	flags := make([]string, len(o.Space))
	for i, d := range o.Space {
		flags[i] = d.Flag
	}
	defaults, err := trainFlagValues(append(slices.Clone(o.Base), "--out", o.Out), flags)
	if err != nil {
		return err
	}
	r := &tuneRunner{base: o.Base, log: log}
	defer r.close()
	// The data are read once, here, for every trial (and digested for the
	// resume check).
	first, err := parseTrainArgs(r.args(tune.Trial{ID: 1, Point: defaults, Epochs: 1}, o.Out))
	if err != nil {
		return err
	}
	if _, err := r.data(ctx, first); err != nil {
		return err
	}
	for _, line := range r.td.DroppedLines {
		log.Warnf("%s", line)
	}
	var inputs []tune.Input
	for _, in := range r.td.Inputs {
		inputs = append(inputs, tune.Input{Role: in.Role, Path: in.Path, Digest: in.Digest})
	}
	cfg := tune.Config{Dir: o.Out, Space: o.Space, Defaults: defaults, Rungs: o.Rungs, Bracket: o.Bracket, Seed: o.Seed,
		Budget: o.Budget, MaxTrials: o.MaxTrials, Settings: o.Settings, Inputs: inputs,
		OnStart: func(t tune.Trial, s *tune.State) {
			log.Infof("trial %d (bracket %d, rung %d): %d epochs, %s; budget used %s of %s", t.ID, t.Bracket, t.Rung, t.Epochs,
				pointLabel(t, defaults), seconds(s.Used()), o.Budget)
		},
		OnTrial: func(t tune.Trial, s *tune.State) {
			fmt.Fprintf(stdout, "\nafter trial %d (%s, %s; budget used %s of %s):\n", t.ID, t.Status, seconds(t.Seconds), seconds(s.Used()), o.Budget)
			tune.WriteLeaderboard(stdout, s, leaderboardRows)
			if o.afterTrial != nil {
				o.afterTrial(t)
			}
		},
	}
	st, err := tune.Run(ctx, cfg, r.run)
	if errors.Is(err, tune.ErrMismatch) {
		return usageError{err}
	}
	if err != nil {
		return err
	}
	best, ok := st.Best()
	if !ok {
		return fmt.Errorf("tune: no trial finished within the %v budget (the defaults train %d epochs first; give a larger --budget)", o.Budget, o.Rungs[len(o.Rungs)-1])
	}
	fmt.Fprintf(stdout, "\nbest: trial %d, dev accuracy %.2f%% after %d epochs (%s); %d trials, %s of %s\n",
		best.ID, 100*best.DevAccuracy, best.Epochs, pointLabel(best, defaults), len(st.Trials), seconds(st.Used()), o.Budget)
	fmt.Fprintf(stdout, "model: %s\nreproduce: %s\n", filepath.Join(o.Out, tune.ModelName), reproduce(o.Base, best, defaults))
	return nil
}

// pointLabel is a trial's flags that differ from the defaults.
func pointLabel(t tune.Trial, defaults tune.Point) string {
	if d := t.Point.Diff(defaults); d != "" {
		return d
	}
	return "the defaults"
}

// seconds is a duration in seconds, rounded for people.
func seconds(s float64) string {
	return time.Duration(s * float64(time.Second)).Round(time.Second).String()
}

// reproduce is the train command line that trains the best trial again.
func reproduce(base []string, best tune.Trial, defaults tune.Point) string {
	args := []string{"trainer", "train"}
	for _, a := range base {
		args = append(args, shellQuote(a))
	}
	args = append(args, "--epochs", strconv.Itoa(best.Epochs), "--out", "DIR")
	for _, k := range slices.Sorted(maps.Keys(best.Point)) {
		if d := (tune.Point{k: best.Point[k]}).Diff(tune.Point{k: defaults[k]}); d != "" {
			args = append(args, shellQuote(d))
		}
	}
	return strings.Join(args, " ")
}

// shellQuote quotes s for a POSIX shell unless it needs none.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=./:,+") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// tuneRunner trains trials in-process on data read once.
type tuneRunner struct {
	base []string
	log  *logger
	td   *train.Data
	key  train.DataConfig // how td was read
}

// args is a trial's train command line.
func (r *tuneRunner) args(t tune.Trial, dir string) []string {
	args := append(slices.Clone(r.base), "--out", dir, "--epochs", strconv.Itoa(t.Epochs))
	return append(args, t.Point.Args()...)
}

// run trains a trial. An interrupted trial's checkpoint is resumed when
// it belongs to this trial; otherwise the trial starts afresh.
func (r *tuneRunner) run(ctx context.Context, t tune.Trial, dir string) (tune.Result, error) {
	o, resume, err := r.open(t, dir)
	if err != nil {
		return tune.Result{}, err
	}
	td, err := r.data(ctx, o)
	if err != nil {
		return tune.Result{}, err
	}
	sum, err := trainOnData(ctx, o, r.log, io.Discard, td, resume)
	var ue usageError
	if resume != nil && errors.As(err, &ue) {
		// The checkpoint is not this trial's after all: start afresh.
		o.Resume = false
		sum, err = trainOnData(ctx, o, r.log, io.Discard, td, nil)
	}
	if err != nil {
		return tune.Result{}, err
	}
	// The checkpoint (weights and optimizer moments) is the largest file
	// of a trial and of no use once it is done.
	if err := os.Remove(filepath.Join(dir, train.CheckpointName)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return tune.Result{}, fmt.Errorf("trial %d: %w", t.ID, err)
	}
	return tune.Result{DevAccuracy: sum.BestAccuracy, Epochs: sum.Epochs, Model: filepath.Join(dir, "model.bin")}, nil
}

// open parses a trial's options and prepares its directory, with the
// checkpoint of an earlier attempt when there is a usable one.
func (r *tuneRunner) open(t tune.Trial, dir string) (*trainOptions, *train.Checkpoint, error) {
	if _, err := os.Stat(filepath.Join(dir, train.CheckpointName)); err == nil {
		o, err := parseTrainArgs(append(r.args(t, dir), "--resume", dir))
		if err != nil {
			return nil, nil, err
		}
		if ck, err := o.openRunDir(); err == nil {
			return o, ck, nil
		}
	}
	o, err := parseTrainArgs(append(r.args(t, dir), "--overwrite"))
	if err != nil {
		return nil, nil, err
	}
	_, err = o.openRunDir()
	return o, nil, err
}

// data are the trial's data: those already read unless a dimension of the
// space changes how they are read (the encoded cache keeps that cheap).
func (r *tuneRunner) data(ctx context.Context, o *trainOptions) (*train.Data, error) {
	key := o.dataConfig()
	if r.td != nil && reflect.DeepEqual(key, r.key) {
		return r.td, nil
	}
	r.close()
	td, err := loadTrainingData(ctx, o, r.log)
	if err != nil {
		return nil, err
	}
	r.td, r.key = td, key
	return td, nil
}

func (r *tuneRunner) close() {
	if r.td != nil {
		r.td.Close()
		r.td = nil
	}
}
