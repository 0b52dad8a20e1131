package wordvec

import (
	"context"
	"math/rand/v2"
	"testing"
)

// zipfCorpus is n tokens over a vocabulary of size ids drawn by Zipf's
// law, as words occur in reviews, in documents of 100.
func zipfCorpus(n, size int) Corpus {
	rng := rand.New(rand.NewPCG(1, 2))
	z := rand.NewZipf(rng, 1.1, 1, uint64(size-3))
	c := Corpus{Tokens: make([]int32, n), Offsets: []int64{0}, Counts: make([]int64, size)}
	for i := range c.Tokens {
		id := int32(2 + z.Uint64())
		c.Tokens[i] = id
		c.Counts[id]++
		if (i+1)%100 == 0 || i == n-1 {
			c.Offsets = append(c.Offsets, int64(i+1))
		}
	}
	return c
}

// BenchmarkLearn is one pass of cbow at the default embedding's 512
// values over a Zipfian corpus of a 20,000-word vocabulary, in tokens
// read per second.
func BenchmarkLearn(b *testing.B) {
	c := zipfCorpus(300_000, 20_000)
	cfg := DefaultLearnConfig(512, 1, 1)
	b.ResetTimer()
	for range b.N {
		if _, err := Learn(context.Background(), c, cfg, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(c.Tokens))*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
}
