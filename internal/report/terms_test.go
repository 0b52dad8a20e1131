package report

import (
	"strings"
	"testing"

	"trainer/data"
)

func TestTermCounts(t *testing.T) {
	tok := data.NewTokenizer(data.DefaultPreprocess())
	tc := newTermCounts()
	reviews := []struct {
		text  string
		class int
	}{
		{"The lid is broken, not sealed", 0},
		{"Broken lid and stale taste", 0},
		{"stale stale taste", 0},
		{"Great taste, not stale", 1},
		{"great value and great taste", 1},
	}
	for _, r := range reviews {
		tc.add(tok.Tokens(r.text), r.class)
	}
	cases := []struct {
		term string
		want [2]float64
		ok   bool
	}{
		{"broken", [2]float64{2, 0}, true},
		{"taste", [2]float64{2, 2}, true},
		{"the", [2]float64{1, 0}, true},        // counted, though never listed
		{"not sealed", [2]float64{1, 0}, true}, // a negation counts as a word
		{"stale taste", [2]float64{2, 0}, true},
		{"great taste", [2]float64{0, 2}, true},
		{"the lid", [2]float64{}, false},   // function words make no bigrams
		{"lid and", [2]float64{}, false},   // nor across one
		{"lid stale", [2]float64{}, false}, // never adjacent
		{"unseen", [2]float64{}, false},
	}
	for _, c := range cases {
		got, ok := tc.counts(c.term)
		if got != c.want || ok != c.ok {
			t.Errorf("counts(%q) = %v %v, want %v %v", c.term, got, ok, c.want, c.ok)
		}
	}
	terms := tc.rank(tc, 3, 2)
	if len(terms.Negative) == 0 || len(terms.Positive) == 0 || terms.Positive[0].Term != "great" || terms.Positive[0].Count != 3 {
		t.Fatalf("terms %+v", terms)
	}
	for _, x := range append(terms.Negative, terms.Positive...) {
		if functionWords[x.Term] || x.Count+x.CountOther < 2 || x.Score <= 0 {
			t.Errorf("listed %+v", x)
		}
	}
}

// TestTermPruning: when the bigram table fills, the rarest bigrams go,
// their occurrences are counted as pruned, and frequent ones stay exact
// up to the floor.
func TestTermPruning(t *testing.T) {
	tok := data.NewTokenizer(data.DefaultPreprocess())
	tc := newTermCounts()
	tc.biCap = 20
	var total int64
	for i := range 200 {
		text := "crisp apple " + strings.Repeat("x", i%7+1) + " " + strings.Repeat("y", i%11+1)
		tc.add(tok.Tokens(text), i%2)
		total += 3
	}
	if len(tc.bi) > tc.biCap {
		t.Fatalf("%d bigrams kept, cap %d", len(tc.bi), tc.biCap)
	}
	var kept int64
	for _, c := range tc.bi {
		kept += int64(c[0] + c[1])
	}
	if tc.pruned == 0 || kept+tc.pruned != total {
		t.Fatalf("kept %d + pruned %d != %d bigram occurrences", kept, tc.pruned, total)
	}
	c, ok := tc.counts("crisp apple")
	if !ok || int64(c[0]+c[1]) < 200-int64(tc.floor) {
		t.Fatalf("crisp apple %v (floor %d), want about 200", c, tc.floor)
	}
}
