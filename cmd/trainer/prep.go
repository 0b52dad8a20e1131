package main

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime/pprof"
	"time"

	"github.com/urfave/cli/v2"

	"trainer/data"
)

func prepCommand() *cli.Command {
	flags := append(dataFlags(), seedFlag(),
		&cli.IntFlag{Name: "max-len", Usage: "report how many reviews training with this --max-len would truncate"},
		jsonFlag(),
		&cli.BoolFlag{Name: "quick-cache-check", Usage: "reuse a cache on its key alone (size, time, first and last MiB) without reading the whole input to prove it unchanged"},
		&cli.StringFlag{Name: "cpuprofile", Usage: "write a CPU profile of the run to this file"},
		logFormatFlag(),
	)
	return &cli.Command{
		Name:  "prep",
		Usage: "read, clean, tokenize and encode reviews into the cache, and report on them",
		Description: "Builds the vocabulary and the encoded cache for --train (and --test), or reuses\n" +
			"them when the inputs and settings are unchanged, then prints what was read, kept\n" +
			"and dropped. Exit status 1 on bad data (the message names file and line), 2 on\n" +
			"bad flags.",
		Flags:  flags,
		Action: runPrep,
	}
}

// prepOptionsFromFlags reads the data group for prep, which needs --train.
func prepOptionsFromFlags(c *cli.Context) (data.PrepOptions, error) {
	d, err := parseData(c)
	if err != nil {
		return d.PrepOptions, err
	}
	if d.Train == "" {
		return d.PrepOptions, usagef("%s: --train FILE is required", c.Command.Name)
	}
	// Only prep declares it; train always proves a reused cache unchanged.
	d.QuickCacheCheck = c.Bool("quick-cache-check")
	return d.PrepOptions, nil
}

// prepProgress connects Prepare's events to the logger: one meter per
// stage, warnings as warning lines. Call the second function when Prepare
// returns, with whether it succeeded.
func prepProgress(log *logger) (func(data.ProgressEvent), func(ok bool)) {
	var m *meter
	stage := ""
	return func(e data.ProgressEvent) {
			if e.Warning != "" {
				log.Warnf("%s", e.Warning)
				return
			}
			if e.Stage != stage {
				m.Finish()
				stage = e.Stage
				m = log.Meter(e.Stage, e.Total, true, "reviews")
			}
			m.Update(e.Done, e.Reviews)
			if e.Final {
				m.Finish()
			}
		}, func(ok bool) {
			if ok {
				m.Finish()
			} else {
				m.Abort()
			}
		}
}

// prepJSON is the --json output: the report plus what this run adds.
type prepJSON struct {
	*data.Report
	MaxLen           int   `json:"max_len,omitempty"`
	TruncatedReviews int64 `json:"truncated_reviews,omitempty"`
	TruncatedTokens  int64 `json:"truncated_tokens,omitempty"`
}

func runPrep(c *cli.Context) error {
	if err := requireNoArgs(c); err != nil {
		return err
	}
	log, err := newLogger(c)
	if err != nil {
		return err
	}
	o, err := prepOptionsFromFlags(c)
	if err != nil {
		return err
	}
	maxLen := c.Int("max-len")
	if maxLen < 0 {
		return usagef("--max-len: %d; want 0 (none) or more", maxLen)
	}
	if path := c.String("cpuprofile"); path != "" {
		stop, err := startCPUProfile(path)
		if err != nil {
			return err
		}
		defer stop()
	}
	progress, done := prepProgress(log)
	o.Progress = progress
	start := time.Now()
	p, err := data.Prepare(c.Context, o)
	done(err == nil)
	if err != nil {
		return err
	}
	defer p.Close()
	rep := p.Report
	rep.Seconds = time.Since(start).Seconds()
	out := prepJSON{Report: &rep}
	if maxLen > 0 {
		out.MaxLen = maxLen
		for i := 0; i < p.Train.Len(); i++ {
			if n := int(p.Train.Offsets[i+1] - p.Train.Offsets[i]); n > maxLen {
				out.TruncatedReviews++
				out.TruncatedTokens += int64(n - maxLen)
			}
		}
	}
	if c.Bool("json") {
		b, err := json.Marshal(out)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(c.App.Writer, string(b))
		return err
	}
	if err := rep.WriteText(c.App.Writer); err != nil {
		return err
	}
	if maxLen > 0 {
		_, err = fmt.Fprintf(c.App.Writer, "  %-22s %d reviews (%.2f%%) longer than %d; %d tokens (%.2f%%) cut\n", "max-len",
			out.TruncatedReviews, 100*float64(out.TruncatedReviews)/float64(max(rep.Kept, 1)), maxLen,
			out.TruncatedTokens, 100*float64(out.TruncatedTokens)/float64(max(rep.Tokens, 1)))
	}
	return err
}

// startCPUProfile profiles the process into path until the returned
// function is called.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
