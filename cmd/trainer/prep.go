package main

import (
	"encoding/json"
	"time"

	"github.com/urfave/cli/v2"

	"trainer/data"
)

func prepCommand() *cli.Command {
	flags := append(dataFlags(), seedFlag(),
		maxLenFlag(0, "report how many reviews training with this --max-len would truncate"),
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
		return d.Prep, err
	}
	if d.Prep.Train == "" {
		return d.Prep, usagef("%s: --train FILE is required", c.Command.Name)
	}
	// Only prep declares it; train always proves a reused cache unchanged.
	d.Prep.QuickCacheCheck = c.Bool("quick-cache-check")
	return d.Prep, nil
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
	maxLen, err := parseMaxLen(c, 0)
	if err != nil {
		return err
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
	out := data.PrepSummary{Report: &p.Report}
	out.Seconds = time.Since(start).Seconds()
	if maxLen > 0 {
		out.Truncation = p.Train.Truncation(maxLen)
	}
	if c.Bool(flagJSON) {
		return json.NewEncoder(c.App.Writer).Encode(out)
	}
	return out.WriteText(c.App.Writer)
}
