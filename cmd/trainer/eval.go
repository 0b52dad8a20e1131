package main

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"trainer/data"
	"trainer/internal/predict"
	"trainer/train"
)

func evalCommand() *cli.Command {
	return &cli.Command{
		Name:  "eval",
		Usage: "evaluate a trained model on a labelled file",
		Description: "Prints accuracy, mean BCE loss, precision, recall, F1, balanced accuracy and the confusion\n" +
			"matrix; --json prints them as one JSON object. The file is read with the model's preprocessing.",
		Flags: []cli.Flag{modelFileFlag(), testFlag(), jsonFlag(), workersFlag(), batchSizeFlag(256), labelMapFlag(), skipBadFlag(),
			precisionFlag(predict.FP32)},
		Action: func(c *cli.Context) error {
			if err := requireNoArgs(c); err != nil {
				return err
			}
			switch {
			case c.String(flagModel) == "":
				return usagef("eval: --model FILE is required")
			case c.String(flagTest) == "":
				return usagef("eval: --test FILE is required")
			}
			workers, err := parseWorkers(c)
			if err != nil {
				return err
			}
			batch, err := parseBatchSize(c)
			if err != nil {
				return err
			}
			ro := data.ReaderOptions{SkipBad: c.Bool(flagSkipBad)}
			if ro.LabelMap, err = parseLabelMap(c); err != nil {
				return err
			}
			q8, err := int8Precision("eval", c.String("precision"))
			if err != nil {
				return err
			}
			return runEval(c, ro, q8, workers, batch)
		},
	}
}

func precisionFlag(def string) cli.Flag {
	return &cli.StringFlag{Name: "precision", Value: def,
		Usage: "arithmetic of the recurrent products: fp32, or int8 (8-bit weights and activations, on CPUs with AVX-512 VNNI; fp32 elsewhere)"}
}

// int8Precision reads --precision of command cmd.
func int8Precision(cmd, v string) (bool, error) {
	switch v {
	case predict.FP32, predict.Int8:
		return v == predict.Int8, nil
	}
	return false, usagef("%s: --precision %q: want fp32 or int8", cmd, v)
}

// evalReport is eval's JSON output: the metrics plus what was measured.
type evalReport struct {
	train.Metrics
	Model       string  `json:"model"`
	Test        string  `json:"test"`
	Seconds     float64 `json:"seconds"`
	ReviewsPerS float64 `json:"reviews_per_s"`
	Dropped     int64   `json:"dropped"` // reviews left empty by cleaning or skipped
	// Arithmetic is fp32 or int8, the arithmetic that scored; "precision"
	// is the classification metric of the embedded Metrics.
	Arithmetic string `json:"arithmetic"`
}

func runEval(c *cli.Context, ro data.ReaderOptions, int8 bool, workers, batch int) error {
	start := time.Now()
	lm, err := predict.Load(c.String("model"), predict.Options{Workers: workers, Int8: int8, BatchSize: batch})
	if err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	// Without --label-map the test file's labels mean what they meant in
	// training: a model trained with '1=pos 2=neg' is scored against it.
	if !c.IsSet(flagLabelMap) {
		m, ok, err := lm.File.DataLabelMap()
		if err != nil {
			return fmt.Errorf("eval: %s: %w", c.String("model"), err)
		}
		if ok {
			ro.LabelMap = m
		}
	}
	d, rep, err := data.EncodeFile(c.Context, c.String("test"), lm.Vocab, data.Preprocess(lm.File.Preprocess), ro, workers)
	if err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	if d.Len() == 0 {
		return fmt.Errorf("eval: %s: no reviews to evaluate", c.String("test"))
	}
	batches := data.NewBatcher(d, data.BatchOptions{BatchSize: batch, MaxLen: lm.MaxLen(), Bucket: true}).Epoch(0)
	t := time.Now()
	m, err := lm.Evaluate(batches)
	if err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	r := evalReport{Metrics: m, Model: c.String("model"), Test: c.String("test"),
		Seconds: time.Since(start).Seconds(), ReviewsPerS: float64(m.N) / time.Since(t).Seconds(), Dropped: rep.DroppedTotal(),
		Arithmetic: lm.Precision()}
	if c.Bool("json") {
		return json.NewEncoder(c.App.Writer).Encode(r)
	}
	return r.writeText(c.App.Writer)
}

func (r evalReport) writeText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	m := r.Metrics
	fmt.Fprintf(tw, "reviews\t%d\n", m.N)
	fmt.Fprintf(tw, "accuracy\t%.4f\n", m.Accuracy)
	fmt.Fprintf(tw, "loss (mean BCE)\t%.4f\n", m.Loss)
	fmt.Fprintf(tw, "precision\t%.4f\n", m.Precision)
	fmt.Fprintf(tw, "recall\t%.4f\n", m.Recall)
	fmt.Fprintf(tw, "F1\t%.4f\n", m.F1)
	fmt.Fprintf(tw, "balanced accuracy\t%.4f\n", m.BalancedAccuracy)
	fmt.Fprintf(tw, "confusion\tpredicted pos\tpredicted neg\n")
	fmt.Fprintf(tw, "  actual pos\t%d\t%d\n", m.Confusion.TP, m.Confusion.FN)
	fmt.Fprintf(tw, "  actual neg\t%d\t%d\n", m.Confusion.FP, m.Confusion.TN)
	fmt.Fprintf(tw, "arithmetic\t%s\n", r.Arithmetic)
	if r.Dropped > 0 {
		fmt.Fprintf(tw, "dropped\t%d (empty after cleaning or skipped)\n", r.Dropped)
	}
	return tw.Flush()
}
