package report

import (
	"testing"
	"time"
)

func TestPeriods(t *testing.T) {
	cases := []struct {
		kind, when, label string
	}{
		{Month, "2021-06-15T12:00:00Z", "2021-06"},
		{Month, "1969-12-31T23:59:59Z", "1969-12"},
		{Quarter, "2021-06-30T23:59:59Z", "2021-Q2"},
		{Quarter, "2021-07-01T00:00:00Z", "2021-Q3"},
		{Week, "2021-01-03T00:00:00Z", "2020-W53"}, // a Sunday: still 2020's last ISO week
		{Week, "2021-01-04T00:00:00Z", "2021-W01"}, // the Monday after
		{Week, "1970-01-01T00:00:00Z", "1970-W01"},
		{Week, "2012-10-26T00:00:00Z", "2012-W43"},
		{Week, "2008-12-29T00:00:00Z", "2009-W01"}, // ISO year differs from the calendar year
	}
	for _, c := range cases {
		tm, err := time.Parse(time.RFC3339, c.when)
		if err != nil {
			t.Fatal(err)
		}
		i := periodIndex(c.kind, tm.Unix())
		if got := periodLabel(c.kind, i); got != c.label {
			t.Errorf("%s of %s = %s, want %s", c.kind, c.when, got, c.label)
		}
		back, err := ParsePeriod(c.kind, c.label)
		if err != nil || back != i {
			t.Errorf("ParsePeriod(%s, %s) = %d, %v; want %d", c.kind, c.label, back, err, i)
		}
		// The next period is one index on, and sorts after.
		if next := periodLabel(c.kind, i+1); next <= c.label {
			t.Errorf("%s after %s is %s", c.kind, c.label, next)
		}
	}
	if _, err := ParsePeriod(Month, "2021-13"); err == nil {
		t.Error("month 13 parsed")
	}
	if i, err := ParsePeriod(Quarter, "2021-06"); err != nil || periodLabel(Quarter, i) != "2021-Q2" {
		t.Errorf("quarter of 2021-06: %d %v", i, err)
	}
}
