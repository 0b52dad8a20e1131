package report

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"trainer/internal/atomicfile"
)

// Files Write puts in its directory.
const (
	FileJSON     = "report.json"
	FileHTML     = "report.html"
	FilePeriods  = "by_period.csv"
	FileGroups   = "by_group.csv"
	FileAlerts   = "alerts.csv"
	FileExamples = "alert_examples.csv"
	FileTerms    = "terms.csv"
	FileRatings  = "rating_agreement.csv"
)

// Write writes report.json, one CSV per table and report.html into dir,
// creating it, each file atomically. It returns the paths written.
func Write(dir string, r *Report) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	var paths []string
	put := func(name string, write func(io.Writer) error) error {
		p := filepath.Join(dir, name)
		if err := atomicfile.Write(p, write); err != nil {
			return fmt.Errorf("report: write %s: %w", p, err)
		}
		paths = append(paths, p)
		return nil
	}
	steps := []struct {
		name  string
		write func(io.Writer) error
	}{
		{FileJSON, func(w io.Writer) error {
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			return enc.Encode(r)
		}},
		{FilePeriods, func(w io.Writer) error { return writePeriodsCSV(w, r) }},
		{FileGroups, func(w io.Writer) error { return writeGroupsCSV(w, r) }},
		{FileAlerts, func(w io.Writer) error { return writeAlertsCSV(w, r) }},
		{FileExamples, func(w io.Writer) error { return writeExamplesCSV(w, r) }},
		{FileTerms, func(w io.Writer) error { return writeTermsCSV(w, r) }},
		{FileHTML, func(w io.Writer) error { return WriteHTML(w, r) }},
	}
	if r.RatingAgreement != nil {
		steps = append(steps, struct {
			name  string
			write func(io.Writer) error
		}{FileRatings, func(w io.Writer) error { return writeRatingsCSV(w, r.RatingAgreement) }})
	}
	for _, s := range steps {
		if err := put(s.name, s.write); err != nil {
			return paths, err
		}
	}
	return paths, nil
}

func f4(x float64) string { return strconv.FormatFloat(x, 'f', 4, 64) }
func g4(x float64) string { return strconv.FormatFloat(x, 'g', 4, 64) }
func d(x int64) string    { return strconv.FormatInt(x, 10) }

func shareCols(s Share) []string {
	return []string{d(s.Reviews), d(s.Negative), f4(s.NegativeShare), f4(s.CI95[0]), f4(s.CI95[1])}
}

var shareHeader = []string{"reviews", "negative", "negative_share", "ci95_low", "ci95_high"}

func writeCSV(w io.Writer, header []string, rows [][]string) error {
	cw := csv.NewWriter(w)
	cw.Write(header)
	cw.WriteAll(rows)
	return cw.Error()
}

func writePeriodsCSV(w io.Writer, r *Report) error {
	rows := [][]string{append([]string{"overall"}, shareCols(r.Overall)...)}
	for _, p := range r.ByPeriod {
		rows = append(rows, append([]string{p.Period}, shareCols(p.Share)...))
	}
	return writeCSV(w, append([]string{"period"}, shareHeader...), rows)
}

func writeGroupsCSV(w io.Writer, r *Report) error {
	rows := make([][]string, 0, len(r.ByGroup))
	for _, g := range r.ByGroup {
		rows = append(rows, append([]string{g.Group}, shareCols(g.Share)...))
	}
	return writeCSV(w, append([]string{"group"}, shareHeader...), rows)
}

func writeAlertsCSV(w io.Writer, r *Report) error {
	var rows [][]string
	for _, a := range r.Alerts {
		rows = append(rows, []string{a.Group, a.Period, d(a.ReviewsBefore), d(a.ReviewsAfter),
			f4(a.NegativeShareBefore), f4(a.NegativeShareAfter), f4(a.Z), g4(a.PValue), g4(a.PValueSplit),
			strconv.Itoa(a.Splits), g4(a.QValue)})
	}
	return writeCSV(w, []string{"group", "period", "reviews_before", "reviews_after", "negative_share_before",
		"negative_share_after", "z", "p_value", "p_value_split", "splits", "q_value"}, rows)
}

func writeExamplesCSV(w io.Writer, r *Report) error {
	var rows [][]string
	for _, a := range r.Alerts {
		for _, e := range a.Examples {
			rows = append(rows, []string{a.Group, e.Period, d(e.Line), f4(e.PPositive), e.Text})
		}
	}
	return writeCSV(w, []string{"group", "period", "line", "p_positive", "text"}, rows)
}

func writeTermsCSV(w io.Writer, r *Report) error {
	var rows [][]string
	add := func(scope string, t Terms) {
		for _, x := range t.Negative {
			rows = append(rows, []string{scope, "negative", x.Term, f4(x.Score), d(x.Count), d(x.CountOther)})
		}
		for _, x := range t.Positive {
			rows = append(rows, []string{scope, "positive", x.Term, f4(x.Score), d(x.Count), d(x.CountOther)})
		}
	}
	add("overall", r.Terms)
	for _, a := range r.Alerts {
		if a.Terms != nil {
			add(a.Group, *a.Terms)
		}
	}
	return writeCSV(w, []string{"scope", "class", "term", "score", "count", "count_other"}, rows)
}

func writeRatingsCSV(w io.Writer, ra *RatingAgreement) error {
	rows := [][]string{
		append([]string{"rated 1-2"}, shareCols(ra.NegativeRated)...),
		append([]string{"rated 3"}, shareCols(ra.Neutral)...),
		append([]string{"rated 4-5"}, shareCols(ra.PositiveRated)...),
	}
	for _, s := range ra.ByStars {
		rows = append(rows, append([]string{strconv.Itoa(s.Stars) + " stars"}, shareCols(s.Share)...))
	}
	return writeCSV(w, append([]string{"rating"}, shareHeader...), rows)
}
