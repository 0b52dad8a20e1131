package wordvec

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"trainer/internal/alias"
	"trainer/internal/vecmath"
)

// LearnConfig says how Learn trains word vectors: fastText's cbow, whose
// defaults DefaultLearnConfig gives.
type LearnConfig struct {
	Dim       int     // values per vector
	Epochs    int     // passes over the corpus
	Window    int     // each position takes 1 to Window words on each side, drawn anew
	Negatives int     // words drawn as counterexamples per position
	LR        float64 // starting learning rate, decayed linearly to 0 over all epochs
	// Subsample is the frequency t above which a word is skipped at random,
	// kept with probability sqrt(t/f) + t/f: frequent words carry little
	// context and would take most of the time.
	Subsample float64
	Seed      uint64
}

// DefaultLearnConfig is fastText's cbow at dim values and epochs passes.
func DefaultLearnConfig(dim, epochs int, seed uint64) LearnConfig {
	return LearnConfig{Dim: dim, Epochs: epochs, Window: 5, Negatives: 5, LR: 0.05, Subsample: 1e-4, Seed: seed}
}

func (c LearnConfig) validate() error {
	switch {
	case c.Dim < 1 || c.Dim > maxDim:
		return fmt.Errorf("learn vectors: dimension %d outside 1..%d", c.Dim, maxDim)
	case c.Epochs < 1:
		return fmt.Errorf("learn vectors: %d epochs, want at least 1", c.Epochs)
	case c.Window < 1:
		return fmt.Errorf("learn vectors: window %d, want at least 1", c.Window)
	case c.Negatives < 1:
		return fmt.Errorf("learn vectors: %d negatives, want at least 1", c.Negatives)
	case !(c.LR > 0) || math.IsInf(c.LR, 0):
		return fmt.Errorf("learn vectors: learning rate %v, want a positive number", c.LR)
	case !(c.Subsample > 0) || math.IsInf(c.Subsample, 0):
		return fmt.Errorf("learn vectors: subsampling threshold %v, want a positive number", c.Subsample)
	}
	return nil
}

// Corpus is the unlabelled text Learn reads: documents of vocabulary ids.
type Corpus struct {
	Tokens  []int32
	Offsets []int64 // document i is Tokens[Offsets[i]:Offsets[i+1]]
	// Counts are the occurrences of each id; their length is the
	// vocabulary's size. An id counted 0 (padding, the unknown word) is
	// left out of every context, as word2vec leaves out words outside its
	// vocabulary, and gets no vector.
	Counts []int64
}

// ErrNoWords is Learn's error for a corpus with no word to learn.
var ErrNoWords = errors.New("learn vectors: the corpus has no counted word")

// Learn trains word vectors on c by continuous bag of words with negative
// sampling (Mikolov et al. 2013), as fastText's cbow does: each position's
// word is told apart from cfg.Negatives words drawn by count^0.5, given
// the mean of its neighbours' vectors. The Table holds the input vectors,
// Found (and counted in Exact) for every counted id; rows of ids counted 0
// are zero.
//
// It runs on one goroutine so that a seed gives the same vectors on any
// machine with the same vector kernels: the parallel form (Hogwild) lets
// threads race on shared rows. progress, if not nil, is called now and
// then with the tokens read and the total to read.
func Learn(ctx context.Context, c Corpus, cfg LearnConfig, progress func(done, total int64)) (*Table, error) {
	l, err := learn(ctx, c, cfg, progress)
	if err != nil {
		return nil, err
	}
	t := &Table{Dim: cfg.Dim, Vecs: l.in, Found: make([]bool, len(c.Counts))}
	for id, n := range c.Counts {
		if n > 0 {
			t.Found[id] = true
			t.Exact++
		} else {
			clear(t.Row(id))
		}
	}
	return t, nil
}

// learn is Learn up to the learner, whose output vectors its tests read.
func learn(ctx context.Context, c Corpus, cfg LearnConfig, progress func(done, total int64)) (*learner, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if len(c.Offsets) == 0 || c.Offsets[0] != 0 || c.Offsets[len(c.Offsets)-1] != int64(len(c.Tokens)) {
		return nil, fmt.Errorf("learn vectors: offsets do not span the %d tokens", len(c.Tokens))
	}
	vocab := len(c.Counts)
	var total int64
	for _, n := range c.Counts {
		total += max(n, 0)
	}
	if total == 0 {
		return nil, ErrNoWords
	}
	for _, id := range c.Tokens {
		if id < 0 || int(id) >= vocab {
			return nil, fmt.Errorf("learn vectors: token id %d outside a vocabulary of %d", id, vocab)
		}
	}
	l := newLearner(c, cfg, total)
	work := int64(cfg.Epochs) * int64(len(c.Tokens))
	var done int64
	docs := len(c.Offsets) - 1
	for epoch := 0; epoch < cfg.Epochs; epoch++ {
		// Files are often grouped by label or source; a pass in file
		// order would end on one kind of text.
		for i, d := range l.rng.Perm(docs) {
			if i%256 == 0 {
				if err := ctx.Err(); err != nil {
					return nil, fmt.Errorf("learn vectors: %w", err)
				}
				if progress != nil {
					progress(done, work)
				}
			}
			doc := c.Tokens[c.Offsets[d]:c.Offsets[d+1]]
			l.document(doc, float32(cfg.LR*(1-float64(done)/float64(work))))
			done += int64(len(doc))
		}
	}
	if progress != nil {
		progress(work, work)
	}
	return l, nil
}

// learner is one cbow training's state.
type learner struct {
	cfg     LearnConfig
	dim     int
	in, out []float32 // input (the vectors kept) and output vectors, vocabulary x dim
	keep    []uint32  // per id: a draw below this keeps an occurrence (0 never)
	neg     alias.Table
	alone   int32 // the only id of positive weight, or -1
	rng     *rand.Rand
	line    []int32   // the document's kept words
	targets []int32   // a position's word, then its counterexamples
	hidden  []float32 // the context's mean
	grad    []float32 // the gradient of the context's words
}

func newLearner(c Corpus, cfg LearnConfig, total int64) *learner {
	vocab, dim := len(c.Counts), cfg.Dim
	l := &learner{cfg: cfg, dim: dim, in: make([]float32, vocab*dim), out: make([]float32, vocab*dim),
		keep: make([]uint32, vocab), rng: rand.New(rand.NewPCG(cfg.Seed, 0x63626f77)), // "cbow"
		hidden: make([]float32, dim), grad: make([]float32, dim)}
	// fastText's start: small uniform input vectors, zero output ones.
	for i := range l.in {
		l.in[i] = float32((2*l.rng.Float64() - 1) / float64(dim))
	}
	weights := make([]float64, vocab)
	positive, last := 0, int32(-1)
	for id, n := range c.Counts {
		if n <= 0 {
			continue
		}
		positive, last = positive+1, int32(id)
		f := float64(n) / float64(total)
		p := math.Sqrt(cfg.Subsample/f) + cfg.Subsample/f
		l.keep[id] = uint32(min(p, 1) * math.MaxUint32)
		weights[id] = math.Sqrt(float64(n))
	}
	l.neg = alias.New(weights)
	l.alone = -1
	if positive == 1 {
		l.alone = last
	}
	return l
}

// document trains on one document at learning rate lr.
func (l *learner) document(doc []int32, lr float32) {
	line := l.line[:0]
	for _, id := range doc {
		if k := l.keep[id]; k != 0 && uint32(l.rng.Uint64()>>32) <= k {
			line = append(line, id)
		}
	}
	l.line = line
	for w := range line {
		b := 1 + l.rng.IntN(l.cfg.Window)
		lo, hi := max(w-b, 0), min(w+b+1, len(line))
		if hi-lo < 2 {
			continue // no neighbour
		}
		// The targets' output rows are random reads from a table larger
		// than the caches: ask for them before the context's mean is
		// taken, which gives them time to arrive.
		targets := append(l.targets[:0], line[w])
		for range l.cfg.Negatives {
			t := l.neg.Draw(l.rng.Uint64())
			for t == line[w] && l.alone != t {
				t = l.neg.Draw(l.rng.Uint64())
			}
			if t != line[w] {
				targets = append(targets, t)
			}
		}
		l.targets = targets
		vecmath.PrefetchRows(l.out, targets, l.dim)
		clear(l.hidden)
		inv := 1 / float32(hi-lo-1)
		for c := lo; c < hi; c++ {
			if c != w {
				vecmath.Axpy(inv, l.row(l.in, line[c]), l.hidden)
			}
		}
		clear(l.grad)
		l.target(targets[0], 1, lr)
		for _, t := range targets[1:] {
			l.target(t, 0, lr)
		}
		for c := lo; c < hi; c++ {
			if c != w {
				vecmath.Add(l.row(l.in, line[c]), l.grad)
			}
		}
	}
}

// target takes one logistic step on whether word t is the one hidden
// stands for (label 1) or a counterexample (0): the output vector moves
// now, the context's words by grad once all targets are done.
func (l *learner) target(t int32, label, lr float32) {
	o := l.row(l.out, t)
	alpha := lr * (label - vecmath.Sigmoid32(vecmath.Dot(o, l.hidden)))
	vecmath.Axpy(alpha, o, l.grad)
	vecmath.Axpy(alpha, l.hidden, o)
}

func (l *learner) row(m []float32, id int32) []float32 {
	return m[int(id)*l.dim : (int(id)+1)*l.dim]
}
