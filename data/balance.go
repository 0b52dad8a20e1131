package data

// balanceDrops chooses which reviews to drop so that both labels are equally
// frequent: a seeded random subset of the majority class, of size the
// difference. It returns a mask of the reviews to drop and how many.
func balanceDrops(labels []uint8, seed uint64) (drop []bool, n int64) {
	var count [2]int64
	for _, l := range labels {
		count[l&1]++
	}
	major := Negative
	if count[Positive] > count[Negative] {
		major = Positive
	}
	n = count[major] - count[1-major]
	drop = make([]bool, len(labels))
	if n == 0 {
		return drop, 0
	}
	idx := make([]int32, 0, count[major])
	for i, l := range labels {
		if l == major {
			idx = append(idx, int32(i))
		}
	}
	shuffle(newRNG(seed, balanceStream), idx)
	for _, i := range idx[:n] {
		drop[i] = true
	}
	return drop, n
}

// Balance downsamples the majority label of d to the size of the minority,
// choosing the dropped reviews with seed; it returns a copy of the kept
// reviews in order and how many were dropped.
func Balance(d *Dataset, seed uint64) (*Dataset, int64) {
	drop, n := balanceDrops(d.Labels, seed)
	return subset(d, drop, false), n
}
