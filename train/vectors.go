package train

import (
	"context"
	"fmt"
	"math/rand/v2"

	"trainer/data"
	"trainer/internal/wordvec"
	"trainer/model"
)

// Vectors are pretrained word vectors for a run's vocabulary, in id order,
// with how much of the vocabulary and of the training text they cover.
type Vectors struct {
	*wordvec.Table
	Coverage Coverage
	Learned  *Learned // what LearnVectors read; nil for a file's vectors
}

// Coverage is the share of a run the pretrained vectors reach: of the
// vocabulary's words, and of the training tokens, where the frequent words
// weigh as often as they occur (a file missing a thousand rare words
// matters less than one missing "not").
type Coverage struct {
	Words, VocabWords   int   // words with a vector, of the vocabulary less padding and unknown
	Tokens, TrainTokens int64 // training tokens of those words, of all (unknown ones included)
}

// LoadVectors reads the vectors of d's vocabulary from path; their
// dimension must be dim. fold lets a word take a case variant's vector when
// the file lacks its own spelling: for vocabularies of lowercased text.
// Padding and the unknown word get none: padding stays as initialised, and
// the unknown word stands for the vocabulary's rare words, not for a file's
// "<unk>".
func LoadVectors(path string, d *Data, dim int, fold bool) (*Vectors, error) {
	words := append([]string(nil), d.Vocab.Words()...)
	words[data.PadID], words[data.UnkID] = "", ""
	t, err := wordvec.Read(path, words, wordvec.Options{Fold: fold, Dim: dim})
	if err != nil {
		return nil, err
	}
	v := &Vectors{Table: t, Coverage: Coverage{Words: t.Matched(), VocabWords: len(words) - 2}}
	for _, id := range d.Train.Tokens {
		if t.Found[id] {
			v.Coverage.Tokens++
		}
	}
	v.Coverage.TrainTokens = int64(len(d.Train.Tokens))
	return v, nil
}

// initEmbedding writes the vectors v found over their rows of the
// embedding in params; the other rows keep their random initialisation.
func initEmbedding(c model.Config, params []float32, v *Vectors) error {
	if v.Dim != c.EmbedDim || len(v.Found) != c.VocabSize {
		return fmt.Errorf("pretrained vectors: %d words of %d values for an embedding of %d x %d", len(v.Found), v.Dim, c.VocabSize, c.EmbedDim)
	}
	emb := model.NewLayout(c).View("embed").Slice(params)
	for id, ok := range v.Found {
		if ok && id != int(data.PadID) {
			copy(emb[id*v.Dim:(id+1)*v.Dim], v.Row(id))
		}
	}
	return nil
}

// LearnBudget is the most tokens LearnVectors reads over all its passes.
// One pass over the 2.8 million tokens of the Amazon search set takes a few
// seconds on one core; on larger sets fewer passes (down to one), then a
// seeded sample of the reviews, keep the learning under a minute however
// large the set.
const LearnBudget = 32_000_000

// Learned says what LearnVectors read: passes over a number of reviews and
// their tokens.
type Learned struct {
	Passes          int
	Reviews, Tokens int64
}

// LearnVectors learns vectors of dim values for d's vocabulary from its
// training reviews alone (wordvec.Learn's cbow, up to passes passes within
// LearnBudget, seeded by seed): the unlabelled half of what pretrained
// vectors give, with no file to fetch. The dev and test reviews are never
// read. Every word that occurs in the reviews read gets a vector; padding
// and the unknown word keep their random start.
func LearnVectors(ctx context.Context, d *Data, dim, passes int, seed uint64, progress func(done, total int64)) (*Vectors, error) {
	return learnVectors(ctx, d, dim, passes, seed, LearnBudget, progress)
}

// learnVectors is LearnVectors within budget tokens.
func learnVectors(ctx context.Context, d *Data, dim, passes int, seed uint64, budget int64, progress func(done, total int64)) (*Vectors, error) {
	tokens, offsets := d.Train.Tokens, d.Train.Offsets
	if int64(len(tokens)) > budget {
		tokens, offsets = sampleReviews(d.Train, budget, seed)
	}
	passes = int(max(1, min(int64(passes), budget/max(int64(len(tokens)), 1))))
	counts := make([]int64, d.Vocab.Size())
	for _, id := range tokens {
		counts[id]++
	}
	counts[data.PadID], counts[data.UnkID] = 0, 0
	corpus := wordvec.Corpus{Tokens: tokens, Offsets: offsets, Counts: counts}
	t, err := wordvec.Learn(ctx, corpus, wordvec.DefaultLearnConfig(dim, passes, seed), progress)
	if err != nil {
		return nil, err
	}
	v := &Vectors{Table: t, Coverage: Coverage{VocabWords: len(counts) - 2, TrainTokens: int64(len(d.Train.Tokens))},
		Learned: &Learned{Passes: passes, Reviews: int64(len(offsets) - 1), Tokens: int64(len(tokens))}}
	for _, id := range d.Train.Tokens {
		if t.Found[id] {
			v.Coverage.Tokens++
		}
	}
	v.Coverage.Words = t.Matched()
	return v, nil
}

// sampleReviews copies reviews of ds, in a seeded random order, until they
// hold at least budget tokens.
func sampleReviews(ds *data.Dataset, budget int64, seed uint64) ([]int32, []int64) {
	rng := rand.New(rand.NewPCG(seed, 0x73616d706c65)) // "sample"
	tokens := make([]int32, 0, budget+int64(ds.Len()))
	offsets := []int64{0}
	for _, i := range rng.Perm(ds.Len()) {
		if int64(len(tokens)) >= budget {
			break
		}
		tokens = append(tokens, ds.Review(i)...)
		offsets = append(offsets, int64(len(tokens)))
	}
	return tokens, offsets
}
