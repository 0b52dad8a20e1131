package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"trainer/internal/console"
	"trainer/internal/tune"
	"trainer/train/job"
)

func tuneCommand() *cli.Command {
	return &cli.Command{
		Name:  "tune",
		Usage: "search training settings under a time budget; the best model becomes OUT/model.bin",
		Description: "Trains the defaults for the last rung's epochs first, then brackets of successive halving: --bracket\n" +
			"random points of the space below train for the first rung's epochs, the best third go on to the next\n" +
			"rung, retrained from scratch, until the last. Trials are scored by dev accuracy (--dev, or\n" +
			"--dev-fraction of --train held out as train does). After every trial OUT/tune.json records the search,\n" +
			"OUT/leaderboard.tsv ranks the trials, stdout shows the top " + strconv.Itoa(tune.LeaderboardRows) + " and OUT/model.bin is the best model so\n" +
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
		cpuWorkersFlag("data-parallel CPU workers of every trial"))
}

func tuneFlags() []cli.Flag {
	return append(tunePassFlags(),
		budgetFlag(30*time.Minute, "wall time of all trials together, carried over by a resume (a larger one extends a search)"),
		outFlag("", "tune directory: tune.json, leaderboard.tsv, model.bin, trials/NNN"),
		&cli.IntFlag{Name: "max-trials", Usage: "stop after this many trials (0: only the budget stops)"},
		&cli.IntSliceFlag{Name: "rungs", Value: cli.NewIntSlice(tune.DefaultRungs()...), Usage: "epochs of each successive-halving rung; the defaults train for the last"},
		&cli.IntFlag{Name: "bracket", Value: tune.DefaultBracket, Usage: "random points that start each bracket"},
		&cli.BoolFlag{Name: "print-space", Usage: "print the search space and exit"},
		logFormatFlag(),
	)
}

// tuneOptionsFrom reads a search's command line into the session it
// runs; runTune adds the defaults and what trains and shows the trials.
func tuneOptionsFrom(c *cli.Context) (*tune.Session, error) {
	if c.String(flagTrain) == "" {
		return nil, usagef("tune: --train FILE is required")
	}
	dir, err := parseOut(c, "DIR")
	if err != nil {
		return nil, err
	}
	budget, err := parseBudget(c)
	if err != nil {
		return nil, err
	}
	o := &tune.Session{Config: tune.Config{Dir: dir, Budget: budget, Seed: c.Uint64(flagSeed),
		MaxTrials: c.Int("max-trials"), Rungs: c.IntSlice("rungs"), Bracket: c.Int("bracket"), Space: tune.DefaultSpace(),
		Settings: map[string]string{}}, Trainer: &tune.Trainer{Parse: parseTrainArgs}}
	switch {
	case o.MaxTrials < 0 || o.Bracket < 1:
		return nil, usagef("tune: --max-trials must be >= 0 and --bracket >= 1")
	case len(o.Rungs) == 0 || o.Rungs[0] < 1 || !slices.IsSorted(o.Rungs) || len(slices.Compact(slices.Clone(o.Rungs))) != len(o.Rungs):
		return nil, usagef("tune: --rungs %v: want increasing epochs from at least 1, e.g. 1,3,5", o.Rungs)
	}
	for _, name := range flagNames(tunePassFlags()) {
		// Every setting, given or not, so that a resume that spells
		// out a default is the same search.
		if !tune.ResumeMayChange(name) {
			o.Settings[name] = fmt.Sprint(c.Value(name))
		}
	}
	o.Trainer.Base = setFlagArgs(c, flagNames(tunePassFlags()))
	// Every trial parses the same flags; check them once, before reading
	// any data.
	if _, err := parseTrainArgs(append(slices.Clone(o.Trainer.Base), "--out", o.Dir)); err != nil {
		return nil, err
	}
	return o, nil
}

// withTrainFlags parses a `trainer train` command line (without the
// command name) and hands it to read. A stray word is refused: it ends the
// flags, and the ones after it would be silently ignored.
func withTrainFlags(args []string, read func(*cli.Context) error) error {
	cmd := &cli.Command{Name: "train", Flags: trainFlags(), Action: func(c *cli.Context) error {
		if err := requireNoArgs(c); err != nil {
			return err
		}
		return read(c)
	}}
	return newParser(cmd).Run(append([]string{"trainer", "train"}, args...))
}

// parseTrainArgs reads a train command line into validated options, so
// that a trial means what the same flags mean to train.
func parseTrainArgs(args []string) (o *job.Options, err error) {
	err = withTrainFlags(args, func(c *cli.Context) (err error) {
		o, err = trainOptionsFrom(c)
		return err
	})
	return o, err
}

// trainFlagValues are the values train gives the flags named (its
// defaults, unless args set them): the search's first point. A name that
// is not a train flag is an error.
func trainFlagValues(args, names []string) (tune.Point, error) {
	p := tune.Point{}
	return p, withTrainFlags(args, func(c *cli.Context) error {
		for _, n := range names {
			v := c.Value(n)
			if v == nil {
				return fmt.Errorf("tune: the search space names --%s, which is not a train flag", n)
			}
			p[n] = fmt.Sprint(v)
		}
		return nil
	})
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

// runTune runs the search o describes, its trials trained as train would
// train their flags, starting from train's defaults.
func runTune(ctx context.Context, o *tune.Session, log *console.Logger, stdout io.Writer) error {
	var err error
	if o.Defaults, err = trainFlagValues(append(slices.Clone(o.Trainer.Base), "--out", o.Dir), o.Space.Flags()); err != nil {
		return err
	}
	o.Out, o.Trainer.Report = stdout, job.ConsoleReporter(log)
	err = o.Run(ctx)
	if errors.Is(err, tune.ErrMismatch) || errors.Is(err, tune.ErrNotTuneDir) {
		return usageError{err}
	}
	return cliError(err)
}
