package model

import (
	"fmt"
	"math/rand/v2"

	"trainer/data"
)

// randomBatch makes a batch of the given row lengths over vocabulary v
// (ids 2..v-1) with labels alternating from a random start. Padding
// positions hold padTok, so tests can check that padding is ignored
// whatever it contains.
func randomBatch(rng *rand.Rand, v int, lengths []int, maxLen int, padTok int32) data.Batch {
	b := data.Batch{
		Tokens:  make([]int32, len(lengths)*maxLen),
		Lengths: make([]int32, len(lengths)),
		Labels:  make([]float32, len(lengths)),
		Size:    len(lengths),
		MaxLen:  maxLen,
	}
	for r, l := range lengths {
		b.Lengths[r] = int32(l)
		b.Labels[r] = float32(rng.IntN(2))
		for s := 0; s < maxLen; s++ {
			if s < l {
				b.Tokens[r*maxLen+s] = int32(2 + rng.IntN(v-2))
			} else {
				b.Tokens[r*maxLen+s] = padTok
			}
		}
	}
	return b
}

// smallConfigs are the shapes the gradient checks run on.
func smallConfigs() []Config {
	var cs []Config
	for _, pool := range []string{PoolLast, PoolMean, PoolMax} {
		cs = append(cs,
			Config{VocabSize: 11, EmbedDim: 3, Hidden: 4, Layers: 1, Pool: pool},
			Config{VocabSize: 11, EmbedDim: 3, Hidden: 4, Layers: 2, Pool: pool},
			Config{VocabSize: 11, EmbedDim: 3, Hidden: 4, Layers: 1, Bidirectional: true, Pool: pool},
			Config{VocabSize: 11, EmbedDim: 3, Hidden: 4, Layers: 2, Bidirectional: true, Pool: pool},
		)
	}
	// Hidden 16 takes the vector cell kernels and the packed recurrent
	// products, which smaller shapes leave to scalar code and the BLAS.
	cs = append(cs,
		Config{VocabSize: 11, EmbedDim: 3, Hidden: 16, Layers: 1, Pool: PoolLast},
		Config{VocabSize: 11, EmbedDim: 3, Hidden: 16, Layers: 2, Bidirectional: true, Pool: PoolMean},
	)
	return cs
}

// ngramConfigs are small shapes with the wide n-gram path: every n from 1
// to 3, both directions and every pooling, and so few buckets that
// n-grams collide and one row's feature repeats.
func ngramConfigs() []Config {
	var cs []Config
	for i, pool := range []string{PoolLast, PoolMean, PoolMax} {
		for j, bi := range []bool{false, true} {
			n := 1 + (2*i+j)%MaxNgrams
			c := Config{VocabSize: 11, EmbedDim: 3, Hidden: 4, Layers: 1 + j, Bidirectional: bi, Pool: pool, Ngrams: n}
			if n > 1 {
				c.Buckets = 5
			}
			cs = append(cs, c)
		}
	}
	return cs
}

func configName(c Config) string {
	name := fmt.Sprintf("H%d-L1", c.Hidden)
	if c.Layers == 2 {
		name = fmt.Sprintf("H%d-L2", c.Hidden)
	}
	if c.Bidirectional {
		name += "-bi"
	}
	if c.Ngrams > 0 {
		name += fmt.Sprintf("-ngram%d", c.Ngrams)
	}
	return name + "-" + c.pool()
}

// initSmall initialises params and perturbs biases and the head so that no
// gradient is zero by construction.
func initSmall(c Config, seed uint64) []float32 {
	params := make([]float32, NewLayout(c).Size())
	InitParams(c, params, seed)
	rng := rand.New(rand.NewPCG(seed, 99))
	for i := range params {
		params[i] += float32(rng.NormFloat64() * 0.1)
	}
	// Keep the magnitudes modest so that float32 finite differences are sharp.
	emb := NewLayout(c).View("embed").Slice(params)
	for i := range emb {
		emb[i] *= 0.5
	}
	return params
}
