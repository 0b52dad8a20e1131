package main

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"trainer/data"
)

func synthCommand() *cli.Command {
	return &cli.Command{
		Name:  "synth",
		Usage: "write a synthetic Amazon-shaped review corpus in fastText format (for scale runs)",
		Description: "Writes N reviews \"__label__N Title: body\" with Amazon-like lengths, a Zipfian\n" +
			"vocabulary of made-up words and label-dependent polar words. The same seed gives\n" +
			"the same bytes. It is for speed and scale runs; accuracy on it means nothing.",
		Flags: []cli.Flag{
			&cli.Int64Flag{Name: "n", Usage: "number of reviews (required)"},
			seedFlag(),
			&cli.StringFlag{Name: "out", Usage: "output file, written to a temporary name and then renamed (required)"},
			workersFlag(),
			jsonFlag(),
			logFormatFlag(),
		},
		Action: runSynth,
	}
}

func runSynth(c *cli.Context) error {
	if err := requireNoArgs(c); err != nil {
		return err
	}
	log, err := newLogger(c)
	if err != nil {
		return err
	}
	n := c.Int64("n")
	if c.String("out") == "" {
		return usagef("synth: --out FILE is required")
	}
	if n < 1 {
		return usagef("synth: --n must be at least 1, got %d", n)
	}
	workers, err := parseWorkers(c)
	if err != nil {
		return err
	}
	start := time.Now()
	st, err := data.SynthFile(c.Context, c.String("out"), data.SynthOptions{
		N: n, Seed: c.Uint64(flagSeed), Workers: workers,
	})
	if err != nil {
		return err
	}
	secs := time.Since(start).Seconds()
	if c.Bool("json") {
		b, _ := json.Marshal(map[string]any{
			"out": c.String("out"), "reviews": st.Reviews, "bytes": st.Bytes,
			"negative": st.Labels[0], "positive": st.Labels[1], "words": st.Words,
			"mean_body_words": round1(st.MeanBody), "seconds": round1(secs),
		})
		fmt.Fprintln(c.App.Writer, string(b))
		return nil
	}
	log.Infof("synth: wrote %d reviews (%d negative, %d positive), %.1f MB, %.1f words/review to %s in %.1fs",
		st.Reviews, st.Labels[0], st.Labels[1], float64(st.Bytes)/1e6, float64(st.Words)/float64(st.Reviews), c.String("out"), secs)
	return nil
}
