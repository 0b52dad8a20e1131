package bench

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"trainer/internal/atomicfile"
)

// WriteTable prints the reference's columns, then tokens/s and speedup;
// skipped and failed configurations keep their row with the reason.
func WriteTable(w io.Writer, rs []Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CPUs used\tranks\tapproach\taccuracy\tloss\ttraining time\tsteps\ttokens/s\tspeedup\tbubble\tnote")
	for _, r := range rs {
		switch {
		case r.Skipped != "":
			fmt.Fprintf(tw, "%d\t%d\t%s\t-\t-\t-\t-\t-\t-\t-\tskipped: %s\n", r.CPUs, r.Ranks, r.Name, r.Skipped)
		case r.Error != "":
			fmt.Fprintf(tw, "%d\t%d\t%s\t-\t-\t-\t-\t-\t-\t-\tFAILED: %s\n", r.CPUs, r.Ranks, r.Name, r.Error)
		default:
			speed, bubble := "-", "-"
			if r.Speedup > 0 {
				speed = fmt.Sprintf("%.2fx", r.Speedup)
			}
			if r.Approach == DDPMP {
				bubble = fmt.Sprintf("%.1f%%", 100*r.Bubble)
			}
			note := ""
			if len(r.SpeedupRuns) > 1 {
				var each []string
				for _, x := range r.SpeedupRuns {
					each = append(each, fmt.Sprintf("%.2fx", x))
				}
				note = fmt.Sprintf("median of %d rounds: %s", len(r.SpeedupRuns), strings.Join(each, " "))
			}
			fmt.Fprintf(tw, "%d\t%d\t%s\t%.2f%%\t%.4f\t%s\t%d\t%.0f\t%s\t%s\t%s\n", r.CPUs, r.Ranks, r.Name, 100*r.Accuracy, r.Loss,
				time.Duration(r.Seconds*float64(time.Second)).Round(100*time.Millisecond), r.Steps, r.TokensPerS, speed, bubble, note)
		}
	}
	return tw.Flush()
}

// writeFiles writes bench.csv, bench.json and the plots.
func writeFiles(o *Options, env *dataEnv, rs []Result) error {
	if err := writeCSV(filepath.Join(o.Out, "bench.csv"), rs); err != nil {
		return err
	}
	doc := map[string]any{
		"train": o.Data.Train, "test": o.Data.Test, "train_reviews": env.train.Len(), "test_reviews": env.testRows,
		"vocab": env.vocab, "model": o.Model, "batch_size": o.BatchSize, "max_len": o.MaxLen, "lr": o.LR,
		"budget_s": o.Budget.Seconds(), "steps": o.Steps, "pipeline_stages": o.Pipeline.Stages, "micro_batches": o.Pipeline.MicroBatches, "pipeline_chunks": o.Pipeline.Chunks,
		"seed": o.Seed, "results": rs,
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteBytes(filepath.Join(o.Out, "bench.json"), b, []byte("\n")); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	return writePlots(o.Out, rs)
}

func writeCSV(path string, rs []Result) error {
	err := atomicfile.Write(path, func(f io.Writer) error {
		w := csv.NewWriter(f)
		w.Write([]string{"cpus", "ranks", "approach", "name", "accuracy", "loss", "training_s", "steps", "tokens", "tokens_per_s", "speedup", "bubble", "skipped", "error"})
		ff := func(x float64) string { return strconv.FormatFloat(x, 'g', 6, 64) }
		for _, r := range rs {
			w.Write([]string{strconv.Itoa(r.CPUs), strconv.Itoa(r.Ranks), r.Approach, r.Name, ff(r.Accuracy), ff(r.Loss), ff(r.Seconds),
				strconv.FormatInt(r.Steps, 10), strconv.FormatInt(r.Tokens, 10), ff(r.TokensPerS), ff(r.Speedup), ff(r.Bubble), r.Skipped, r.Error})
		}
		w.Flush()
		return w.Error()
	})
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	return nil
}
