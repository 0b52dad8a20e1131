package data

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
)

// Reasons a review is dropped after reading, used as keys of
// Report.Dropped beside the reader's skip reasons.
const (
	DropEmpty    = "empty_after_cleaning" // no tokens left after cleaning and tokenizing
	DropLabelMap = "label_map"            // the label map says drop
	DropBalance  = "balance"              // downsampled by --balance
)

// LabelCounts counts kept reviews per class.
type LabelCounts struct {
	Negative int64 `json:"negative"`
	Positive int64 `json:"positive"`
}

// Report describes one prepared input: what was read, kept and dropped and
// why, and what the encoded cache holds. It is stored in the cache, so a
// cache hit reports exactly what the build did.
type Report struct {
	Input         string           `json:"input"`
	InputBytes    int64            `json:"input_bytes"`
	InputDigest   string           `json:"input_digest,omitempty"` // "xxh3-128:" and the hex digest of the whole input file
	Format        string           `json:"format"`
	Compression   string           `json:"compression"`
	ReviewsRead   int64            `json:"reviews_read"` // records, good or bad, blank lines not included
	Kept          int64            `json:"kept"`
	Dropped       map[string]int64 `json:"dropped"` // by reason; reader skips, label map, empty, balance
	BlankLines    int64            `json:"blank_lines"`
	Tokens        int64            `json:"tokens"`
	UnkTokens     int64            `json:"unk_tokens"`
	UnkRate       float64          `json:"unk_rate"`
	Labels        LabelCounts      `json:"labels"`
	MeanTokens    float64          `json:"mean_tokens"`
	MaxTokens     int64            `json:"max_tokens"`
	VocabSize     int              `json:"vocab_size"`
	DistinctWords int64            `json:"distinct_words,omitempty"` // before the vocabulary cut (train only)
	Preprocess    Preprocess       `json:"preprocess"`
	CachePath     string           `json:"cache_path"` // "" when not kept (stdin)
	VocabPath     string           `json:"vocab_path,omitempty"`
	CacheHit      bool             `json:"cache_hit"`
	BuildSeconds  float64          `json:"build_seconds"` // time the build of the cache took
	Seconds       float64          `json:"seconds"`       // time this run took, a fraction of a second on a hit
	Test          *Report          `json:"test,omitempty"`
}

// DroppedTotal is the number of reviews dropped for any reason.
func (r *Report) DroppedTotal() int64 {
	var n int64
	for _, v := range r.Dropped {
		n += v
	}
	return n
}

// DroppedLine says in one line what was dropped and why, for example
// "2 of 10 records dropped: bad_label 1, csv_quote 1"; "" when nothing was.
// Training prints it, so that --skip-bad never drops anything unseen.
func (r *Report) DroppedLine() string {
	total := r.DroppedTotal()
	if total == 0 {
		return ""
	}
	reasons := slices.Sorted(maps.Keys(r.Dropped))
	parts := make([]string, 0, len(reasons))
	for _, k := range reasons {
		if r.Dropped[k] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, r.Dropped[k]))
		}
	}
	return fmt.Sprintf("%d of %d records dropped: %s", total, r.ReviewsRead, strings.Join(parts, ", "))
}

// addDrop counts n reviews dropped for reason, leaving zero counts out.
func (r *Report) addDrop(reason string, n int64) {
	if n == 0 {
		return
	}
	if r.Dropped == nil {
		r.Dropped = map[string]int64{}
	}
	r.Dropped[reason] += n
}

// fromReader merges a reader's statistics into r.
func (r *Report) fromReader(s ReadStats) {
	r.ReviewsRead = s.Records
	r.BlankLines = s.Blank
	r.Dropped = map[string]int64{}
	for reason, n := range s.Skipped {
		r.addDrop(reason, n)
	}
	r.addDrop(DropLabelMap, s.DroppedByLabelMap)
}

// finish computes the derived fields from a dataset's offsets and labels
// (the tokens themselves are not read).
func (r *Report) finish(offsets []int64, labels []uint8) {
	r.Kept = int64(len(labels))
	r.Tokens = offsets[len(offsets)-1]
	r.Labels = LabelCounts{}
	for _, l := range labels {
		if l == Positive {
			r.Labels.Positive++
		} else {
			r.Labels.Negative++
		}
	}
	r.MaxTokens = 0
	for i := range labels {
		r.MaxTokens = max(r.MaxTokens, offsets[i+1]-offsets[i])
	}
	r.MeanTokens, r.UnkRate = 0, 0
	if r.Kept > 0 {
		r.MeanTokens = float64(r.Tokens) / float64(r.Kept)
	}
	if r.Tokens > 0 {
		r.UnkRate = float64(r.UnkTokens) / float64(r.Tokens)
	}
}

// WriteText prints the report as an aligned table for people.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	r.writeText(&b, "train")
	if r.Test != nil {
		b.WriteByte('\n')
		r.Test.writeText(&b, "test")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func (r *Report) writeText(b *strings.Builder, role string) {
	row := func(k, format string, args ...any) {
		fmt.Fprintf(b, "  %-22s "+format+"\n", append([]any{k}, args...)...)
	}
	fmt.Fprintf(b, "%s: %s (%s, %s, %.1f MB)\n", role, r.Input, r.Format, r.Compression, float64(r.InputBytes)/1e6)
	row("reviews read", "%d", r.ReviewsRead)
	row("kept", "%d", r.Kept)
	reasons := make([]string, 0, len(r.Dropped))
	for k := range r.Dropped {
		reasons = append(reasons, k)
	}
	slices.Sort(reasons)
	row("dropped", "%d", r.DroppedTotal())
	for _, k := range reasons {
		row("  "+k, "%d", r.Dropped[k])
	}
	if r.BlankLines > 0 {
		row("blank lines", "%d", r.BlankLines)
	}
	total := max(r.Labels.Negative+r.Labels.Positive, 1)
	row("labels", "negative %d (%.1f%%), positive %d (%.1f%%)", r.Labels.Negative,
		100*float64(r.Labels.Negative)/float64(total), r.Labels.Positive, 100*float64(r.Labels.Positive)/float64(total))
	row("tokens", "%d (mean %.1f, max %d per review)", r.Tokens, r.MeanTokens, r.MaxTokens)
	row("unknown tokens", "%d (%.2f%%)", r.UnkTokens, 100*r.UnkRate)
	if r.DistinctWords > 0 {
		row("vocabulary", "%d ids of %d distinct words", r.VocabSize, r.DistinctWords)
	} else {
		row("vocabulary", "%d ids", r.VocabSize)
	}
	switch {
	case r.CachePath == "":
		row("cache", "not kept (stdin cannot be recognised on a later run)")
	case r.CacheHit:
		row("cache", "%s (reused)", r.CachePath)
	default:
		row("cache", "%s (built)", r.CachePath)
	}
	if r.VocabPath != "" {
		row("vocabulary file", "%s", r.VocabPath)
	}
	row("seconds", "%.2f (build %.2f)", r.Seconds, r.BuildSeconds)
}
