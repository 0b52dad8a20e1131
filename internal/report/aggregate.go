package report

import (
	"cmp"
	"math"
	"slices"
)

// Share is a count of reviews and the share predicted negative, with its
// 95% Wilson interval.
type Share struct {
	Reviews       int64      `json:"reviews"`
	Negative      int64      `json:"negative"`
	NegativeShare float64    `json:"negative_share"`
	CI95          [2]float64 `json:"ci95"`
}

func makeShare(neg, n int64) Share {
	s := Share{Reviews: n, Negative: neg}
	if n > 0 {
		s.NegativeShare = float64(neg) / float64(n)
	}
	s.CI95[0], s.CI95[1] = Wilson(neg, n)
	return s
}

// PeriodShare is one row of by_period.
type PeriodShare struct {
	Period string `json:"period"`
	Share
}

// GroupShare is one row of by_group.
type GroupShare struct {
	Group string `json:"group"`
	Share
}

// counts is reviews and negative predictions.
type counts struct{ n, neg int64 }

func (c *counts) add(negative bool) {
	c.n++
	if negative {
		c.neg++
	}
}

// cellKey is one group in one period.
type cellKey struct {
	group  int32
	period int32
}

// aggregator accumulates predictions into the report's tables. Only
// counts are kept per review, so memory grows with the number of groups
// and periods, not with the reviews.
type aggregator struct {
	period   string
	overall  counts
	byPeriod map[int32]*counts
	groups   map[string]int32
	names    []string
	byGroup  []counts
	cells    map[cellKey]*counts
	stars    [6]counts // by rounded star rating 1..5
	stance   [3]counts // rating negative, neutral, positive
}

func newAggregator(period string) *aggregator {
	return &aggregator{period: period, byPeriod: map[int32]*counts{}, groups: map[string]int32{}, cells: map[cellKey]*counts{}}
}

func (a *aggregator) groupID(g string) int32 {
	id, ok := a.groups[g]
	if !ok {
		id = int32(len(a.names))
		a.groups[g] = id
		a.names = append(a.names, g)
		a.byGroup = append(a.byGroup, counts{})
	}
	return id
}

// add counts one scored review and returns its group and period, or -1
// for a review without a group or without a time.
func (a *aggregator) add(rec *Record, pPositive float64) (group, period int32) {
	group, period = -1, -1
	neg := pPositive < 0.5
	a.overall.add(neg)
	pi := int32(0)
	if rec.TimeOK {
		pi = periodIndex(a.period, rec.Time)
		c := a.byPeriod[pi]
		if c == nil {
			c = &counts{}
			a.byPeriod[pi] = c
		}
		c.add(neg)
		period = pi
	}
	if rec.Group != "" {
		g := a.groupID(rec.Group)
		group = g
		a.byGroup[g].add(neg)
		if rec.TimeOK {
			k := cellKey{g, pi}
			c := a.cells[k]
			if c == nil {
				c = &counts{}
				a.cells[k] = c
			}
			c.add(neg)
		}
	}
	if rec.HasRating {
		a.stance[rec.Stance+1].add(neg)
		if r := int(math.Round(rec.Rating)); r >= 1 && r <= 5 {
			a.stars[r].add(neg)
		}
	}
	return group, period
}

func (a *aggregator) periodTable() []PeriodShare {
	keys := make([]int32, 0, len(a.byPeriod))
	for k := range a.byPeriod {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	rows := make([]PeriodShare, len(keys))
	for i, k := range keys {
		c := a.byPeriod[k]
		rows[i] = PeriodShare{Period: periodLabel(a.period, k), Share: makeShare(c.neg, c.n)}
	}
	return rows
}

// groupTable lists every group, the most negative first; ties go to the
// group with more reviews, then by name.
func (a *aggregator) groupTable() []GroupShare {
	rows := make([]GroupShare, len(a.names))
	for i, g := range a.names {
		rows[i] = GroupShare{Group: g, Share: makeShare(a.byGroup[i].neg, a.byGroup[i].n)}
	}
	slices.SortFunc(rows, func(x, y GroupShare) int {
		if c := cmp.Compare(y.NegativeShare, x.NegativeShare); c != 0 {
			return c
		}
		if c := cmp.Compare(y.Reviews, x.Reviews); c != 0 {
			return c
		}
		return cmp.Compare(x.Group, y.Group)
	})
	return rows
}

// RatingAgreement compares predictions with star ratings (or fastText
// labels): ratings 1-2 are negative, 4-5 positive, 3 is reported apart.
type RatingAgreement struct {
	Rated int64 `json:"rated"` // reviews with a usable rating
	// Agreement is the share of negative- and positive-rated reviews whose
	// prediction matches the rating, with its 95% Wilson interval.
	Agreement     float64    `json:"agreement"`
	AgreementCI95 [2]float64 `json:"agreement_ci95"`
	// NegativeRated and PositiveRated are the reviews rated 1-2 and 4-5 and
	// how many of each the model predicts negative.
	NegativeRated Share `json:"negative_rated"`
	PositiveRated Share `json:"positive_rated"`
	Neutral       Share `json:"neutral"` // rated 3
	// ByStars is the negative share per star rating (absent for fastText
	// labels, which carry no stars).
	ByStars []StarShare `json:"by_stars,omitempty"`
}

// StarShare is the negative share of the reviews with one star rating.
type StarShare struct {
	Stars int `json:"stars"`
	Share
}

func (a *aggregator) ratingAgreement() *RatingAgreement {
	neg, neu, pos := a.stance[0], a.stance[1], a.stance[2]
	rated := neg.n + neu.n + pos.n
	if rated == 0 {
		return nil
	}
	ra := &RatingAgreement{Rated: rated, NegativeRated: makeShare(neg.neg, neg.n),
		PositiveRated: makeShare(pos.neg, pos.n), Neutral: makeShare(neu.neg, neu.n)}
	agree := neg.neg + (pos.n - pos.neg)
	if polar := neg.n + pos.n; polar > 0 {
		ra.Agreement = float64(agree) / float64(polar)
		ra.AgreementCI95[0], ra.AgreementCI95[1] = Wilson(agree, polar)
	}
	for s := 1; s <= 5; s++ {
		if c := a.stars[s]; c.n > 0 {
			ra.ByStars = append(ra.ByStars, StarShare{Stars: s, Share: makeShare(c.neg, c.n)})
		}
	}
	return ra
}

// Alert is a group whose negative share changed: its periods split into
// before and after at the change point (see bestSplit).
type Alert struct {
	Group string `json:"group"`
	// Period is the first period after the change.
	Period              string     `json:"period"`
	ReviewsBefore       int64      `json:"reviews_before"`
	ReviewsAfter        int64      `json:"reviews_after"`
	NegativeShareBefore float64    `json:"negative_share_before"`
	NegativeShareAfter  float64    `json:"negative_share_after"`
	CI95Before          [2]float64 `json:"ci95_before"`
	CI95After           [2]float64 `json:"ci95_after"`
	Z                   float64    `json:"z"`
	// PValue is the two-proportion test's p-value at the chosen split
	// times the number of splits tried (Bonferroni, at most 1): the split
	// is chosen from the data among several, and its raw p-value,
	// PValueSplit, would raise false alarms on products whose share only
	// wanders.
	PValue      float64 `json:"p_value"`
	PValueSplit float64 `json:"p_value_split"`
	Splits      int     `json:"splits"`
	// QValue is the Benjamini-Hochberg adjusted PValue over every group
	// tested; an alert has QValue <= the report's FDR.
	QValue   float64   `json:"q_value"`
	Examples []Example `json:"examples"`
	// Terms are the terms most associated with negative predictions in
	// the group's reviews from Period on, against the whole input as prior.
	Terms *Terms `json:"terms,omitempty"`
	// ByPeriod is the group's negative share in each of its periods.
	ByPeriod []PeriodShare `json:"by_period"`

	groupID int32
	period  int32
}

// Example is one review quoted in an alert.
type Example struct {
	Line      int64   `json:"line"`
	Period    string  `json:"period"`
	PPositive float64 `json:"p_positive"`
	Text      string  `json:"text"`
}

// changeTest is the best split of one group and its p-values.
type changeTest struct {
	Alert
	tested  bool
	periods []int32 // the group's periods and their counts
	cells   []counts
}

// bestSplit finds the change point of a group's periods (sorted): the
// split into before and after where the cumulative count of negative
// reviews departs most from what the group's overall share predicts (the
// CUSUM estimate, |S_k - k p|). Unlike the split with the largest z, it is
// not drawn to the ends, where few reviews make z swing. Only splits with
// at least minSide reviews on each side count. The split is then tested
// with the two-proportion z-test.
func bestSplit(periods []int32, cells []counts, minSide int64) (changeTest, bool) {
	var total counts
	for _, c := range cells {
		total.n += c.n
		total.neg += c.neg
	}
	rate := float64(total.neg) / float64(max(total.n, 1))
	var best changeTest
	var before counts
	bestDev := -1.0
	splits := 0
	for i := 1; i < len(periods); i++ {
		before.n += cells[i-1].n
		before.neg += cells[i-1].neg
		after := counts{total.n - before.n, total.neg - before.neg}
		if before.n < minSide || after.n < minSide {
			continue
		}
		splits++
		dev := math.Abs(float64(before.neg) - rate*float64(before.n))
		if dev <= bestDev {
			continue
		}
		bestDev = dev
		z, p := TwoProportion(before.neg, before.n, after.neg, after.n)
		best = changeTest{tested: true, Alert: Alert{period: periods[i], Z: z, PValueSplit: p,
			ReviewsBefore: before.n, ReviewsAfter: after.n,
			NegativeShareBefore: float64(before.neg) / float64(before.n),
			NegativeShareAfter:  float64(after.neg) / float64(after.n)}}
		best.CI95Before[0], best.CI95Before[1] = Wilson(before.neg, before.n)
		best.CI95After[0], best.CI95After[1] = Wilson(after.neg, after.n)
	}
	if !best.tested {
		return best, false
	}
	best.Splits = splits
	best.PValue = min(1, best.PValueSplit*float64(splits))
	return best, true
}

// alerts tests every group with a time for a change of its negative share
// and keeps those whose BH q-value is at most fdr. It returns the alerts,
// most significant first, and the number of groups tested.
func (a *aggregator) alerts(fdr float64, minSide int64) ([]Alert, int) {
	perGroup := make([][]cellKey, len(a.names))
	for k := range a.cells {
		perGroup[k.group] = append(perGroup[k.group], k)
	}
	var tests []changeTest
	for g, keys := range perGroup {
		if len(keys) < 2 {
			continue
		}
		slices.SortFunc(keys, func(x, y cellKey) int { return cmp.Compare(x.period, y.period) })
		periods := make([]int32, len(keys))
		cells := make([]counts, len(keys))
		for i, k := range keys {
			periods[i], cells[i] = k.period, *a.cells[k]
		}
		t, ok := bestSplit(periods, cells, minSide)
		if !ok {
			continue
		}
		t.groupID = int32(g)
		t.Group = a.names[g]
		t.Period = periodLabel(a.period, t.period)
		t.cells, t.periods = cells, periods
		tests = append(tests, t)
	}
	p := make([]float64, len(tests))
	for i, t := range tests {
		p[i] = t.PValue
	}
	q := BenjaminiHochberg(p)
	var out []Alert
	for i, t := range tests {
		if q[i] <= fdr {
			t.QValue = q[i]
			for k, c := range t.cells {
				t.ByPeriod = append(t.ByPeriod, PeriodShare{Period: periodLabel(a.period, t.periods[k]), Share: makeShare(c.neg, c.n)})
			}
			out = append(out, t.Alert)
		}
	}
	slices.SortFunc(out, func(x, y Alert) int {
		if c := cmp.Compare(x.QValue, y.QValue); c != 0 {
			return c
		}
		if c := cmp.Compare(math.Abs(y.Z), math.Abs(x.Z)); c != 0 {
			return c
		}
		return cmp.Compare(x.Group, y.Group)
	})
	return out, len(tests)
}
