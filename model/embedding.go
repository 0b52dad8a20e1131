package model

import (
	"fmt"

	"trainer/data"
	"trainer/internal/vecmath"
)

// TokenRows is the first LSTM layer's input in compact form: each distinct
// token of a packed batch once. A batch of 128 Amazon reviews has about
// 10,000 real tokens but only about 2,200 distinct ones, so the layer's
// input projection and its gradients (LSTMForwardRows, LSTMBackwardRows)
// work on the distinct rows, and the embedding gradient is a scatter-add
// of those rows only.
type TokenRows struct {
	IDs []int32 // distinct token ids, in the order they first occur in packed order
	// Rows[j] is the index in IDs of packed row j's token; RevRows is the
	// same for the reverse direction's packed order (see Packing.Rev),
	// built when the packing has Rev.
	Rows, RevRows []int32
	slot          []int32 // [vocab] scratch: 1 + index in IDs while building, 0 otherwise
}

// Build fills t for batch b packed as p. It panics on a token id outside
// [0, vocab), which the encoder never produces.
func (t *TokenRows) Build(p *Packing, b data.Batch, vocab int) {
	if len(t.slot) < vocab {
		t.slot = make([]int32, vocab)
	}
	t.IDs = t.IDs[:0]
	t.Rows = grow(t.Rows, p.N())
	for s, n := range p.Sizes {
		o := p.Offsets[s]
		for k := 0; k < n; k++ {
			id := b.Tokens[p.Perm[k]*b.MaxLen+s]
			if id < 0 || int(id) >= vocab {
				panic(fmt.Sprintf("model: token id %d (batch row %d, position %d) outside the vocabulary of %d", id, p.Perm[k], s, vocab))
			}
			if t.slot[id] == 0 {
				t.IDs = append(t.IDs, id)
				t.slot[id] = int32(len(t.IDs))
			}
			t.Rows[o+k] = t.slot[id] - 1
		}
	}
	for _, id := range t.IDs {
		t.slot[id] = 0
	}
	t.RevRows = t.RevRows[:0]
	if len(p.Rev) > 0 {
		t.RevRows = grow(t.RevRows, p.N())
		for j, jr := range p.Rev {
			t.RevRows[j] = t.Rows[jr]
		}
	}
}

// Gather sets x ([len(IDs), dim]) to the embedding rows of t's tokens;
// embed is [vocab, dim].
func (t *TokenRows) Gather(embed []float32, dim int, x []float32) {
	for u, id := range t.IDs {
		copy(x[u*dim:(u+1)*dim], embed[int(id)*dim:(int(id)+1)*dim])
	}
}

// ScatterAdd adds row u of dx ([len(IDs), dim], the gradient with respect
// to Gather's x) to the gradient row of token IDs[u] in dEmbed ([vocab,
// dim]). Padding is never a token of a packed batch, so the pad embedding
// never receives gradient.
func (t *TokenRows) ScatterAdd(dEmbed []float32, dim int, dx []float32) {
	for u, id := range t.IDs {
		vecmath.Add(dEmbed[int(id)*dim:(int(id)+1)*dim], dx[u*dim:(u+1)*dim])
	}
}
