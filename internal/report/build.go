package report

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"slices"

	"trainer/data"
)

// Scorer gives P(positive) for each text, in order. *predict.Model is one;
// tests use scorers that know the truth.
type Scorer interface {
	Score(texts []string) ([]float64, error)
}

// Defaults for Options.
const (
	DefaultFDR          = 0.05
	DefaultMinSide      = 30    // reviews on each side of a change
	DefaultExamples     = 3     // reviews quoted per alert
	DefaultTerms        = 20    // terms per list
	DefaultMinTermCount = 5     // occurrences before a term can be listed
	DefaultChunk        = 16384 // reviews read and scored at a time
	maxExampleBytes     = 600   // an example review is cut to this many bytes
)

// Options configure Build. Zero values take the defaults above; Period
// defaults to month.
type Options struct {
	Columns      Columns
	Period       string  // Week, Month or Quarter
	FDR          float64 // false discovery rate over groups for alerts
	MinSide      int64   // reviews before and after, at least, for a change to be tested
	Examples     int
	Terms        int
	MinTermCount int64
	Chunk        int
	// Preprocess is the model's text preprocessing; the term lists count
	// the words the model sees.
	Preprocess data.Preprocess
	// TempDir holds a copy of standard input, which is read twice.
	TempDir string
	// Stdin is what the path "-" reads; nil means os.Stdin.
	Stdin io.Reader
	// Progress, when set, is called after each chunk with the raw bytes
	// read, the input's size (-1 when unknown) and the reviews scored.
	Progress func(done, total, scored int64)
}

func (o *Options) defaults() error {
	if o.Period == "" {
		o.Period = Month
	}
	if !ValidPeriod(o.Period) {
		return fmt.Errorf("period %q: want week, month or quarter", o.Period)
	}
	if o.FDR == 0 {
		o.FDR = DefaultFDR
	}
	if o.FDR <= 0 || o.FDR >= 1 {
		return fmt.Errorf("FDR %g: want a rate between 0 and 1", o.FDR)
	}
	if o.MinSide <= 0 {
		o.MinSide = DefaultMinSide
	}
	if o.Examples <= 0 {
		o.Examples = DefaultExamples
	}
	if o.Terms <= 0 {
		o.Terms = DefaultTerms
	}
	if o.MinTermCount <= 0 {
		o.MinTermCount = DefaultMinTermCount
	}
	if o.Chunk <= 0 {
		o.Chunk = DefaultChunk
	}
	if o.Preprocess == (data.Preprocess{}) {
		o.Preprocess = data.DefaultPreprocess()
	}
	return nil
}

// Report is what report.json holds.
type Report struct {
	Input   string  `json:"input"`
	Format  string  `json:"format"`
	Columns Columns `json:"columns"`
	Model   string  `json:"model,omitempty"`
	Period  string  `json:"period"`
	FDR     float64 `json:"fdr"`
	// Reviews is every record read; Scored those with text. Every record
	// is in Scored or in Skipped, by reason.
	Reviews int64            `json:"reviews"`
	Scored  int64            `json:"scored"`
	Skipped map[string]int64 `json:"skipped"`
	// Incomplete counts scored reviews left out of some tables: no_time and
	// bad_time out of by_period and alerts, no_group out of by_group and
	// alerts, bad_rating out of rating_agreement.
	Incomplete      map[string]int64 `json:"incomplete"`
	Overall         Share            `json:"overall"`
	ByPeriod        []PeriodShare    `json:"by_period"`
	ByGroup         []GroupShare     `json:"by_group"`
	GroupsTested    int              `json:"groups_tested"` // groups with enough reviews to test for a change
	Alerts          []Alert          `json:"alerts"`
	Terms           Terms            `json:"terms"`
	TermsPruned     int64            `json:"terms_pruned"` // rare word and bigram occurrences not counted (see termCounts)
	RatingAgreement *RatingAgreement `json:"rating_agreement,omitempty"`
}

// Build reads path ("-" for stdin), scores every review with sc and
// aggregates the report. The input is read twice when there are alerts
// (their examples and terms); standard input is first copied to a
// temporary file for that.
func Build(ctx context.Context, path string, sc Scorer, o Options) (*Report, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	name := path
	if path == "-" {
		name = "stdin"
		stdin := o.Stdin
		if stdin == nil {
			stdin = os.Stdin
		}
		tmp, err := spool(stdin, o.TempDir)
		if err != nil {
			return nil, err
		}
		defer os.Remove(tmp)
		path = tmp
	}
	in, err := openInput(path, name, o.Columns)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	r := &Report{Input: in.Name, Format: in.Format, Columns: in.Used, Period: o.Period, FDR: o.FDR,
		Skipped: map[string]int64{}, Incomplete: map[string]int64{}}
	agg := newAggregator(o.Period)
	terms := newTermCounts()
	// Terms are counted on a goroutine of their own while the next chunk
	// is read and scored: tokenizing and counting cost about as much as a
	// small model's forward pass.
	type scored struct {
		recs []Record
		prob []float64
	}
	toCount := make(chan scored, 1)
	counted := make(chan struct{})
	go func() {
		defer close(counted)
		tok := data.NewTokenizer(o.Preprocess)
		for c := range toCount {
			for i := range c.recs {
				terms.add(tok.Tokens(c.recs[i].Text), classOf(c.prob[i]))
			}
		}
	}()
	finishCounting := func() {
		if toCount != nil {
			close(toCount)
			<-counted
			toCount = nil
		}
	}
	defer finishCounting()
	// Per scored review, for the second read: P(positive), line, group and
	// period (-1 when none).
	var probs []float32
	var lines []int64
	var groups, periods []int32
	batch := make([]Record, 0, o.Chunk)
	texts := make([]string, 0, o.Chunk)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		p, err := sc.Score(texts)
		if err != nil {
			return fmt.Errorf("score %s: %w", in.Name, err)
		}
		if len(p) != len(texts) {
			return fmt.Errorf("score %s: %d scores for %d reviews", in.Name, len(p), len(texts))
		}
		for i := range batch {
			g, pi := agg.add(&batch[i], p[i])
			pf := float32(p[i])
			if p[i] < 0.5 && pf >= 0.5 {
				pf = math.Nextafter32(0.5, 0) // stays on the negative side
			}
			probs = append(probs, pf)
			lines = append(lines, batch[i].Line)
			groups = append(groups, g)
			periods = append(periods, pi)
		}
		toCount <- scored{batch, p}
		r.Scored += int64(len(batch))
		batch, texts = make([]Record, 0, o.Chunk), texts[:0]
		if o.Progress != nil {
			done, total := in.Progress()
			o.Progress(done, total, r.Scored)
		}
		return nil
	}
	for {
		rec, err := in.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		r.Reviews++
		if rec.Skip != "" {
			r.Skipped[rec.Skip]++
			continue
		}
		for _, m := range rec.Missing {
			r.Incomplete[m]++
		}
		batch = append(batch, rec)
		texts = append(texts, rec.Text)
		if len(batch) == o.Chunk {
			if err := flush(); err != nil {
				return nil, err
			}
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	finishCounting()
	if r.Scored == 0 {
		return nil, fmt.Errorf("read %s: %w: %d records, none with text", in.Name, data.ErrEmpty, r.Reviews)
	}
	r.Overall = makeShare(agg.overall.neg, agg.overall.n)
	r.ByPeriod = agg.periodTable()
	r.ByGroup = agg.groupTable()
	r.Alerts, r.GroupsTested = agg.alerts(o.FDR, o.MinSide)
	r.Terms = terms.rank(terms, o.Terms, o.MinTermCount)
	r.RatingAgreement = agg.ratingAgreement()
	if len(r.Alerts) > 0 {
		seen := scoredReviews{probs, lines, groups, periods}
		if err := alertDetails(ctx, path, name, in.Used, r, seen, terms, o); err != nil {
			return nil, err
		}
	}
	r.TermsPruned = terms.pruned
	for i := range r.Alerts {
		if r.Alerts[i].Examples == nil {
			r.Alerts[i].Examples = []Example{}
		}
	}
	if r.Alerts == nil {
		r.Alerts = []Alert{}
	}
	return r, nil
}

func classOf(pPositive float64) int {
	if pPositive < 0.5 {
		return 0
	}
	return 1
}

// scoredReviews is what the first read keeps of each scored review, in
// input order.
type scoredReviews struct {
	prob          []float32
	line          []int64
	group, period []int32
}

// alertDetails reads the input a second time for the alerted groups'
// reviews from their change on: the most negative ones as examples, and
// their terms against the whole input's. The first read noted each
// review's line, group and period, so only the wanted records are parsed
// in JSON lines and fastText input.
func alertDetails(ctx context.Context, path, name string, used Columns, r *Report, seen scoredReviews, bg *termCounts, o Options) error {
	alertOf := map[int32]int{}
	for i, a := range r.Alerts {
		alertOf[a.groupID] = i
	}
	var want []int // indices into seen, in input order
	for k, g := range seen.group {
		if i, ok := alertOf[g]; ok && seen.period[k] >= r.Alerts[i].period {
			want = append(want, k)
		}
	}
	wantLine := make(map[int64]bool, len(want))
	for _, k := range want {
		wantLine[seen.line[k]] = true
	}
	in, err := openInput(path, name, used)
	if err != nil {
		return err
	}
	defer in.Close()
	in.only = func(line int64) bool { return wantLine[line] }
	groupTerms := make([]*termCounts, len(r.Alerts))
	for i := range groupTerms {
		groupTerms[i] = newTermCounts()
	}
	tok := data.NewTokenizer(o.Preprocess)
	changed := func(detail string) error {
		return fmt.Errorf("read %s: the input changed while being read (%s)", in.Name, detail)
	}
	j := 0
	for n := 0; j < len(want); n++ {
		rec, err := in.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if n%o.Chunk == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		k := want[j]
		if rec.Line < seen.line[k] {
			continue
		}
		if rec.Line > seen.line[k] || rec.Skip != "" || !rec.TimeOK {
			return changed(fmt.Sprintf("line %d", seen.line[k]))
		}
		j++
		i, ok := alertOf[seen.group[k]]
		if !ok || r.Alerts[i].Group != rec.Group {
			return changed(fmt.Sprintf("line %d has another product", rec.Line))
		}
		// Four decimals, as predict prints it; the float32 kept would
		// otherwise show as 0.10000000149.
		p := math.Round(float64(seen.prob[k])*1e4) / 1e4
		a := &r.Alerts[i]
		groupTerms[i].add(tok.Tokens(rec.Text), classOf(float64(seen.prob[k])))
		a.Examples = keepMostNegative(a.Examples, Example{Line: rec.Line, Period: periodLabel(o.Period, seen.period[k]),
			PPositive: p, Text: cut(rec.Text, maxExampleBytes)}, o.Examples)
	}
	if j != len(want) {
		return changed(fmt.Sprintf("%d of %d reviews found again", j, len(want)))
	}
	for i := range r.Alerts {
		t := groupTerms[i].rank(bg, o.Terms, o.MinTermCount)
		r.Alerts[i].Terms = &t
		bg.pruned += groupTerms[i].pruned
	}
	return nil
}

// keepMostNegative keeps the n examples with the lowest P(positive),
// earliest line first among equals, sorted.
func keepMostNegative(ex []Example, e Example, n int) []Example {
	if len(ex) == n && e.PPositive >= ex[n-1].PPositive {
		return ex
	}
	i, _ := slices.BinarySearchFunc(ex, e, func(a, b Example) int {
		if a.PPositive < b.PPositive || a.PPositive == b.PPositive && a.Line < b.Line {
			return -1
		}
		return 1
	})
	ex = slices.Insert(ex, i, e)
	if len(ex) > n {
		ex = ex[:n]
	}
	return ex
}

// cut shortens s to at most n bytes at a rune boundary, marking the cut.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}

// spool copies standard input to a temporary file in dir (created if
// need be; "" is the system's) so that it can be read twice, and returns
// the file's path.
func spool(r io.Reader, dir string) (string, error) {
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", fmt.Errorf("copy stdin: %w", err)
		}
	}
	f, err := os.CreateTemp(dir, "report-stdin-*")
	if err != nil {
		return "", fmt.Errorf("copy stdin: %w", err)
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", fmt.Errorf("copy stdin to %s: %w", f.Name(), err)
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("copy stdin to %s: %w", f.Name(), err)
	}
	return f.Name(), nil
}
