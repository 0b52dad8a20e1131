package data

// Label values used everywhere after reading: 0 is negative, 1 is positive.
const (
	Negative uint8 = 0
	Positive uint8 = 1
)

// Reserved vocabulary ids: every vocabulary starts with these two.
const (
	PadID int32 = 0
	UnkID int32 = 1
)

// Dataset is an encoded corpus: the token ids of every review laid end to
// end, with offsets so that review i is Tokens[Offsets[i]:Offsets[i+1]].
// It is what the cache stores and what the batcher reads; the slices may be
// backed by a memory-mapped file and must then be treated as read-only.
type Dataset struct {
	Tokens  []int32
	Offsets []int64 // len(Offsets) == Len()+1, Offsets[0] == 0
	Labels  []uint8 // one of Negative, Positive per review
}

// Len is the number of reviews.
func (d *Dataset) Len() int { return len(d.Labels) }

// Review returns the token ids of review i.
func (d *Dataset) Review(i int) []int32 { return d.Tokens[d.Offsets[i]:d.Offsets[i+1]] }

// Batch is a padded, row-major block of reviews ready for a model replica.
// Row r holds Lengths[r] real tokens followed by PadID up to MaxLen.
// Lengths are at least 1: empty reviews never reach a batch.
type Batch struct {
	Tokens  []int32   // Size*MaxLen ids, row-major
	Lengths []int32   // real tokens per row
	Labels  []float32 // 0 or 1 per row
	Size    int       // rows
	MaxLen  int       // columns
}

// RealTokens is the number of non-padding tokens in the batch.
func (b Batch) RealTokens() int {
	n := 0
	for _, l := range b.Lengths {
		n += int(l)
	}
	return n
}

// Row returns the real (unpadded) token ids of row r.
func (b Batch) Row(r int) []int32 {
	return b.Tokens[r*b.MaxLen : r*b.MaxLen+int(b.Lengths[r])]
}

// Shard returns replica i's part of an even split of the batch over n
// replicas: contiguous rows, sizes differing by at most one, earlier shards
// taking the remainder. The shard shares memory with b. A shard may be empty
// when n > b.Size.
func (b Batch) Shard(i, n int) Batch {
	lo, hi := ShardRange(b.Size, i, n)
	return b.Rows(lo, hi)
}

// Rows returns rows [lo, hi) of the batch, sharing memory with b.
func (b Batch) Rows(lo, hi int) Batch {
	return Batch{
		Tokens:  b.Tokens[lo*b.MaxLen : hi*b.MaxLen],
		Lengths: b.Lengths[lo:hi],
		Labels:  b.Labels[lo:hi],
		Size:    hi - lo,
		MaxLen:  b.MaxLen,
	}
}

// ShardRange is the half-open range of items [lo, hi) that part i of n gets
// when total items are split as evenly as possible.
func ShardRange(total, i, n int) (lo, hi int) {
	base, rem := total/n, total%n
	lo = i*base + min(i, rem)
	hi = lo + base
	if i < rem {
		hi++
	}
	return lo, hi
}

// MakeBatch pads the given reviews (token ids, truncated to maxLen when
// maxLen > 0) into a Batch. Reviews with no tokens are the caller's error:
// they must have been dropped and counted before batching.
func MakeBatch(reviews [][]int32, labels []uint8, maxLen int) Batch {
	width := 0
	for _, r := range reviews {
		n := len(r)
		if maxLen > 0 && n > maxLen {
			n = maxLen
		}
		width = max(width, n)
	}
	b := Batch{
		Tokens:  make([]int32, len(reviews)*width),
		Lengths: make([]int32, len(reviews)),
		Labels:  make([]float32, len(reviews)),
		Size:    len(reviews),
		MaxLen:  width,
	}
	for i, r := range reviews {
		n := min(len(r), width)
		copy(b.Tokens[i*width:i*width+n], r[:n])
		b.Lengths[i] = int32(n)
		b.Labels[i] = float32(labels[i])
	}
	return b
}
