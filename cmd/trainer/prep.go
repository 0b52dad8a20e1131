package main

import (
	"encoding/json"
	"time"

	"github.com/urfave/cli/v2"

	"trainer/data"
)

func prepCommand() *cli.Command {
	flags := append(dataFlags(), seedFlag(),
		&cli.IntFlag{Name: "max-len", Usage: "report how many reviews training with this --max-len would truncate"},
		jsonFlag(),
		&cli.BoolFlag{Name: "quick-cache-check", Usage: "reuse a cache on its key alone (size, time, first and last MiB) without reading the whole input to prove it unchanged"},
		cpuProfileFlag(),
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

// prepJSON is the --json output: the report plus, with --max-len, what
// that cut would drop.
type prepJSON struct {
	*data.Report
	data.Truncation
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
	stop, err := profileCPU(c)
	if err != nil {
		return err
	}
	defer stop()
	progress, done := log.Stages()
	o.Progress = progress
	start := time.Now()
	p, err := data.Prepare(c.Context, o)
	done(err == nil)
	if err != nil {
		return err
	}
	defer p.Close()
	out := prepJSON{Report: &p.Report}
	out.Report.Seconds = time.Since(start).Seconds()
	if maxLen > 0 {
		out.Truncation = p.Train.Truncation(maxLen)
	}
	if c.Bool(flagJSON) {
		return json.NewEncoder(c.App.Writer).Encode(out)
	}
	if err := out.Report.WriteText(c.App.Writer); err != nil || maxLen == 0 {
		return err
	}
	return out.Truncation.WriteText(c.App.Writer, out.Report)
}
