package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
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
			&cli.BoolFlag{Name: "meta", Usage: "write JSON lines with a product (asin), time (unixReviewTime, 2020-2022) and star rating (overall) per review, for trainer report"},
			&cli.IntFlag{Name: "products", Value: data.DefaultSynthProducts, Usage: "with --meta: distinct products, P0000 on, of Zipf-like popularity"},
			&cli.GenericFlag{Name: "plant", Value: &plantFlag{}, Usage: "with --meta: a planted trend 'product=P0003,from=2021-06,negative=0.8[,to=2022-01]' (repeatable)"},
			jsonFlag(),
			&cli.BoolFlag{Name: "overwrite", Usage: "replace --out if it exists (default: refuse)"},
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
	// A corpus is often the only copy of a training set's bytes; replacing
	// one takes a deliberate --overwrite.
	if _, err := os.Lstat(c.String("out")); err == nil && !c.Bool("overwrite") {
		return usagef("synth: %s exists: --overwrite replaces it", c.String("out"))
	}
	o := data.SynthOptions{N: n, Seed: c.Uint64(flagSeed), Workers: workers}
	if c.Bool("meta") {
		o.Meta = &data.SynthMeta{Products: c.Int("products"), Plants: c.Generic("plant").(*plantFlag).plants}
		for _, p := range o.Meta.Plants {
			if i, err := strconv.Atoi(strings.TrimPrefix(p.Product, "P")); err != nil || i < 0 || i >= o.Meta.Products || data.SynthProduct(i) != p.Product {
				return usagef("synth: --plant: no product %q: with --products %d they are %s to %s",
					p.Product, o.Meta.Products, data.SynthProduct(0), data.SynthProduct(max(o.Meta.Products-1, 0)))
			}
		}
	} else if c.IsSet("plant") || c.IsSet("products") {
		return usagef("synth: --plant and --products need --meta")
	}
	start := time.Now()
	st, err := data.SynthFile(c.Context, c.String("out"), o)
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

// plantFlag collects repeated --plant values; each holds commas, so it
// cannot be a string slice flag, which splits on them.
type plantFlag struct{ plants []data.Plant }

// Set parses one --plant value.
func (f *plantFlag) Set(spec string) error {
	p, err := data.ParsePlant(spec)
	if err != nil {
		return err
	}
	f.plants = append(f.plants, p)
	return nil
}

// String lists the plants given.
func (f *plantFlag) String() string {
	if f == nil {
		return ""
	}
	var s []string
	for _, p := range f.plants {
		s = append(s, fmt.Sprintf("product=%s,from=%s,negative=%g", p.Product, p.From.Format("2006-01"), p.Negative))
	}
	return strings.Join(s, " ")
}
