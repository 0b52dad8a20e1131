package model

import "math"

// The wide path: besides the LSTM, every review's word n-grams vote
// directly on the logit, as in fastText. A linear head over the pooled
// LSTM features concatenated with the mean of per-feature vectors E_f
// would add w·mean_f(E_f) = mean_f(w·E_f) to the logit, so for one logit a
// table of one scalar per feature (u_f = w·E_f) is the same function class
// with D times fewer parameters and updates: the "wide" view of the
// layout, one row per feature id, zero at the start. A row's logit is
//
//	head(pooled) + WideWeight(n) * sum over its n features f of wide[f]
//
// with repeated features counted each time they occur.

// DefaultBuckets is the hash buckets of n-grams of 2 or more words when
// none are given: 2^20 rows of one float32 each (4 MiB of weights, 12 MiB
// with AdamW's moments), where fastText's 2 million buckets hold a vector
// each. Amazon's training reviews
// hold far fewer distinct bigrams than a million, so collisions are rare.
const DefaultBuckets = 1 << 20

// Hash constants of NgramFeatures: 64-bit FNV-1a's offset basis and prime.
const (
	ngramBasis = 14695981039346656037
	ngramPrime = 1099511628211
)

// NgramFeatures appends to dst[:0] the wide path's feature ids of one
// review's real tokens (no padding) and returns it: first the unigrams,
// each token's id itself (rows [0, VocabSize) of the table), then for each
// n in 2..c.Ngrams every run of n consecutive ids, hashed into the
// buckets: row VocabSize + ngramHash(run) mod Buckets. With Ngrams 0 it
// returns dst[:0].
//
// The hash is fixed because a model file's weights depend on it and a GPU
// kernel must reproduce it: 64-bit FNV-1a over the n ids taken as uint32
// words, started from the basis xor n (so that a bigram and a trigram of
// the same leading ids differ), then h ^= h >> 32 so that the high bits
// reach the modulus. Only integer xor, multiply and shift, no runtime hash.
func NgramFeatures(ids []int32, c Config, dst []int32) []int32 {
	dst = dst[:0]
	if c.Ngrams < 1 {
		return dst
	}
	dst = append(dst, ids...)
	for n := 2; n <= c.Ngrams; n++ {
		for i := 0; i+n <= len(ids); i++ {
			dst = append(dst, int32(c.VocabSize+int(ngramHash(ids[i:i+n])%uint64(c.Buckets))))
		}
	}
	return dst
}

// ngramHash is NgramFeatures' hash of one run of ids.
func ngramHash(run []int32) uint64 {
	h := uint64(ngramBasis) ^ uint64(len(run))
	for _, id := range run {
		h = (h ^ uint64(uint32(id))) * ngramPrime
	}
	return h ^ h>>32
}

// WideScale is the wide path's fixed gain: each feature's weight in a
// logit is WideScale/sqrt(n) (see WideWeight). AdamW moves every table
// value by about the learning rate per step whatever the gain, so the gain
// sets how fast the path learns against the LSTM: on Amazon reviews (26k
// training reviews, 3 epochs, default model, --ngrams 2), best dev accuracy
// was 0.8758 with a gain of 1, 0.8802 with 8, 0.8898 with 32 and 0.8892
// with 128, which overfits within its second epoch. A gain in the model
// rather than a learning-rate multiplier in the optimizer keeps every
// optimizer, replica and checkpoint as it is; under AdamW the two are the
// same but for gradient clipping, which the wide rows' small gradients
// hardly move.
const WideScale = 32

// WideWeight is the factor on each feature's value in the logit of a
// review with n features: WideScale/sqrt(n). The mean (1/n) would shrink a
// long review's few telling n-grams among its hundreds of neutral ones,
// and a plain sum would let long reviews' logits grow without bound.
func WideWeight(n int) float64 {
	if n == 0 {
		return 0
	}
	return WideScale / math.Sqrt(float64(n))
}

// WideForward adds each row's wide term to logits[k]: row k's features
// are feats[offs[k]:offs[k+1]] (offs has one entry more than logits).
func WideForward(wide []float32, feats, offs []int32, logits []float32) {
	for k := range logits {
		f := feats[offs[k]:offs[k+1]]
		var s float32
		for _, id := range f {
			s += wide[id]
		}
		logits[k] += float32(WideWeight(len(f))) * s
	}
}

// WideBackward adds to dwide, the wide table's gradient, each row's
// dlogits[k] times its weight on every one of its features (a feature that
// occurs twice gets it twice). feats and offs are as for WideForward.
func WideBackward(feats, offs []int32, dlogits, dwide []float32) {
	for k, g := range dlogits {
		f := feats[offs[k]:offs[k+1]]
		gw := g * float32(WideWeight(len(f)))
		for _, id := range f {
			dwide[id] += gw
		}
	}
}
