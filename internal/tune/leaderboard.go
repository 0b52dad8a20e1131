package tune

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"trainer/internal/atomicfile"
)

// WriteLeaderboard prints the best top scored trials as a compact table
// (all of them when top is 0): rank, trial, dev accuracy, epochs, seconds
// and the flags that differ from the defaults.
func WriteLeaderboard(w io.Writer, s *State, top int) error {
	ranked := s.Ranked()
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "rank\ttrial\tdev acc\tepochs\tseconds\t\tflags")
	for i, t := range ranked {
		if top > 0 && i == top {
			break
		}
		fmt.Fprintf(tw, "%d\t%d\t%.2f%%\t%d\t%.0f\t\t%s\n", i+1, t.ID, 100*t.DevAccuracy, t.Epochs, t.Seconds, changed(t, s.Defaults))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if top > 0 && len(ranked) > top {
		_, err := fmt.Fprintf(w, "(%d more in %s)\n", len(ranked)-top, LeaderboardName)
		return err
	}
	return nil
}

// changed is a trial's flags that differ from the defaults, or
// "(defaults)".
func changed(t Trial, defaults Point) string {
	if d := t.Point.Diff(defaults); d != "" {
		return d
	}
	return "(defaults)"
}

// writeLeaderboard writes every scored trial, best first, as
// tab-separated values with a header.
func writeLeaderboard(path string, s *State) error {
	var b bytes.Buffer
	b.WriteString("rank\ttrial\tdev_accuracy\tepochs\tepochs_done\tseconds\tbracket\trung\tchanged\tflags\n")
	for i, t := range s.Ranked() {
		fmt.Fprintf(&b, "%d\t%d\t%.6f\t%d\t%d\t%.1f\t%d\t%d\t%s\t%s\n", i+1, t.ID, t.DevAccuracy, t.Epochs, t.EpochsDone,
			t.Seconds, t.Bracket, t.Rung, changed(t, s.Defaults), strings.Join(t.Point.Args(), " "))
	}
	return atomicfile.WriteBytes(path, b.Bytes())
}
