package train

import (
	"fmt"

	"trainer/data"
	"trainer/internal/wordvec"
	"trainer/model"
)

// Vectors are pretrained word vectors for a run's vocabulary, in id order,
// with how much of the vocabulary and of the training text they cover.
type Vectors struct {
	*wordvec.Table
	Coverage Coverage
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
