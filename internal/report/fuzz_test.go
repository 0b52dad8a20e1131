package report

import (
	"context"
	"strings"
	"testing"
)

// FuzzBuild feeds arbitrary bytes to the reader and the aggregation: it
// must fail with an error or count every record exactly once, never panic.
func FuzzBuild(f *testing.F) {
	f.Add([]byte(fineFoodCSV))
	f.Add([]byte(`{"asin":"X","overall":5,"unixReviewTime":1622505600,"summary":"a","reviewText":"b"}` + "\n{bad\n"))
	f.Add([]byte("__label__1 bad\n__label__2 good\n"))
	f.Add([]byte("Text,Time\n\"open quote,1\n"))
	f.Add([]byte("Text,date\nok,2021-01-02\nok,01 2, 2021\nok,\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		path := writeFile(t, "in", b)
		r, err := Build(context.Background(), path, &lexicon{}, Options{Chunk: 3, MinSide: 1})
		if err != nil {
			if r != nil || strings.Contains(err.Error(), "\n") {
				t.Fatalf("report %v and error %q: want no report and a one-line error", r != nil, err)
			}
			return
		}
		var skipped int64
		for _, n := range r.Skipped {
			skipped += n
		}
		if r.Scored+skipped != r.Reviews || r.Overall.Reviews != r.Scored {
			t.Fatalf("read %d, scored %d, skipped %v", r.Reviews, r.Scored, r.Skipped)
		}
		var inPeriods int64
		for _, p := range r.ByPeriod {
			inPeriods += p.Reviews
		}
		if inPeriods+r.Incomplete[ReasonNoTime]+r.Incomplete[ReasonBadTime] != r.Scored && r.Columns.Time != "" {
			t.Fatalf("periods hold %d of %d scored reviews (incomplete %v)", inPeriods, r.Scored, r.Incomplete)
		}
	})
}
