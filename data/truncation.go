package data

import (
	"fmt"
	"io"
)

// Truncation is what cutting a dataset's reviews to MaxLen tokens would
// drop: prep reports it so that a --max-len for training can be chosen
// knowing how much text it loses.
type Truncation struct {
	MaxLen  int   `json:"max_len,omitempty"`
	Reviews int64 `json:"truncated_reviews,omitempty"` // reviews longer than MaxLen
	Tokens  int64 `json:"truncated_tokens,omitempty"`  // tokens past MaxLen, over all reviews
}

// Truncation counts the reviews of d longer than maxLen tokens and the
// tokens a cut to maxLen drops.
func (d *Dataset) Truncation(maxLen int) Truncation {
	t := Truncation{MaxLen: maxLen}
	for i := 0; i < d.Len(); i++ {
		if n := int(d.Offsets[i+1] - d.Offsets[i]); n > maxLen {
			t.Reviews++
			t.Tokens += int64(n - maxLen)
		}
	}
	return t
}

// WriteText prints t as one more row of r's table (Report.WriteText),
// with its shares of r's kept reviews and tokens.
func (t Truncation) WriteText(w io.Writer, r *Report) error {
	_, err := fmt.Fprintf(w, "  %-22s %d reviews (%.2f%%) longer than %d; %d tokens (%.2f%%) cut\n", "max-len",
		t.Reviews, 100*float64(t.Reviews)/float64(max(r.Kept, 1)), t.MaxLen,
		t.Tokens, 100*float64(t.Tokens)/float64(max(r.Tokens, 1)))
	return err
}

// PrepSummary is what prep reports: the reading and, when a cut length was
// asked about, what that cut would drop.
type PrepSummary struct {
	*Report
	Truncation
}

// WriteText prints the report, then the cut's effect if one was asked
// about.
func (s PrepSummary) WriteText(w io.Writer) error {
	if err := s.Report.WriteText(w); err != nil || s.MaxLen == 0 {
		return err
	}
	return s.Truncation.WriteText(w, s.Report)
}
