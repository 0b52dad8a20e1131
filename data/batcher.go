package data

import (
	"math/bits"
	"math/rand/v2"
	"slices"
)

// bucketWindowBatches is how many batches' worth of shuffled reviews are
// sorted by length together. Large windows give little padding; the window
// still spans random reviews, so batches stay varied from epoch to epoch.
const bucketWindowBatches = 100

// BatchOptions says how a Batcher cuts a dataset into batches.
type BatchOptions struct {
	BatchSize int    // rows per batch; the last batch of an epoch may be smaller
	MaxLen    int    // truncate reviews to this many tokens; 0 keeps them whole
	Seed      uint64 // with the epoch number, fixes the order
	Bucket    bool   // group reviews of similar length to cut padding
	Shuffle   bool   // random order each epoch; off gives dataset order
}

// Batcher cuts a dataset into padded batches, reproducibly for a given seed
// and epoch.
type Batcher struct {
	d *Dataset
	o BatchOptions
}

// NewBatcher returns a batcher over d. A BatchSize below 1 counts as 1.
func NewBatcher(d *Dataset, o BatchOptions) *Batcher {
	o.BatchSize = max(o.BatchSize, 1)
	return &Batcher{d: d, o: o}
}

// NumBatches is the number of batches in every epoch.
func (b *Batcher) NumBatches() int {
	return (b.d.Len() + b.o.BatchSize - 1) / b.o.BatchSize
}

// Order returns the review indices of each batch of the given epoch, in the
// order the batches are to be used. Every review appears exactly once. It
// is deterministic for (Seed, epoch).
func (b *Batcher) Order(epoch int) [][]int32 {
	n := b.d.Len()
	idx := make([]int32, n)
	for i := range idx {
		idx[i] = int32(i)
	}
	r := newRNG(b.o.Seed, uint64(epoch))
	if b.o.Shuffle {
		shuffle(r, idx)
	}
	if b.o.Bucket {
		w := b.o.BatchSize * bucketWindowBatches
		for lo := 0; lo < n; lo += w {
			win := idx[lo:min(lo+w, n)]
			// Stable: equal lengths keep their shuffled order, so ties
			// are random yet reproducible.
			slices.SortStableFunc(win, func(x, y int32) int {
				return b.length(x) - b.length(y)
			})
		}
	}
	batches := make([][]int32, 0, b.NumBatches())
	for lo := 0; lo < n; lo += b.o.BatchSize {
		batches = append(batches, idx[lo:min(lo+b.o.BatchSize, n)])
	}
	if b.o.Shuffle && b.o.Bucket {
		// Sorted windows would otherwise feed short reviews first.
		shuffle(r, batches)
	}
	return batches
}

// length is review i's token count after truncation.
func (b *Batcher) length(i int32) int {
	n := int(b.d.Offsets[i+1] - b.d.Offsets[i])
	if b.o.MaxLen > 0 {
		n = min(n, b.o.MaxLen)
	}
	return n
}

// Build pads the given reviews into one batch.
func (b *Batcher) Build(idx []int32) Batch {
	reviews := make([][]int32, len(idx))
	labels := make([]uint8, len(idx))
	for k, i := range idx {
		reviews[k] = b.d.Review(int(i))
		labels[k] = b.d.Labels[i]
	}
	return MakeBatch(reviews, labels, b.o.MaxLen)
}

// Epoch returns every batch of the given epoch, built. It holds the whole
// epoch's padded tokens at once; a training loop over a large dataset can
// use Order and Build to build batches as it goes instead.
func (b *Batcher) Epoch(epoch int) []Batch {
	order := b.Order(epoch)
	out := make([]Batch, len(order))
	for i, idx := range order {
		out[i] = b.Build(idx)
	}
	return out
}

// newRNG returns a generator whose stream is fixed by (seed, stream). PCG is
// specified exactly, so orders do not change between Go releases.
func newRNG(seed, stream uint64) *rand.PCG {
	return rand.NewPCG(seed, stream^0x9e3779b97f4a7c15)
}

// uniform returns a uniform integer in [0, n) by Lemire's multiply-shift
// method; the rejection loop removes its bias.
func uniform(r *rand.PCG, n uint64) uint64 {
	for {
		hi, lo := bits.Mul64(r.Uint64(), n)
		if lo >= n || lo >= -n%n {
			return hi
		}
	}
}

// shuffle is a Fisher-Yates shuffle driven by r.
func shuffle[T any](r *rand.PCG, s []T) {
	for i := len(s) - 1; i > 0; i-- {
		j := uniform(r, uint64(i+1))
		s[i], s[j] = s[j], s[i]
	}
}
