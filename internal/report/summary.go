package report

import (
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strings"
)

// Summary is the account of one written report that `trainer report`
// prints: what was read, scored and skipped, the negative share, the sizes
// of the tables and where the files are. Its fields are in alphabetical
// order, the order its JSON has always had.
type Summary struct {
	Alerts        int              `json:"alerts"`
	Files         []string         `json:"files"`
	Groups        int              `json:"groups"`
	NegativeShare float64          `json:"negative_share"`
	Out           string           `json:"out"`
	Periods       int              `json:"periods"`
	Precision     string           `json:"precision"` // the arithmetic that scored: fp32 or int8
	Reviews       int64            `json:"reviews"`
	Scored        int64            `json:"scored"`
	Seconds       float64          `json:"seconds"` // to a tenth
	Skipped       map[string]int64 `json:"skipped"`

	ci95    [2]float64
	seconds float64 // unrounded, for the text
}

// Summarize describes r, written into dir as files, scored in precision in
// seconds.
func Summarize(r *Report, dir string, files []string, precision string, seconds float64) Summary {
	return Summary{Alerts: len(r.Alerts), Files: files, Groups: len(r.ByGroup), NegativeShare: r.Overall.NegativeShare,
		Out: dir, Periods: len(r.ByPeriod), Precision: precision, Reviews: r.Reviews, Scored: r.Scored,
		Seconds: float64(int64(seconds*10+0.5)) / 10, Skipped: r.Skipped, ci95: r.Overall.CI95, seconds: seconds}
}

// WriteText prints s as one line for people, the skips by reason.
func (s Summary) WriteText(w io.Writer) error {
	var skipped int64
	var reasons []string
	for _, k := range slices.Sorted(maps.Keys(s.Skipped)) {
		skipped += s.Skipped[k]
		reasons = append(reasons, fmt.Sprintf("%s %d", k, s.Skipped[k]))
	}
	why := ""
	if len(reasons) > 0 {
		why = " (" + strings.Join(reasons, ", ") + ")"
	}
	_, err := fmt.Fprintf(w, "%d reviews read, %d scored, %d skipped%s; %.1f%% negative (95%%: %.1f-%.1f%%); %d periods, %d products, %d alerts; %s in %.1fs\n",
		s.Reviews, s.Scored, skipped, why, 100*s.NegativeShare, 100*s.ci95[0], 100*s.ci95[1],
		s.Periods, s.Groups, s.Alerts, filepath.Join(s.Out, FileHTML), s.seconds)
	return err
}
