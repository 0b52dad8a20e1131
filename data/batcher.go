package data

import (
	"math"
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
	// WordDropout is the probability, in [0, 1), that a real token of a
	// training batch is replaced by UnkID (word dropout; see Build). 0
	// leaves batches as the data are.
	WordDropout float64
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

// Build pads the given reviews of the given epoch into one batch.
//
// With WordDropout, each real token is replaced by UnkID with that
// probability, a regulariser that makes the model lean on no single word.
// Whether a token drops is a pure function of (Seed, epoch, review index,
// position): a counter-based draw, not a stream, so it does not depend on
// how the batch is cut into shards or which worker, GPU stream or MPI rank
// trains on the row, and every replica of a data-parallel run sees the
// same tokens that one replica would. A resumed run redraws the same
// masks for the same epoch.
func (b *Batcher) Build(epoch int, idx []int32) Batch {
	reviews := make([][]int32, len(idx))
	labels := make([]uint8, len(idx))
	for k, i := range idx {
		reviews[k] = b.d.Review(int(i))
		labels[k] = b.d.Labels[i]
	}
	batch := MakeBatch(reviews, labels, b.o.MaxLen)
	if b.o.WordDropout > 0 {
		threshold := dropThreshold(b.o.WordDropout)
		for k, i := range idx {
			DropWords(batch.Row(k), b.o.Seed, uint64(epoch), uint64(i), threshold)
		}
	}
	return batch
}

// dropThreshold turns a probability p in [0, 1) into the bound a 64-bit
// draw must fall below for a token to drop.
func dropThreshold(p float64) uint64 {
	if p <= 0 {
		return 0
	}
	// 2^64 * p, exact for p a multiple of 2^-53.
	return uint64(math.Ldexp(p, 64))
}

// DropWords replaces by UnkID each token of row whose draw
// wordDraw(seed, epoch, review, position) falls below threshold. Padding
// never reaches it: row holds the review's real tokens only.
func DropWords(row []int32, seed, epoch, review, threshold uint64) {
	for pos := range row {
		if wordDraw(seed, epoch, review, uint64(pos)) < threshold {
			row[pos] = UnkID
		}
	}
}

// wordDraw is a uniform 64-bit value fixed by its four counters: each is
// folded into the state and mixed by SplitMix64's finaliser (Steele, Lea
// & Flood 2014), whose output passes BigCrush from consecutive inputs. A
// GPU or another language can reproduce it with 64-bit multiplies, xors
// and shifts.
func wordDraw(seed, epoch, review, pos uint64) uint64 {
	h := mix64(seed ^ 0x6a09e667f3bcc909)
	h = mix64(h ^ epoch)
	h = mix64(h ^ review)
	return mix64(h ^ pos)
}

// mix64 is SplitMix64's step: add the golden-ratio increment, then the
// variant-13 finaliser.
func mix64(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// Epoch returns every batch of the given epoch, built. It holds the whole
// epoch's padded tokens at once; a training loop over a large dataset can
// use Order and Build to build batches as it goes instead.
func (b *Batcher) Epoch(epoch int) []Batch {
	order := b.Order(epoch)
	out := make([]Batch, len(order))
	for i, idx := range order {
		out[i] = b.Build(epoch, idx)
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
