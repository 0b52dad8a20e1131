// Package alias draws ids in proportion to weights in constant time
// (Vose's alias method): one table entry per id, so a table of tens of
// thousands stays in cache, where a table of draws (fastText's ten
// million) does not.
package alias

import "math"

// Table draws ids 0..len-1 by the weights it was built from. Slot i is
// taken by a draw whose low 32 bits are below Threshold[i], and otherwise
// gives Alias[i].
type Table struct {
	Threshold []uint32
	Alias     []int32
}

// New builds the table of weights w (non-negative, not all 0). An id of
// weight 0 is never drawn.
func New(w []float64) Table {
	n := len(w)
	var sum float64
	some := int32(-1) // an id of positive weight
	for i, x := range w {
		sum += x
		if x > 0 && some < 0 {
			some = int32(i)
		}
	}
	t := Table{Threshold: make([]uint32, n), Alias: make([]int32, n)}
	scaled := make([]float64, n)
	var small, large []int32
	for i, x := range w {
		scaled[i] = x * float64(n) / sum
		if scaled[i] < 1 {
			small = append(small, int32(i))
		} else {
			large = append(large, int32(i))
		}
	}
	for len(small) > 0 && len(large) > 0 {
		s, l := small[len(small)-1], large[len(large)-1]
		small = small[:len(small)-1]
		t.Threshold[s] = uint32(scaled[s] * math.MaxUint32)
		t.Alias[s] = l
		scaled[l] += scaled[s] - 1
		if scaled[l] < 1 {
			large = large[:len(large)-1]
			small = append(small, l)
		}
	}
	// What is left has weight 1 up to rounding: it always takes itself,
	// unless it is an id of no weight left over by that rounding.
	for _, i := range append(small, large...) {
		if w[i] > 0 {
			t.Threshold[i], t.Alias[i] = math.MaxUint32, i
		} else {
			t.Threshold[i], t.Alias[i] = 0, some
		}
	}
	return t
}

// Draw is the id that the 64 random bits u pick: the high 32 choose the
// slot, the low 32 between it and its alias.
func (t Table) Draw(u uint64) int32 {
	slot := int32((u >> 32) * uint64(len(t.Threshold)) >> 32)
	if uint32(u) < t.Threshold[slot] {
		return slot
	}
	return t.Alias[slot]
}
