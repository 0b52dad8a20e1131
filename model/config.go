package model

import (
	"errors"
	"fmt"

	"trainer/data"
)

// Pooling modes: how the top layer's outputs over time become one vector.
const (
	// PoolLast takes each direction's final hidden state: the forward
	// direction at the row's last real token, the reverse direction at its
	// first token (PyTorch's h_n).
	PoolLast = "last"
	// PoolMean averages the outputs over the row's real tokens.
	PoolMean = "mean"
	// PoolMax takes the element-wise maximum over the row's real tokens.
	PoolMax = "max"
)

// Config is the shape of the network.
type Config struct {
	VocabSize     int    `json:"vocab_size"` // ids 0 (pad) and 1 (unk) included
	EmbedDim      int    `json:"embed_dim"`
	Hidden        int    `json:"hidden"`
	Layers        int    `json:"layers"`
	Bidirectional bool   `json:"bidirectional"`
	Pool          string `json:"pool"` // PoolLast (also when empty), PoolMean or PoolMax
	// Ngrams turns on the wide n-gram path (see NgramFeatures): 0 off, 1
	// unigrams, 2 also bigrams, 3 also trigrams. Buckets is the number of
	// hashed rows the n-grams of two or more words share (0 when Ngrams <
	// 2). Both are left out of the JSON when off, so that a model without
	// the path reads and hashes as it did before the path existed.
	Ngrams  int `json:"ngrams,omitempty"`
	Buckets int `json:"buckets,omitempty"`
}

// MaxNgrams is the longest n-gram the wide path takes.
const MaxNgrams = 3

// WideRows is the number of rows of the wide path's table: one per
// vocabulary word and one per bucket, or 0 when the path is off.
func (c Config) WideRows() int {
	if c.Ngrams < 1 {
		return 0
	}
	return c.VocabSize + c.Buckets
}

// ReferenceConfig is the PyTorch reference's model: E=128, H=256, one
// unidirectional layer with last-state pooling. The speed benchmarks use
// it, so that trainer and PyTorch compare like for like; the command
// line's defaults are chosen by accuracy and serving cost instead. Every
// size is a multiple of 16, which the packed recurrent kernels need.
func ReferenceConfig(vocabSize int) Config {
	return Config{VocabSize: vocabSize, EmbedDim: 128, Hidden: 256, Layers: 1, Pool: PoolLast}
}

// Dirs is the number of directions per layer: 1, or 2 when bidirectional.
func (c Config) Dirs() int {
	if c.Bidirectional {
		return 2
	}
	return 1
}

// OutDim is the width of each layer's output and of the pooled vector.
func (c Config) OutDim() int { return c.Hidden * c.Dirs() }

// InDim is the input width of LSTM layer l.
func (c Config) InDim(l int) int {
	if l == 0 {
		return c.EmbedDim
	}
	return c.OutDim()
}

// pool returns the pooling mode with the default filled in.
func (c Config) pool() string {
	if c.Pool == "" {
		return PoolLast
	}
	return c.Pool
}

// maxDim bounds every size so that the flat buffer's offsets fit an int
// comfortably and a typo (hidden 1e9) fails here rather than in make().
const maxDim = 1 << 24

// Validate reports the first impossible setting, if any.
func (c Config) Validate() error {
	minVocab := int(data.UnkID) + 2
	switch {
	case c.VocabSize < minVocab:
		return fmt.Errorf("model config: vocabulary size %d is too small: need at least %d (pad, unk and one word)", c.VocabSize, minVocab)
	case c.EmbedDim < 1:
		return fmt.Errorf("model config: embedding dimension must be at least 1, got %d", c.EmbedDim)
	case c.Hidden < 1:
		return fmt.Errorf("model config: hidden size must be at least 1, got %d", c.Hidden)
	case c.Layers < 1:
		return fmt.Errorf("model config: layers must be at least 1, got %d", c.Layers)
	case c.VocabSize > maxDim*4 || c.EmbedDim > maxDim || c.Hidden > 1<<16 || c.Layers > 64:
		return fmt.Errorf("model config: sizes too large (vocab %d, embed %d, hidden %d, layers %d)", c.VocabSize, c.EmbedDim, c.Hidden, c.Layers)
	}
	switch c.pool() {
	case PoolLast, PoolMean, PoolMax:
	default:
		return fmt.Errorf("model config: unknown pooling %q (want %q, %q or %q)", c.Pool, PoolLast, PoolMean, PoolMax)
	}
	switch {
	case c.Ngrams < 0 || c.Ngrams > MaxNgrams:
		return fmt.Errorf("model config: ngrams must be 0 (off) to %d, got %d", MaxNgrams, c.Ngrams)
	case c.Ngrams >= 2 && (c.Buckets < 1 || c.Buckets > maxDim*4):
		return fmt.Errorf("model config: ngrams %d needs 1 to %d hash buckets, got %d", c.Ngrams, maxDim*4, c.Buckets)
	case c.Ngrams < 2 && c.Buckets != 0:
		return fmt.Errorf("model config: %d hash buckets but ngrams %d hashes nothing (buckets need ngrams of 2 or more)", c.Buckets, c.Ngrams)
	}
	if n := int64(NewLayout(c).Size()); n > 1<<31-1 {
		return errors.New("model config: more than 2^31 parameters")
	}
	return nil
}
