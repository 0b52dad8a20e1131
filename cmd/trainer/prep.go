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

// preprocessFlags are the text preprocessing switches shared by the
// commands that read raw reviews.
func preprocessFlags() []cli.Flag {
	d := data.DefaultPreprocess()
	return []cli.Flag{
		&cli.BoolFlag{Name: "lowercase", Value: d.Lowercase, Usage: "lowercase the text"},
		&cli.BoolFlag{Name: "remove-special", Value: d.RemoveSpecial, Usage: "turn characters other than letters, digits and in-word apostrophes into spaces"},
		&cli.BoolFlag{Name: "collapse-space", Value: d.CollapseSpace, Usage: "collapse runs of whitespace"},
		&cli.StringFlag{Name: "tokenizer", Value: d.Tokenizer, Usage: "split (whitespace) or treebank (NLTK Treebank rules: don't -> do n't)"},
	}
}

// preprocessFromFlags reads the preprocessing switches; a bad value is a
// usage error.
func preprocessFromFlags(c *cli.Context) (data.Preprocess, error) {
	p := data.Preprocess{
		Lowercase:     c.Bool("lowercase"),
		RemoveSpecial: c.Bool("remove-special"),
		CollapseSpace: c.Bool("collapse-space"),
		Tokenizer:     c.String("tokenizer"),
	}
	if err := p.Validate(); err != nil {
		return p, usagef("--tokenizer: %v", err)
	}
	return p, nil
}

func prepCommand() *cli.Command {
	flags := []cli.Flag{
		&cli.StringFlag{Name: "train", Usage: "training reviews: fastText or CSV, plain, gzip or bzip2; - for stdin"},
		&cli.StringFlag{Name: "test", Usage: "test reviews, encoded with the training vocabulary"},
		&cli.StringFlag{Name: "cache-dir", Value: data.DefaultCacheDir, Usage: "where encoded caches and vocabularies live"},
		&cli.IntFlag{Name: "workers", Usage: "worker goroutines (0 = all cores)"},
		&cli.BoolFlag{Name: "skip-bad", Usage: "skip bad records and count them, instead of stopping at the first"},
		&cli.StringFlag{Name: "label-map", Usage: "map raw labels, e.g. '1,2=neg 4,5=pos 3=drop' (default: 1=neg 2=pos)"},
		&cli.IntFlag{Name: "vocab-size", Value: data.DefaultVocabSize, Usage: "vocabulary ids including padding and unknown"},
		&cli.IntFlag{Name: "min-count", Value: data.DefaultMinCount, Usage: "least training count of a vocabulary word"},
		&cli.BoolFlag{Name: "balance", Usage: "downsample the majority label to the minority's count"},
		&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "seed of --balance's choice"},
		&cli.IntFlag{Name: "max-len", Usage: "report how many reviews training with this --max-len would truncate"},
		&cli.BoolFlag{Name: "json", Usage: "print the report as one JSON object"},
		&cli.BoolFlag{Name: "quick-cache-check", Usage: "reuse a cache on its key alone (size, time, first and last MiB) without reading the whole input to prove it unchanged"},
		&cli.StringFlag{Name: "cpuprofile", Usage: "write a CPU profile of the run to this file"},
		logFormatFlag(),
	}
	return &cli.Command{
		Name:  "prep",
		Usage: "read, clean, tokenize and encode reviews into the cache, and report on them",
		Description: "Builds the vocabulary and the encoded cache for --train (and --test), or reuses\n" +
			"them when the inputs and settings are unchanged, then prints what was read, kept\n" +
			"and dropped. Exit status 1 on bad data (the message names file and line), 2 on\n" +
			"bad flags.",
		Flags:  append(flags, preprocessFlags()...),
		Action: runPrep,
	}
}

// prepOptionsFromFlags builds PrepOptions from the flags prep shares with
// train; usage problems come back as usage errors.
func prepOptionsFromFlags(c *cli.Context) (data.PrepOptions, error) {
	o := data.PrepOptions{
		Train:     c.String("train"),
		Test:      c.String("test"),
		CacheDir:  c.String("cache-dir"),
		Workers:   c.Int("workers"),
		SkipBad:   c.Bool("skip-bad"),
		LabelMap:  c.String("label-map"),
		VocabSize: c.Int("vocab-size"),
		MinCount:  c.Int("min-count"),
		Balance:   c.Bool("balance"),
		Seed:      c.Uint64("seed"),
		// Only prep declares it; elsewhere it reads false, the safe check.
		QuickCacheCheck: c.Bool("quick-cache-check"),
	}
	switch {
	case o.Train == "":
		return o, usagef("%s: --train FILE is required", c.Command.Name)
	case o.Workers < 0:
		return o, usagef("--workers: %d; want 0 (all cores) or more", o.Workers)
	case o.VocabSize < 2:
		return o, usagef("--vocab-size: %d; want at least 2 (padding and unknown)", o.VocabSize)
	case o.MinCount < 1:
		return o, usagef("--min-count: %d; want at least 1", o.MinCount)
	case o.CacheDir == "":
		return o, usagef("--cache-dir: empty")
	}
	if o.LabelMap != "" {
		if _, err := data.ParseLabelMap(o.LabelMap); err != nil {
			return o, usagef("--label-map: %v", err)
		}
	}
	var err error
	o.Preprocess, err = preprocessFromFlags(c)
	return o, err
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
