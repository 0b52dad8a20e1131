package job

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// runSummary is the closing table of a training run, with the reference
// system's columns (CPUs used, approach, accuracy, loss, training time) and
// the throughput that explains the time.
type runSummary struct {
	CPUs       int
	Approach   string // e.g. "DDP x2 (CPU)"
	Accuracy   float64
	Loss       float64
	Training   time.Duration // training only, evaluation excluded
	TokensPerS float64
	Epochs     int
	BestEpoch  int
	Evaluated  string // which set Accuracy and Loss come from: dev or test
	ModelPath  string
}

// newRunSummary is the closing table of a run; the best epoch may predate
// a resume, and the checkpoint carried its scores.
func newRunSummary(res Result) runSummary {
	rs := runSummary{CPUs: res.CPUs, Approach: res.Approach, Training: time.Duration(res.Seconds * float64(time.Second)),
		Epochs: res.Epochs, BestEpoch: res.BestEpoch, ModelPath: res.ModelPath, TokensPerS: res.Last.TokensPerS}
	if best := res.BestRecord; best.Test != nil {
		rs.Evaluated, rs.Accuracy, rs.Loss = "test", best.Test.Accuracy, best.Test.Loss
	} else if best.Dev != nil {
		rs.Evaluated, rs.Accuracy, rs.Loss = "dev", best.Dev.Accuracy, best.Dev.Loss
	}
	return rs
}

// write prints the summary as an aligned table.
func (s runSummary) write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "CPUs used\tapproach\taccuracy (%s)\tloss\ttraining time\ttokens/s\tepochs\tbest epoch\n", s.Evaluated)
	fmt.Fprintf(tw, "%d\t%s\t%.2f%%\t%.4f\t%s\t%.0f\t%d\t%d\n", s.CPUs, s.Approach, 100*s.Accuracy, s.Loss,
		s.Training.Round(100*time.Millisecond), s.TokensPerS, s.Epochs, s.BestEpoch)
	if err := tw.Flush(); err != nil {
		return err
	}
	if s.ModelPath != "" {
		_, err := fmt.Fprintf(w, "model: %s\n", s.ModelPath)
		return err
	}
	return nil
}

// WriteSummary prints the run's closing table: the reference system's
// columns and the throughput that explains the time, then the model file.
func (r Result) WriteSummary(w io.Writer) error { return newRunSummary(r).write(w) }
