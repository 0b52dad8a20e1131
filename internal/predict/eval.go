package predict

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"trainer/data"
	"trainer/train"
)

// EvalOptions say how EvalFile reads and scores a labelled file.
type EvalOptions struct {
	Options                    // workers, precision and batch size of the scoring
	Reader  data.ReaderOptions // label map and skipping of malformed records
	// ModelLabels reads the file with the label map the model was trained
	// with, when it stored one, instead of Reader.LabelMap: a model
	// trained with '1=pos 2=neg' is then scored against that meaning.
	ModelLabels bool
}

// EvalReport is what EvalFile measured: the metrics, plus what was scored,
// how fast and in which arithmetic. It is `trainer eval --json`.
type EvalReport struct {
	train.Metrics
	Model       string  `json:"model"`
	Test        string  `json:"test"`
	Seconds     float64 `json:"seconds"` // loading, reading and scoring
	ReviewsPerS float64 `json:"reviews_per_s"`
	Dropped     int64   `json:"dropped"` // reviews left empty by cleaning or skipped
	// Arithmetic is fp32 or int8, the arithmetic that scored; "precision"
	// is the classification metric of the embedded Metrics.
	Arithmetic string `json:"arithmetic"`
}

// EvalFile loads the model at modelPath and evaluates it on the labelled
// reviews of test, read with the model's own preprocessing and vocabulary
// and batched by length.
func EvalFile(ctx context.Context, modelPath, test string, o EvalOptions) (*EvalReport, error) {
	start := time.Now()
	lm, err := Load(modelPath, o.Options)
	if err != nil {
		return nil, err
	}
	ro := o.Reader
	if o.ModelLabels {
		m, ok, err := lm.File.DataLabelMap()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", modelPath, err)
		}
		if ok {
			ro.LabelMap = m
		}
	}
	workers := lm.Workers()
	d, rep, err := data.EncodeFile(ctx, test, lm.Vocab, data.Preprocess(lm.File.Preprocess), ro, workers)
	if err != nil {
		return nil, err
	}
	if d.Len() == 0 {
		return nil, fmt.Errorf("%s: no reviews to evaluate", test)
	}
	batches := data.NewBatcher(d, data.BatchOptions{BatchSize: lm.BatchSize(), MaxLen: lm.MaxLen(), Bucket: true}).Epoch(0)
	t := time.Now()
	m, err := lm.Evaluate(batches)
	if err != nil {
		return nil, err
	}
	return &EvalReport{Metrics: m, Model: modelPath, Test: test,
		Seconds: time.Since(start).Seconds(), ReviewsPerS: float64(m.N) / time.Since(t).Seconds(), Dropped: rep.DroppedTotal(),
		Arithmetic: lm.Precision()}, nil
}

// WriteText prints r as an aligned table for people.
func (r *EvalReport) WriteText(w io.Writer) error {
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
