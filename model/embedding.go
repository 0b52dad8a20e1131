package model

import (
	"fmt"

	"trainer/data"
)

// EmbeddingForward gathers the embedding rows of b's real tokens into x,
// packed as p describes: x is [p.N(), dim], packed row Offsets[s]+k holding
// the vector of token s of batch row Perm[k]. embed is [vocab, dim]. It
// panics on a token id outside the vocabulary.
func EmbeddingForward(embed []float32, dim int, p *Packing, b data.Batch, x []float32) {
	vocab := len(embed) / dim
	for s, n := range p.Sizes {
		o := p.Offsets[s]
		for k := 0; k < n; k++ {
			id := int(b.Tokens[p.Perm[k]*b.MaxLen+s])
			if id < 0 || id >= vocab {
				panic(fmt.Sprintf("model: token id %d (batch row %d, position %d) outside the vocabulary of %d", id, p.Perm[k], s, vocab))
			}
			copy(x[(o+k)*dim:(o+k+1)*dim], embed[id*dim:(id+1)*dim])
		}
	}
}

// EmbeddingBackward adds each packed row of dx ([p.N(), dim], the gradient
// of the loss with respect to EmbeddingForward's x) to the gradient row of
// its token in dEmbed ([vocab, dim]): a scatter-add. Padding has no row in
// dx, so the pad embedding never receives gradient.
func EmbeddingBackward(dEmbed []float32, dim int, p *Packing, b data.Batch, dx []float32) {
	for s, n := range p.Sizes {
		o := p.Offsets[s]
		for k := 0; k < n; k++ {
			id := int(b.Tokens[p.Perm[k]*b.MaxLen+s])
			dst := dEmbed[id*dim : (id+1)*dim]
			src := dx[(o+k)*dim : (o+k+1)*dim]
			for i := range dst {
				dst[i] += src[i]
			}
		}
	}
}
