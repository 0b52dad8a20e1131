package report

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestSummary(t *testing.T) {
	r := &Report{Reviews: 12, Scored: 9, Skipped: map[string]int64{"no_text": 2, "bad_record": 1},
		Overall:  Share{Reviews: 9, Negative: 3, NegativeShare: 1.0 / 3, CI95: [2]float64{0.12, 0.65}},
		ByPeriod: make([]PeriodShare, 4), ByGroup: make([]GroupShare, 2), Alerts: make([]Alert, 1)}
	s := Summarize(r, "out", []string{"out/report.json", "out/report.html"}, "int8", 1.26)
	cases := []struct {
		name  string
		write func(*strings.Builder) error
		want  string
	}{
		{"text", func(b *strings.Builder) error { return s.WriteText(b) },
			"12 reviews read, 9 scored, 3 skipped (bad_record 1, no_text 2); 33.3% negative (95%: 12.0-65.0%); 4 periods, 2 products, 1 alerts; out/report.html in 1.3s\n"},
		{"json", func(b *strings.Builder) error { return json.NewEncoder(b).Encode(s) },
			`{"alerts":1,"files":["out/report.json","out/report.html"],"groups":2,"negative_share":0.3333333333333333,"out":"out",` +
				`"periods":4,"precision":"int8","reviews":12,"scored":9,"seconds":1.3,"skipped":{"bad_record":1,"no_text":2}}` + "\n"},
	}
	for _, c := range cases {
		var b strings.Builder
		if err := c.write(&b); err != nil {
			t.Fatal(err)
		}
		if b.String() != c.want {
			t.Errorf("%s:\n%s\nwant\n%s", c.name, b.String(), c.want)
		}
	}
}
