package train

import (
	"fmt"

	"trainer/data"
	"trainer/internal/vecmath"
	"trainer/model"
)

// RowSparsity marks the block of the flat parameter buffer that is a table
// of rows looked up by token id: the embedding. A batch's gradient is zero
// on every row whose token the batch does not contain, and a batch of 128
// Amazon reviews holds about 2,200 of 20,000 vocabulary words, so the
// engine, the hybrid scheduler and the MPI replica clear, sum and exchange
// only the part of a gradient buffer that the batch can touch. The zero
// value marks nothing: every buffer is then handled whole.
type RowSparsity struct {
	Offset, Rows, Dim int
}

// EmbeddingRows is the row sparsity of c's embedding table.
func EmbeddingRows(c model.Config) RowSparsity {
	return RowSparsity{Offset: model.NewLayout(c).View("embed").Offset, Rows: c.VocabSize, Dim: c.EmbedDim}
}

// check reports a block that does not fit a buffer of n parameters.
func (sp RowSparsity) check(n int) error {
	if sp.Dim == 0 {
		return nil
	}
	if sp.Offset < 0 || sp.Rows < 1 || sp.Dim < 1 || sp.Offset+sp.Rows*sp.Dim > n {
		return fmt.Errorf("row block at %d of %d x %d does not fit %d parameters", sp.Offset, sp.Rows, sp.Dim, n)
	}
	return nil
}

// span is the half-open range [lo, hi) of a flat buffer.
type span struct{ lo, hi int }

// Support is the part of a flat gradient buffer that one batch can make
// nonzero, as sorted, disjoint ranges: everything outside the row block,
// and the rows of the batch's real tokens inside it. Adjacent rows merge
// into one range, so the frequent words (the low ids) are a few long
// ranges. A Support reuses its memory from one Set to the next.
type Support struct {
	spans []span
	size  int
	seen  []bool // scratch: row marks while building
}

// Set makes s the support of batch b in a buffer of n parameters. It
// panics on a token id outside the row block, which the encoder never
// produces.
func (s *Support) Set(sp RowSparsity, b data.Batch, n int) {
	s.spans, s.size = s.spans[:0], 0
	if sp.Dim == 0 {
		s.add(0, n)
		return
	}
	if len(s.seen) < sp.Rows {
		s.seen = make([]bool, sp.Rows)
	}
	seen := s.seen[:sp.Rows]
	for r := 0; r < b.Size; r++ {
		for _, id := range b.Row(r) {
			if id < 0 || int(id) >= sp.Rows {
				panic(fmt.Sprintf("train: token id %d (batch row %d) outside the %d rows of the table", id, r, sp.Rows))
			}
			seen[id] = true
		}
	}
	s.add(0, sp.Offset)
	for id := 0; id < sp.Rows; id++ {
		if !seen[id] {
			continue
		}
		seen[id] = false
		lo := sp.Offset + id*sp.Dim
		s.add(lo, lo+sp.Dim)
	}
	s.add(sp.Offset+sp.Rows*sp.Dim, n)
}

// add appends [lo, hi), merging it with the last range when they touch.
func (s *Support) add(lo, hi int) {
	if hi <= lo {
		return
	}
	s.size += hi - lo
	if k := len(s.spans); k > 0 && s.spans[k-1].hi == lo {
		s.spans[k-1].hi = hi
		return
	}
	s.spans = append(s.spans, span{lo, hi})
}

// Len is the number of elements the support covers.
func (s *Support) Len() int { return s.size }

// part appends to dst worker i of w's share of the support: contiguous in
// the support's order, about Len/w elements, cut at multiples of
// reduceAlign elements so that no two workers write one cache line.
func (s *Support) part(i, w int, dst []span) []span {
	blocks := (s.size + reduceAlign - 1) / reduceAlign
	blo, bhi := data.ShardRange(blocks, i, w)
	from, to := blo*reduceAlign, min(bhi*reduceAlign, s.size)
	// Walk the ranges, counting covered elements, and keep [from, to).
	at := 0
	for _, r := range s.spans {
		n := r.hi - r.lo
		if at+n <= from {
			at += n
			continue
		}
		if at >= to {
			break
		}
		lo := r.lo + max(0, from-at)
		hi := r.lo + min(n, to-at)
		dst = append(dst, span{lo, hi})
		at += n
	}
	return dst
}

// Clear zeroes buf over the support.
func (s *Support) Clear(buf []float32) {
	for _, r := range s.spans {
		clear(buf[r.lo:r.hi])
	}
}

// Add adds src into dst over the support.
func (s *Support) Add(dst, src []float32) {
	for _, r := range s.spans {
		vecmath.Add(dst[r.lo:r.hi], src[r.lo:r.hi])
	}
}

// Gather copies buf's values over the support, in order, into a packed
// buffer of Len elements (grown as needed) and returns it.
func (s *Support) Gather(packed, buf []float32) []float32 {
	if cap(packed) < s.size {
		packed = make([]float32, s.size)
	}
	packed = packed[:s.size]
	at := 0
	for _, r := range s.spans {
		at += copy(packed[at:], buf[r.lo:r.hi])
	}
	return packed
}

// ScatterAdd adds a packed buffer made by Gather back into buf.
func (s *Support) ScatterAdd(buf, packed []float32) {
	at := 0
	for _, r := range s.spans {
		n := r.hi - r.lo
		vecmath.Add(buf[r.lo:r.hi], packed[at:at+n])
		at += n
	}
}

// StepSupports keeps the gradient supports of this step and the previous
// one for gradient buffers reused from step to step (the engine's, the
// hybrid scheduler's, an MPI rank's): a buffer written in the previous step
// is nonzero only inside the previous support, so clearing that zeroes it
// whole, and summing over this step's support covers everything the step
// writes. Each step is: Next, clear with prev, compute, sum over cur.
type StepSupports struct {
	sets [2]Support
	flip int
}

// Next makes the support of batch b in buffers of n parameters the
// current one and returns it with the previous step's.
func (s *StepSupports) Next(sp RowSparsity, b data.Batch, n int) (cur, prev *Support) {
	prev = &s.sets[s.flip]
	s.flip = 1 - s.flip
	cur = &s.sets[s.flip]
	cur.Set(sp, b, n)
	return cur, prev
}
