// Command trainer trains and serves sentiment models on customer reviews:
// data preparation, data-parallel training on CPU workers and GPUs, evaluation,
// prediction, a synthetic corpus generator and benchmarks.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"

	"trainer/internal/console"
	"trainer/train/mpi"
)

// Exit statuses shared by every command.
const (
	exitOK      = 0
	exitRuntime = 1 // bad data, I/O, a failed run
	exitUsage   = 2 // bad flags or arguments, or a command this build lacks
)

// usageError marks an error as the caller's misuse of the command line.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// usagef builds a usageError, which makes the process exit with status 2.
func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

func main() {
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}

// run executes the CLI and maps its outcome to an exit status; tests call it
// directly.
func run(args []string, stdout, stderr io.Writer) int {
	app := newApp(stdout, stderr)
	err := app.Run(expandBareAMP(args))
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "trainer: %v\n", err)
	var ue usageError
	var se mpi.SetupError
	if errors.As(err, &ue) || errors.As(err, &se) {
		return exitUsage
	}
	return exitRuntime
}

func newApp(stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:      "trainer",
		Usage:     "train and serve sentiment models on customer reviews",
		Writer:    stdout,
		ErrWriter: stderr,
		// Errors are printed once, by run, with the right exit status.
		ExitErrHandler: func(*cli.Context, error) {},
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return usageError{err}
		},
		Commands: []*cli.Command{
			prepCommand(),
			trainCommand(),
			tuneCommand(),
			evalCommand(),
			predictCommand(),
			serveCommand(),
			exportCommand(),
			encodeCommand(),
			reportCommand(),
			synthCommand(),
			benchCommand(),
			versionCommand(),
		},
		CommandNotFound: func(c *cli.Context, name string) {
			fmt.Fprintf(stderr, "trainer: unknown command %q (see trainer --help)\n", name)
			os.Exit(exitUsage)
		},
	}
	for _, cmd := range app.Commands {
		cmd.OnUsageError = app.OnUsageError
	}
	return app
}

// interruptible is the action of a command that takes flags only, reads
// them with parse and then runs with a logger until it is done or SIGINT or
// SIGTERM cancels its context (train and tune stop at a step and save their
// state).
func interruptible[O any](parse func(*cli.Context) (O, error), run func(context.Context, O, *console.Logger, io.Writer) error) cli.ActionFunc {
	return func(c *cli.Context) error {
		if err := requireNoArgs(c); err != nil {
			return err
		}
		o, err := parse(c)
		if err != nil {
			return err
		}
		log, err := newLogger(c)
		if err != nil {
			return err
		}
		ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
		defer stop()
		return run(ctx, o, log, c.App.Writer)
	}
}

// requireNoArgs rejects stray positional arguments, a common typo for a flag.
func requireNoArgs(c *cli.Context) error {
	if c.Args().Len() > 0 {
		return usagef("%s: unexpected argument %q", c.Command.Name, c.Args().First())
	}
	return nil
}
