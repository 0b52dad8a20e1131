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
// words.
func tinyData(t *testing.T) *train.Data {
	t.Helper()
	v, err := data.NewVocabFromWords([]string{data.PadWord, data.UnkWord, "good", "bad", "fine", "poor"})
	if err != nil {
		t.Fatal(err)
	}
	ds := &data.Dataset{Offsets: []int64{0}}
	for i := range 40 {
		ds.Tokens = append(ds.Tokens, int32(2+i%4), int32(2+(i+1)%4), 1, int32(2+(i+3)%4))
		ds.Offsets = append(ds.Offsets, int64(len(ds.Tokens)))
		ds.Labels = append(ds.Labels, uint8(i%2))
	}
	return &train.Data{Vocab: v, Train: ds}
}

// TestVectorCache checks that runs sharing a cache learn a set of vectors
// once per data, size and seed, and learn again for another of them.
func TestVectorCache(t *testing.T) {
	td, other := tinyData(t), tinyData(t)
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
		{"first data again, after the other", td, 8, 1, false},
	}
	for _, c := range cases {
		v, reused := learn(c.td, c.dim, c.seed)
		if reused != c.reused || (v == first) != (c.name == "same") {
			t.Errorf("%s: reused %v (logged) %v (same vectors), want %v", c.name, reused, v == first, c.reused)
		}
	}
}
