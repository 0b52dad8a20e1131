package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"trainer/data"
	"trainer/internal/predict"
	"trainer/internal/report"
)

func reportCommand() *cli.Command {
	return &cli.Command{
		Name:  "report",
		Usage: "what a review export says: sentiment overall, over time and by product, alerts, terms",
		Description: "Scores every review of --input (CSV with a header, JSON lines or fastText lines; plain, gzip,\n" +
			"bzip2 or - for stdin) with --model and writes DIR/report.json, one CSV per table and\n" +
			"DIR/report.html (self-contained). Columns are recognised by name (text: summary/title + text/\n" +
			"reviewText/body; time: Time/unixReviewTime/timestamp/date; product: parent_asin/asin/ProductId;\n" +
			"rating: Score/overall/rating) unless named with the --*-col flags. Rows without text are\n" +
			"skipped and counted; a missing or unparsable time, product or rating is counted per reason.\n" +
			"Alerts: per product, the period where its negative share changed (CUSUM change point, tested by\n" +
			"a two-proportion test adjusted for the splits tried), Benjamini-Hochberg over products at --fdr.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "model", Usage: "model file written by train (OUT/model.bin) (required)"},
			&cli.StringFlag{Name: "input", Usage: "review export to report on, - for stdin (required)"},
			&cli.StringFlag{Name: "out", Usage: "directory for report.json, the CSVs and report.html (required)"},
			&cli.StringFlag{Name: "text-col", Usage: "text column(s), comma-separated and joined in order (default: title + body by name)"},
			&cli.StringFlag{Name: "time-col", Usage: "time column: Unix seconds or milliseconds, RFC 3339, YYYY-MM-DD, \"MM D, YYYY\""},
			&cli.StringFlag{Name: "group-col", Usage: "product (group) column"},
			&cli.StringFlag{Name: "rating-col", Usage: "star rating column (1-5)"},
			&cli.StringFlag{Name: "period", Value: report.Month, Usage: "period of the time tables: week, month or quarter"},
			&cli.Float64Flag{Name: "fdr", Value: report.DefaultFDR, Usage: "false discovery rate of the alerts over products"},
			&cli.Int64Flag{Name: "min-reviews", Value: report.DefaultMinSide, Usage: "reviews a product needs before and after a change for it to be tested"},
			&cli.IntFlag{Name: "workers", Value: runtime.NumCPU(), Usage: "scoring workers"},
			&cli.IntFlag{Name: "batch-size", Value: predict.DefaultBatch, Usage: "reviews per forward batch"},
			precisionFlag(predict.Int8),
			&cli.BoolFlag{Name: "json", Usage: "print the summary as one JSON object"},
			&cli.StringFlag{Name: "cpuprofile", Usage: "write a CPU profile of the run to this file"},
			logFormatFlag(),
		},
		Action: runReport,
	}
}

func runReport(c *cli.Context) error {
	if err := requireNoArgs(c); err != nil {
		return err
	}
	for _, f := range []string{"model", "input", "out"} {
		if c.String(f) == "" {
			return usagef("report: --%s is required", f)
		}
	}
	if !report.ValidPeriod(c.String("period")) {
		return usagef("report: --period %q: want week, month or quarter", c.String("period"))
	}
	if fdr := c.Float64("fdr"); fdr <= 0 || fdr >= 1 {
		return usagef("report: --fdr %g: want a rate between 0 and 1", fdr)
	}
	if c.Int("workers") < 1 || c.Int("batch-size") < 1 || c.Int64("min-reviews") < 1 {
		return usagef("report: --workers, --batch-size and --min-reviews must be at least 1")
	}
	q8, err := int8Precision("report", c.String("precision"))
	if err != nil {
		return err
	}
	log, err := newLogger(c)
	if err != nil {
		return err
	}
	m, err := predict.Load(c.String("model"), predict.Options{Workers: c.Int("workers"), Int8: q8, BatchSize: c.Int("batch-size")})
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if path := c.String("cpuprofile"); path != "" {
		stop, err := startCPUProfile(path)
		if err != nil {
			return err
		}
		defer stop()
	}
	start := time.Now()
	var meter interface {
		Update(done, items int64)
		Finish()
		Abort()
	}
	r, err := report.Build(c.Context, c.String("input"), m, report.Options{
		Columns: report.Columns{Text: c.String("text-col"), Time: c.String("time-col"),
			Group: c.String("group-col"), Rating: c.String("rating-col")},
		Period: c.String("period"), FDR: c.Float64("fdr"), MinSide: c.Int64("min-reviews"),
		Preprocess: data.Preprocess(m.File.Preprocess), TempDir: c.String("out"), Stdin: c.App.Reader,
		Progress: func(done, total, scored int64) {
			if meter == nil {
				meter = log.Meter("report", total, true, "reviews")
			}
			meter.Update(done, scored)
		},
	})
	if err != nil {
		if meter != nil {
			meter.Abort()
		}
		return fmt.Errorf("report: %w", err)
	}
	if meter != nil {
		meter.Finish()
	}
	r.Model = c.String("model")
	paths, err := report.Write(c.String("out"), r)
	if err != nil {
		return err
	}
	secs := time.Since(start).Seconds()
	if c.Bool("json") {
		b, _ := json.Marshal(map[string]any{"out": c.String("out"), "files": paths, "reviews": r.Reviews, "scored": r.Scored,
			"skipped": r.Skipped, "negative_share": r.Overall.NegativeShare, "periods": len(r.ByPeriod),
			"groups": len(r.ByGroup), "alerts": len(r.Alerts), "precision": m.Precision(), "seconds": round1(secs)})
		fmt.Fprintln(c.App.Writer, string(b))
		return nil
	}
	var skipped int64
	var reasons []string
	for _, k := range slices.Sorted(maps.Keys(r.Skipped)) {
		skipped += r.Skipped[k]
		reasons = append(reasons, fmt.Sprintf("%s %d", k, r.Skipped[k]))
	}
	why := ""
	if len(reasons) > 0 {
		why = " (" + strings.Join(reasons, ", ") + ")"
	}
	fmt.Fprintf(c.App.Writer, "%d reviews read, %d scored, %d skipped%s; %.1f%% negative (95%%: %.1f-%.1f%%); %d periods, %d products, %d alerts; %s in %.1fs\n",
		r.Reviews, r.Scored, skipped, why, 100*r.Overall.NegativeShare, 100*r.Overall.CI95[0], 100*r.Overall.CI95[1],
		len(r.ByPeriod), len(r.ByGroup), len(r.Alerts), filepath.Join(c.String("out"), report.FileHTML), secs)
	return nil
}
