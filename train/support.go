package train

import (
	"fmt"
	"slices"

	"trainer/data"
	"trainer/internal/vecmath"
	"trainer/model"
)

// RowSparsity marks the blocks of the flat parameter buffer that are
// tables of rows looked up by the batch's tokens: the embedding and, with
// the n-gram path on, the wide table (see model.NgramFeatures). A batch's
// gradient is zero on every row it does not look up, and a batch of 128
// Amazon reviews holds about 2,200 of 20,000 vocabulary words and a few
// ten thousand of a million n-gram buckets, so the engine, the hybrid
// scheduler and the MPI replica clear, sum and exchange only the part of a
// gradient buffer that the batch can touch, and a lazy optimizer steps only
// that part. The zero value marks nothing: every buffer is then handled
// whole.
type RowSparsity struct {
	// The embedding: Rows rows of Dim values from Offset, row id for
	// token id.
	Offset, Rows, Dim int
	// The wide table of model Wide (none when Wide.Ngrams is 0):
	// Wide.WideRows() single values from WideOffset, after the
	// embedding, one per feature id. Wide.VocabSize must equal Rows.
	WideOffset int
	Wide       model.Config
}

// TableRows is the row sparsity of c's lookup tables: the embedding and,
// with n-grams, the wide table.
func TableRows(c model.Config) RowSparsity {
	lay := model.NewLayout(c)
	sp := RowSparsity{Offset: lay.View("embed").Offset, Rows: c.VocabSize, Dim: c.EmbedDim}
	if c.Ngrams > 0 {
		sp.WideOffset, sp.Wide = lay.View("wide").Offset, c
	}
	return sp
}

// check reports a block that does not fit a buffer of n parameters.
func (sp RowSparsity) check(n int) error {
	if sp.Dim == 0 {
		return nil
	}
	end := sp.Offset + sp.Rows*sp.Dim
	if sp.Offset < 0 || sp.Rows < 1 || sp.Dim < 1 || end > n {
		return fmt.Errorf("row block at %d of %d x %d does not fit %d parameters", sp.Offset, sp.Rows, sp.Dim, n)
	}
	if w := sp.Wide.WideRows(); w > 0 && (sp.Wide.VocabSize != sp.Rows || sp.WideOffset < end || sp.WideOffset+w > n) {
		return fmt.Errorf("wide block at %d of %d rows (vocabulary %d) does not fit after the %d-row table ending at %d in %d parameters",
			sp.WideOffset, w, sp.Wide.VocabSize, sp.Rows, end, n)
	}
	return nil
}

// span is the half-open range [lo, hi) of a flat buffer.
type span struct{ lo, hi int }

// Support is the part of a flat gradient buffer that one batch can make
// nonzero, as sorted, disjoint ranges: everything outside the row blocks,
// the rows of the batch's real tokens inside the embedding, and the rows
// of their n-gram features inside the wide table. Adjacent rows merge
// into one range, so the frequent words (the low ids) are a few long
// ranges. A Support reuses its memory from one Set to the next.
type Support struct {
	spans []span
	size  int
	seen  []bool // scratch: row marks while building
	// scratch for the wide table: its row marks, the rows marked, one
	// review's features
	wideSeen    []bool
	wide, feats []int32
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
	end := sp.Offset + sp.Rows*sp.Dim
	if w := sp.Wide.WideRows(); w > 0 {
		s.add(end, sp.WideOffset)
		s.addWide(sp, b)
		end = sp.WideOffset + w
	}
	s.add(end, n)
}

// addWide adds the wide table's rows of b's features, in order. They are
// few of the table's rows, so they are listed and sorted rather than found
// by a pass over every row as the embedding's are.
func (s *Support) addWide(sp RowSparsity, b data.Batch) {
	rows := sp.Wide.WideRows()
	if len(s.wideSeen) < rows {
		s.wideSeen = make([]bool, rows)
	}
	seen := s.wideSeen[:rows]
	s.wide = s.wide[:0]
	for r := 0; r < b.Size; r++ {
		s.feats = model.NgramFeatures(b.Row(r), sp.Wide, s.feats)
		for _, f := range s.feats {
			if !seen[f] {
				seen[f] = true
				s.wide = append(s.wide, f)
			}
		}
	}
	slices.Sort(s.wide)
	for _, f := range s.wide {
		seen[f] = false
		lo := sp.WideOffset + int(f)
		s.add(lo, lo+1)
	}
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
