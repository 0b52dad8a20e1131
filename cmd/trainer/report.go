package main

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"trainer/data"
	"trainer/internal/console"
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
		Flags: append(scoringFlags(predict.Int8),
			&cli.StringFlag{Name: "input", Usage: "review export to report on, - for stdin (required)"},
			outFlag("", "directory for report.json, the CSVs and report.html (required)"),
			&cli.StringFlag{Name: "text-col", Usage: "text column(s), comma-separated and joined in order (default: title + body by name)"},
			&cli.StringFlag{Name: "time-col", Usage: "time column: Unix seconds or milliseconds, RFC 3339, YYYY-MM-DD, \"MM D, YYYY\""},
			&cli.StringFlag{Name: "group-col", Usage: "product (group) column"},
			&cli.StringFlag{Name: "rating-col", Usage: "star rating column (1-5)"},
			&cli.StringFlag{Name: "period", Value: report.Month, Usage: "period of the time tables: week, month or quarter"},
			&cli.Float64Flag{Name: "fdr", Value: report.DefaultFDR, Usage: "false discovery rate of the alerts over products"},
			&cli.Int64Flag{Name: "min-reviews", Value: report.DefaultMinSide, Usage: "reviews a product needs before and after a change for it to be tested"},
			jsonFlag(), cpuProfileFlag(), logFormatFlag(),
		),
		Action: runReport,
	}
}

// reportOptions are report's flags, validated.
type reportOptions struct {
	scoring    scoringOptions
	input, out string
	build      report.Options // without the model's preprocessing and progress
}

func parseReport(c *cli.Context) (o reportOptions, err error) {
	if err := requireNoArgs(c); err != nil {
		return o, err
	}
	if o.scoring, err = parseScoring(c); err != nil {
		return o, err
	}
	if o.input = c.String("input"); o.input == "" {
		return o, usagef("report: --input is required")
	}
	if o.out, err = parseOut(c, "DIR"); err != nil {
		return o, err
	}
	o.build = report.Options{Columns: report.Columns{Text: c.String("text-col"), Time: c.String("time-col"),
		Group: c.String("group-col"), Rating: c.String("rating-col")},
		Period: c.String("period"), FDR: c.Float64("fdr"), MinSide: c.Int64("min-reviews"), TempDir: o.out, Stdin: c.App.Reader}
	switch {
	case !report.ValidPeriod(o.build.Period):
		return o, usagef("report: --period %q: want week, month or quarter", o.build.Period)
	case o.build.FDR <= 0 || o.build.FDR >= 1:
		return o, usagef("report: --fdr %g: want a rate between 0 and 1", o.build.FDR)
	case o.build.MinSide < 1:
		return o, usagef("report: --min-reviews must be at least 1, got %d", o.build.MinSide)
	}
	return o, nil
}

func runReport(c *cli.Context) error {
	o, err := parseReport(c)
	if err != nil {
		return err
	}
	log, err := newLogger(c)
	if err != nil {
		return err
	}
	m, err := predict.Load(o.scoring.Model, o.scoring.Predict)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	stop, err := profileCPU(c)
	if err != nil {
		return err
	}
	defer stop()
	start := time.Now()
	var progress *console.Meter // started by the first chunk, which knows the input's size
	o.build.Preprocess = data.Preprocess(m.File.Preprocess)
	o.build.Progress = func(done, total, scored int64) {
		if progress == nil {
			progress = log.Meter("report", total, true, "reviews")
		}
		progress.Update(done, scored)
	}
	r, err := report.Build(c.Context, o.input, m, o.build)
	if err != nil {
		progress.Abort()
		return fmt.Errorf("report: %w", err)
	}
	progress.Finish()
	r.Model = o.scoring.Model
	files, err := report.Write(o.out, r)
	if err != nil {
		return err
	}
	s := report.Summarize(r, o.out, files, m.Precision(), time.Since(start).Seconds())
	if c.Bool(flagJSON) {
		return json.NewEncoder(c.App.Writer).Encode(s)
	}
	return s.WriteText(c.App.Writer)
}
