package model

import (
	"slices"
	"testing"
)

// TestNgramFeatures pins the features and their hash: model files' weights
// depend on it, and a GPU kernel must reproduce these exact rows.
func TestNgramFeatures(t *testing.T) {
	ids := []int32{5, 7, 9, 5, 7}
	tests := []struct {
		name string
		c    Config
		ids  []int32
		want []int32
	}{
		{"off", Config{VocabSize: 100}, ids, []int32{}},
		{"unigrams", Config{VocabSize: 100, Ngrams: 1}, ids, []int32{5, 7, 9, 5, 7}},
		// The repeated bigram (5, 7) lands in the same bucket twice.
		{"bigrams", Config{VocabSize: 100, Ngrams: 2, Buckets: 1000}, ids, []int32{5, 7, 9, 5, 7, 296, 104, 294, 296}},
		{"trigrams", Config{VocabSize: 100, Ngrams: 3, Buckets: 1000}, ids, []int32{5, 7, 9, 5, 7, 296, 104, 294, 296, 733, 805, 105}},
		{"one token has no bigram", Config{VocabSize: 100, Ngrams: 3, Buckets: 1000}, []int32{5}, []int32{5}},
		{"one bucket", Config{VocabSize: 100, Ngrams: 2, Buckets: 1}, []int32{5, 7, 9}, []int32{5, 7, 9, 100, 100}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := NgramFeatures(tc.ids, tc.c, []int32{42, 42}) // dst's old contents are dropped
			if !slices.Equal(got, tc.want) {
				t.Errorf("features %v, want %v", got, tc.want)
			}
		})
	}
}

// TestNgramHashOrderAndLength checks that the hash sees the order of the
// ids and the n-gram's length, which a sum or a plain xor would not.
func TestNgramHashOrderAndLength(t *testing.T) {
	pairs := [][2][]int32{
		{{5, 7}, {7, 5}},
		{{0, 5, 7}, {5, 7}},
		{{1, 2, 3}, {3, 2, 1}},
	}
	for _, p := range pairs {
		if ngramHash(p[0]) == ngramHash(p[1]) {
			t.Errorf("hash of %v equals hash of %v", p[0], p[1])
		}
	}
}

// TestWideWeight checks the normalisation the forward and backward passes
// share, and that an empty row adds nothing.
func TestWideWeight(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want float64
	}{{0, 0}, {1, WideScale}, {4, WideScale / 2.0}, {100, WideScale / 10.0}} {
		if got := WideWeight(tc.n); got != tc.want {
			t.Errorf("WideWeight(%d) = %g, want %g", tc.n, got, tc.want)
		}
	}
}

// TestLayoutWideLast checks that the wide table is the layout's last view,
// one value per vocabulary word and bucket, and that everything before it
// sits where it does in the same model without the path.
func TestLayoutWideLast(t *testing.T) {
	base := Config{VocabSize: 7, EmbedDim: 3, Hidden: 4, Layers: 2, Bidirectional: true}
	for _, tc := range []struct {
		ngrams, buckets, rows int
	}{{0, 0, 0}, {1, 0, 7}, {2, 5, 12}, {3, 5, 12}} {
		c := base
		c.Ngrams, c.Buckets = tc.ngrams, tc.buckets
		lay, plain := NewLayout(c), NewLayout(base)
		if lay.Size() != plain.Size()+tc.rows {
			t.Errorf("ngrams %d: %d parameters, want %d + %d", tc.ngrams, lay.Size(), plain.Size(), tc.rows)
		}
		if !slices.EqualFunc(lay.Views()[:len(plain.Views())], plain.Views(), func(a, b View) bool { return a.Name == b.Name && a.Offset == b.Offset }) {
			t.Errorf("ngrams %d: the views before the wide table moved", tc.ngrams)
		}
		if wide := lay.Wide(make([]float32, lay.Size())); len(wide) != tc.rows {
			t.Errorf("ngrams %d: wide table of %d rows, want %d", tc.ngrams, len(wide), tc.rows)
		}
	}
}
