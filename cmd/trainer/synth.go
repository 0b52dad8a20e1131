package main

import (
	"encoding/json"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"trainer/data"
	"trainer/internal/console"
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
			outFlag("", "output file, written to a temporary name and then renamed (required)"),
			workersFlag(),
			&cli.BoolFlag{Name: "meta", Usage: "write JSON lines with a product (asin), time (unixReviewTime, 2020-2022) and star rating (overall) per review, for trainer report"},
			&cli.IntFlag{Name: "products", Value: data.DefaultSynthProducts, Usage: "with --meta: distinct products, P0000 on, of Zipf-like popularity"},
			&cli.GenericFlag{Name: "plant", Value: &data.Plants{}, Usage: "with --meta: a planted trend 'product=P0003,from=2021-06,negative=0.8[,to=2022-01]' (repeatable)"},
			jsonFlag(),
			overwriteFlag("replace --out if it exists (default: refuse)"),
			logFormatFlag(),
		},
		Action: runSynth,
	}
}

// parseSynth reads synth's flags into the corpus's options and its path.
func parseSynth(c *cli.Context) (o data.SynthOptions, out string, err error) {
	if out, err = parseOut(c, "FILE"); err != nil {
		return o, "", err
	}
	if o.N = c.Int64("n"); o.N < 1 {
		return o, "", usagef("synth: --n must be at least 1, got %d", o.N)
	}
	if o.Workers, err = parseWorkers(c); err != nil {
		return o, "", err
	}
	// A corpus is often the only copy of a training set's bytes; replacing
	// one takes a deliberate --overwrite.
	if _, err := os.Lstat(out); err == nil && !c.Bool("overwrite") {
		return o, "", usagef("synth: %s exists: --overwrite replaces it", out)
	}
	o.Seed = c.Uint64(flagSeed)
	if !c.Bool("meta") {
		if c.IsSet("plant") || c.IsSet("products") {
			return o, "", usagef("synth: --plant and --products need --meta")
		}
		return o, out, nil
	}
	o.Meta = &data.SynthMeta{Products: c.Int("products"), Plants: *c.Generic("plant").(*data.Plants)}
	for _, p := range o.Meta.Plants {
		if !o.Meta.HasProduct(p.Product) {
			return o, "", usagef("synth: --plant: no product %q: with --products %d they are %s to %s",
				p.Product, o.Meta.Products, data.SynthProduct(0), data.SynthProduct(max(o.Meta.Products-1, 0)))
		}
	}
	return o, out, nil
}

func runSynth(c *cli.Context) error {
	if err := requireNoArgs(c); err != nil {
		return err
	}
	log, err := newLogger(c)
	if err != nil {
		return err
	}
	o, out, err := parseSynth(c)
	if err != nil {
		return err
	}
	start := time.Now()
	st, err := data.SynthFile(c.Context, out, o)
	if err != nil {
		return err
	}
	secs := time.Since(start).Seconds()
	if c.Bool(flagJSON) {
		return json.NewEncoder(c.App.Writer).Encode(map[string]any{
			"out": out, "reviews": st.Reviews, "bytes": st.Bytes,
			"negative": st.Labels[0], "positive": st.Labels[1], "words": st.Words,
			"mean_body_words": console.Round1(st.MeanBody), "seconds": console.Round1(secs),
		})
	}
	log.Infof("synth: wrote %d reviews (%d negative, %d positive), %.1f MB, %.1f words/review to %s in %.1fs",
		st.Reviews, st.Labels[0], st.Labels[1], float64(st.Bytes)/1e6, float64(st.Words)/float64(st.Reviews), out, secs)
	return nil
}
