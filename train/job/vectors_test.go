package job

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"trainer/data"
	"trainer/train"
)

// lines is a Log that keeps what it is told.
type lines []string

func (l *lines) Infof(f string, a ...any) { *l = append(*l, fmt.Sprintf(f, a...)) }
func (l *lines) Warnf(f string, a ...any) { *l = append(*l, fmt.Sprintf(f, a...)) }

// tinyData is a training set of a few reviews over a vocabulary of six
// words; shift changes which words they hold.
func tinyData(t *testing.T, shift int) *train.Data {
	t.Helper()
	v, err := data.NewVocabFromWords([]string{data.PadWord, data.UnkWord, "good", "bad", "fine", "poor"})
	if err != nil {
		t.Fatal(err)
	}
	ds := &data.Dataset{Offsets: []int64{0}}
	for i := range 40 {
		ds.Tokens = append(ds.Tokens, int32(2+(i+shift)%4), int32(2+(i+1)%4), 1, int32(2+(i+3)%4))
		ds.Offsets = append(ds.Offsets, int64(len(ds.Tokens)))
		ds.Labels = append(ds.Labels, uint8(i%2))
	}
	return &train.Data{Vocab: v, Train: ds}
}

// TestVectorCache checks that runs sharing a cache learn a set of vectors
// once per data, size and seed, and learn again for another of them; the
// same data read again count as the same.
func TestVectorCache(t *testing.T) {
	td, again, other := tinyData(t, 0), tinyData(t, 0), tinyData(t, 1)
	var cache VectorCache
	learn := func(td *train.Data, dim int, seed uint64) (*train.Vectors, bool) {
		o := &Options{Seed: seed, Vectors: Vectors{Learn: 2, Cache: &cache}}
		o.Model.EmbedDim = dim
		var log lines
		v, err := o.learnVectors(context.Background(), td, Reporter{Log: &log})
		if err != nil {
			t.Fatal(err)
		}
		return v, strings.Contains(strings.Join(log, "\n"), "those of an earlier run")
	}
	first, _ := learn(td, 8, 1)
	cases := []struct {
		name   string
		td     *train.Data
		dim    int
		seed   uint64
		reused bool
	}{
		{"same", td, 8, 1, true},
		{"other size", td, 16, 1, false},
		{"other seed", td, 8, 2, false},
		{"other data", other, 8, 1, false},
		{"the same data read again", again, 8, 1, true},
		{"the first data, after the others", td, 8, 1, true},
	}
	for _, c := range cases {
		v, reused := learn(c.td, c.dim, c.seed)
		if reused != c.reused || (v == first) != c.reused {
			t.Errorf("%s: reused %v (logged), %v (the first vectors); want %v", c.name, reused, v == first, c.reused)
		}
	}
}

// TestVectorCacheBound checks that the cache never holds more than
// maxCachedVectors sets.
func TestVectorCacheBound(t *testing.T) {
	td := tinyData(t, 0)
	var cache VectorCache
	for dim := 1; dim <= 2*maxCachedVectors+1; dim++ {
		o := &Options{Seed: 1, Vectors: Vectors{Learn: 1, Cache: &cache}}
		o.Model.EmbedDim = dim
		var log lines
		if _, err := o.learnVectors(context.Background(), td, Reporter{Log: &log}); err != nil {
			t.Fatal(err)
		}
		if n := len(cache.vecs); n > maxCachedVectors || n == 0 {
			t.Fatalf("after %d sets the cache holds %d, want 1 to %d", dim, n, maxCachedVectors)
		}
	}
}
