package data

import (
	"strings"
	"testing"
)

func TestHoldOutDev(t *testing.T) {
	cases := []struct {
		name     string
		n        int
		fraction float64
		errHas   string // "" = a split with both parts non-empty
	}{
		{"one review", 1, 0.1, "no dev set: 1 review is too few"},
		{"four reviews", 4, 0.1, "no dev set: 4 reviews are too few"},
		{"all held out", 2, 0.9, "no training reviews left after holding out 2 reviews"},
		{"enough", 200, 0.1, ""},
	}
	for _, c := range cases {
		d := randomDataset(c.n, 5, 3)
		train, dev, err := HoldOutDev(d, c.fraction, 1, "reviews.txt")
		if c.errHas == "" {
			if err != nil || train.Len() == 0 || dev.Len() == 0 || train.Len()+dev.Len() != c.n {
				t.Errorf("%s: %v, %d train + %d dev", c.name, err, lenOr0(train), lenOr0(dev))
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.errHas) || !strings.HasPrefix(err.Error(), "reviews.txt: ") {
			t.Errorf("%s: %v, want an error naming the file with %q", c.name, err, c.errHas)
		}
	}
}

func lenOr0(d *Dataset) int {
	if d == nil {
		return 0
	}
	return d.Len()
}

func TestDroppedLine(t *testing.T) {
	r := Report{ReviewsRead: 10, Dropped: map[string]int64{ReasonCSVQuote: 1, ReasonBadLabel: 2, DropEmpty: 0}}
	if got, want := r.DroppedLine(), "3 of 10 records dropped: bad_label 2, csv_quote 1"; got != want {
		t.Fatalf("DroppedLine() = %q, want %q", got, want)
	}
	if got := (&Report{ReviewsRead: 5}).DroppedLine(); got != "" {
		t.Fatalf("nothing dropped: %q", got)
	}
}
