package report

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// simulate feeds an aggregator with reviews of groups products over 36
// months from 2020-01, about perGroup each, whose predictions are negative
// with a per-product base rate, or with the planted rate from the planted
// month on. It stands in for a model whose predictions follow the truth.
func simulate(seed uint64, groups, perGroup int, planted map[string]plant) *aggregator {
	r := rand.New(rand.NewPCG(seed, 99))
	agg := newAggregator(Month)
	start := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	span := time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC).Unix() - start
	for g := range groups {
		name := fmt.Sprintf("P%04d", g)
		base := 0.15 + 0.4*r.Float64()
		n := perGroup/2 + r.IntN(perGroup)
		for range n {
			t := start + r.Int64N(span)
			share := base
			if p, ok := planted[name]; ok && t >= p.from {
				share = p.negative
			}
			prob := 0.9
			if r.Float64() < share {
				prob = 0.1
			}
			agg.add(&Record{Group: name, Time: t, TimeOK: true}, prob)
		}
	}
	return agg
}

type plant struct {
	from     int64
	negative float64
}

func month(s string) int64 {
	t, err := time.Parse("2006-01", s)
	if err != nil {
		panic(err)
	}
	return t.Unix()
}

// TestAlertsFindPlantedChanges: every planted change is found, in the
// right product, its period within one month of the truth, and no other
// product is flagged.
func TestAlertsFindPlantedChanges(t *testing.T) {
	cases := []struct {
		seed    uint64
		planted map[string]plant
	}{
		{1, map[string]plant{"P0003": {month("2021-06"), 0.8}}},
		{2, map[string]plant{"P0000": {month("2020-09"), 0.7}, "P0011": {month("2022-03"), 0.85}}},
		{3, map[string]plant{"P0007": {month("2021-01"), 0.05}}}, // a product that got better
		{4, map[string]plant{"P0001": {month("2021-06"), 0.8}, "P0002": {month("2021-07"), 0.8}, "P0019": {month("2022-06"), 0.9}}},
	}
	for _, c := range cases {
		agg := simulate(c.seed, 20, 600, c.planted)
		alerts, tested := agg.alerts(DefaultFDR, DefaultMinSide)
		if tested != 20 {
			t.Errorf("seed %d: %d groups tested, want 20", c.seed, tested)
		}
		found := map[string]bool{}
		for _, a := range alerts {
			p, ok := c.planted[a.Group]
			if !ok {
				t.Errorf("seed %d: false alert %+v", c.seed, a)
				continue
			}
			want := periodIndex(Month, p.from)
			if d := a.period - want; d < -1 || d > 1 {
				t.Errorf("seed %d: %s changed in %s, alert says %s", c.seed, a.Group, periodLabel(Month, want), a.Period)
			}
			if a.QValue > DefaultFDR || a.PValue < a.PValueSplit || a.Splits < 2 {
				t.Errorf("seed %d: alert %s: p %g, raw p %g, q %g, %d splits", c.seed, a.Group, a.PValue, a.PValueSplit, a.QValue, a.Splits)
			}
			if (a.NegativeShareAfter > a.NegativeShareBefore) != (p.negative > 0.5) {
				t.Errorf("seed %d: %s: before %.2f after %.2f, planted %.2f", c.seed, a.Group, a.NegativeShareBefore, a.NegativeShareAfter, p.negative)
			}
			found[a.Group] = true
		}
		for g := range c.planted {
			if !found[g] {
				t.Errorf("seed %d: planted change in %s not found (alerts %+v)", c.seed, g, alerts)
			}
		}
	}
}

// TestAlertsFalseAlarmRate: with no change planted, at most 2 of 20 seeds
// raise any alert.
func TestAlertsFalseAlarmRate(t *testing.T) {
	alarmed := 0
	for seed := uint64(100); seed < 120; seed++ {
		agg := simulate(seed, 20, 600, nil)
		alerts, _ := agg.alerts(DefaultFDR, DefaultMinSide)
		if len(alerts) > 0 {
			alarmed++
			t.Logf("seed %d: %d alerts, first %s %s q %.3g", seed, len(alerts), alerts[0].Group, alerts[0].Period, alerts[0].QValue)
		}
	}
	if alarmed > 2 {
		t.Fatalf("%d of 20 seeds without a change raised alerts, want at most 2", alarmed)
	}
	t.Logf("%d of 20 seeds raised an alert", alarmed)
}

func TestBestSplitNeedsBothSides(t *testing.T) {
	// Three months; the middle split has 30 reviews on each side, the
	// others fewer than 20 on one side.
	periods := []int32{0, 1, 2}
	cells := []counts{{10, 1}, {20, 2}, {30, 27}}
	best, ok := bestSplit(periods, cells, 20)
	if !ok || best.period != 2 || best.Splits != 1 || best.ReviewsBefore != 30 || best.ReviewsAfter != 30 {
		t.Fatalf("best split %+v ok %v", best, ok)
	}
	z, p := TwoProportion(3, 30, 27, 30)
	if best.Z != z || best.PValue != p {
		t.Fatalf("z %g p %g, want %g %g", best.Z, best.PValue, z, p)
	}
	if _, ok := bestSplit(periods, cells, 40); ok {
		t.Fatal("a split with fewer than 40 reviews a side was tested")
	}
}
