package data

import (
	"fmt"
	"math"
	"slices"
)

// Random streams of the seeded choices other than epoch orders, which use
// the epoch number (small) as their stream.
const (
	splitStream   = 1<<63 | 1
	balanceStream = 1<<63 | 2
)

// SplitDev holds out a fraction of d as a development set, stratified by
// label so both parts keep d's label balance, and deterministic for seed.
// Both parts keep d's review order and are fresh copies, so d may be a
// memory-mapped cache. A fraction outside (0, 1) gives an empty dev set.
func SplitDev(d *Dataset, fraction float64, seed uint64) (train, dev *Dataset) {
	inDev := make([]bool, d.Len())
	if fraction > 0 && fraction < 1 {
		r := newRNG(seed, splitStream)
		for _, class := range []uint8{Negative, Positive} {
			var idx []int32
			for i, l := range d.Labels {
				if l == class {
					idx = append(idx, int32(i))
				}
			}
			shuffle(r, idx)
			k := int(math.Round(fraction * float64(len(idx))))
			for _, i := range idx[:k] {
				inDev[i] = true
			}
		}
	}
	return subset(d, inDev, false), subset(d, inDev, true)
}

// HoldOutDev is SplitDev for a training run: it refuses, with a message
// naming name (the input), a split that leaves either part empty, where a
// dev accuracy of 0 would be reported for no reviews at all or nothing
// would be left to train on.
func HoldOutDev(d *Dataset, fraction float64, seed uint64, name string) (train, dev *Dataset, err error) {
	train, dev = SplitDev(d, fraction, seed)
	switch {
	case dev.Len() == 0:
		return nil, nil, fmt.Errorf("%s: no dev set: %s too few to hold out a fraction of %g (it rounds to none of either label); give more reviews, a larger --dev-fraction or --dev FILE",
			name, plural(d.Len(), "review is", "reviews are"), fraction)
	case train.Len() == 0:
		return nil, nil, fmt.Errorf("%s: no training reviews left after holding out %s as the dev set (fraction %g); give more reviews, a smaller --dev-fraction or --dev FILE",
			name, plural(dev.Len(), "review", "reviews"), fraction)
	}
	return train, dev, nil
}

// plural formats n with the singular or plural word.
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// subset copies the reviews i of d with pick[i] == want, in order.
func subset(d *Dataset, pick []bool, want bool) *Dataset {
	var n, toks int64
	for i, p := range pick {
		if p == want {
			n++
			toks += d.Offsets[i+1] - d.Offsets[i]
		}
	}
	out := &Dataset{
		Tokens:  make([]int32, 0, toks),
		Offsets: make([]int64, 1, n+1),
		Labels:  make([]uint8, 0, n),
	}
	for i, p := range pick {
		if p == want {
			out.Tokens = append(out.Tokens, d.Review(i)...)
			out.Offsets = append(out.Offsets, int64(len(out.Tokens)))
			out.Labels = append(out.Labels, d.Labels[i])
		}
	}
	out.Tokens = slices.Clip(out.Tokens)
	return out
}
