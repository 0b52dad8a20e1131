package wordvec

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// topics is a corpus of documents that each draw their words from one of
// two disjoint sets of ten (ids 2-11 and 12-21; 0 and 1 are never
// counted, as padding and the unknown word are not), with the uncounted
// ids sprinkled in.
func topics(docs, length int, seed uint64) Corpus {
	rng := rand.New(rand.NewPCG(seed, 1))
	c := Corpus{Offsets: []int64{0}, Counts: make([]int64, 22)}
	for d := range docs {
		base := int32(2 + 10*(d%2))
		for range length {
			id := base + int32(rng.IntN(10))
			if rng.IntN(10) == 0 {
				id = int32(rng.IntN(2))
			}
			c.Tokens = append(c.Tokens, id)
			if id >= 2 {
				c.Counts[id]++
			}
		}
		c.Offsets = append(c.Offsets, int64(len(c.Tokens)))
	}
	return c
}

func cosine(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	return ab / math.Sqrt(aa*bb)
}

// TestLearnSeparatesTopics checks that words sharing contexts end up
// closer than words that never meet: the mean cosine within a topic must
// exceed the mean across topics by a wide margin. Vectors left at their
// random start, or moved by a wrong gradient, give a margin near 0.
func TestLearnSeparatesTopics(t *testing.T) {
	c := topics(400, 30, 1)
	cfg := DefaultLearnConfig(32, 5, 7)
	cfg.Subsample = 1 // twenty words this frequent would all be skipped at fastText's 1e-4
	tab, err := Learn(context.Background(), c, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	var within, across float64
	var nw, na int
	for a := 2; a < 22; a++ {
		for b := a + 1; b < 22; b++ {
			cs := cosine(tab.Row(a), tab.Row(b))
			if (a < 12) == (b < 12) {
				within, nw = within+cs, nw+1
			} else {
				across, na = across+cs, na+1
			}
		}
	}
	within, across = within/float64(nw), across/float64(na)
	if within-across < 0.5 {
		t.Errorf("mean cosine within topics %.3f, across %.3f: want a margin of at least 0.5", within, across)
	}
	for id := range 2 {
		if tab.Found[id] || slices.ContainsFunc(tab.Row(id), func(v float32) bool { return v != 0 }) {
			t.Errorf("uncounted id %d: found %v, row %v: want no vector", id, tab.Found[id], tab.Row(id)[:4])
		}
	}
	for id := 2; id < 22; id++ {
		if !tab.Found[id] {
			t.Errorf("id %d occurs but has no vector", id)
		}
	}
}

// TestLearnIsSeeded checks that a seed gives the same vectors bit for bit
// and another seed other ones, and that progress ends at the total.
func TestLearnIsSeeded(t *testing.T) {
	c := topics(50, 20, 2)
	run := func(seed uint64) ([]float32, [2]int64) {
		var last [2]int64
		tab, err := Learn(context.Background(), c, DefaultLearnConfig(40, 2, seed), func(done, total int64) { last = [2]int64{done, total} })
		if err != nil {
			t.Fatal(err)
		}
		return tab.Vecs, last
	}
	a, pa := run(3)
	b, _ := run(3)
	other, _ := run(4)
	if !slices.Equal(a, b) {
		t.Error("the same seed gave other vectors")
	}
	if slices.Equal(a, other) {
		t.Error("another seed gave the same vectors")
	}
	if want := 2 * int64(len(c.Tokens)); pa != [2]int64{want, want} {
		t.Errorf("last progress %v, want [%d %d]", pa, want, want)
	}
}

// TestLearnRefuses checks that bad settings and corpora get an error
// that says what is wrong.
func TestLearnRefuses(t *testing.T) {
	good := topics(4, 5, 3)
	cfg := DefaultLearnConfig(8, 1, 1)
	with := func(f func(*LearnConfig)) LearnConfig { c := cfg; f(&c); return c }
	cases := []struct {
		name   string
		corpus Corpus
		cfg    LearnConfig
		want   string
	}{
		{"dimension", good, with(func(c *LearnConfig) { c.Dim = 0 }), "dimension 0"},
		{"epochs", good, with(func(c *LearnConfig) { c.Epochs = 0 }), "0 epochs"},
		{"window", good, with(func(c *LearnConfig) { c.Window = 0 }), "window 0"},
		{"negatives", good, with(func(c *LearnConfig) { c.Negatives = 0 }), "0 negatives"},
		{"rate", good, with(func(c *LearnConfig) { c.LR = math.NaN() }), "learning rate NaN"},
		{"subsample", good, with(func(c *LearnConfig) { c.Subsample = -1 }), "threshold -1"},
		{"offsets", Corpus{Tokens: good.Tokens, Offsets: []int64{0, 3}, Counts: good.Counts}, cfg, "offsets do not span"},
		{"id", Corpus{Tokens: []int32{2, 99}, Offsets: []int64{0, 2}, Counts: good.Counts}, cfg, "token id 99 outside a vocabulary of 22"},
		{"no words", Corpus{Tokens: []int32{0, 1}, Offsets: []int64{0, 2}, Counts: make([]int64, 22)}, cfg, ErrNoWords.Error()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Learn(context.Background(), tc.corpus, tc.cfg, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestLearnStopsWhenCancelled checks that a cancelled context ends the
// learning with its error.
func TestLearnStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Learn(ctx, topics(10, 10, 4), DefaultLearnConfig(8, 1, 1), nil)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

// TestLearnPredictsCentres checks the objective itself: given the mean of
// a position's neighbours, the output vector of the word there must
// score above that of a word of the other topic in nearly every case. A
// step of the wrong sign on the counterexamples also pulls words
// together, so similarity alone would not see it; this does.
func TestLearnPredictsCentres(t *testing.T) {
	c := topics(400, 30, 5)
	cfg := DefaultLearnConfig(32, 5, 9)
	cfg.Subsample = 1
	l, err := learn(context.Background(), c, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(6, 6))
	hidden := make([]float32, cfg.Dim)
	var right, all int
	for d := range 50 {
		doc := c.Tokens[c.Offsets[d]:c.Offsets[d+1]]
		for w := 2; w < len(doc)-2; w++ {
			if doc[w] < 2 {
				continue
			}
			clear(hidden)
			for _, ctxID := range []int32{doc[w-2], doc[w-1], doc[w+1], doc[w+2]} {
				for i, v := range l.row(l.in, ctxID) {
					hidden[i] += v
				}
			}
			other := int32(2 + (10+int(doc[w])-2)%20/10*10 + rng.IntN(10))
			if dot(l.row(l.out, doc[w]), hidden) > dot(l.row(l.out, other), hidden) {
				right++
			}
			all++
		}
	}
	if acc := float64(right) / float64(all); acc < 0.95 {
		t.Errorf("true word ranked above another topic's in %.3f of %d positions, want at least 0.95", acc, all)
	}
}

func dot(a, b []float32) (s float32) {
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}
