package data

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"trainer/internal/atomicfile"
)

// The synthetic corpus imitates the Amazon Review Polarity set closely
// enough for scale and speed runs: fastText lines "__label__N Title: body",
// titles of 1-8 words, bodies whose word count is log-normal with mean about
// 75 and a cap of 250, a Zipfian vocabulary of about 100k pronounceable
// made-up words behind a few dozen English function words, and a few
// hundred polar words per class mixed in at a modest rate, with some from
// the other class, so a model can learn it but not perfectly. It exists for
// throughput; no accuracy is ever claimed on it.
const (
	synthVocab      = 100_000
	synthPolar      = 300  // polar words per class
	synthPolarRate  = 0.06 // chance that a body word is polar
	synthPolarOwn   = 0.8  // chance that a polar word comes from the review's class
	synthBodyMax    = 250
	synthBlock      = 4096 // reviews per generation block; fixes the output for a seed
	synthBodyMu     = 4.12 // log-normal body length: mean ~75 words
	synthBodySigma  = 0.65 // long tail
	synthZipfOffset = 2.7  // Zipf-Mandelbrot: weight 1/(rank+offset)
)

// synthFunctionWords are the most frequent words, as in English reviews;
// the contractions exercise the tokenizer.
var synthFunctionWords = []string{
	"the", "i", "and", "a", "to", "it", "of", "is", "this", "for", "in", "that", "was", "my", "not",
	"but", "with", "you", "on", "have", "it's", "as", "are", "be", "so", "one", "book", "all",
	"very", "don't", "if", "just", "at", "they", "or", "good", "great", "can", "had", "would",
	"like", "i'm", "more", "out", "an", "me", "what", "there", "can't", "no", "when", "from",
	"didn't", "only", "about", "doesn't", "will", "isn't", "you'll", "we", "time", "get",
}

// SynthOptions sets the size and seed of a synthetic corpus.
type SynthOptions struct {
	N       int64  // reviews
	Seed    uint64 // the same seed gives the same bytes
	Workers int    // generator goroutines; 0 uses every core
}

// SynthStats describes a generated corpus.
type SynthStats struct {
	Reviews  int64    `json:"reviews"`
	Bytes    int64    `json:"bytes"`
	Labels   [2]int64 `json:"labels"` // negative, positive
	Words    int64    `json:"words"`
	MeanBody float64  `json:"mean_body_words"`
}

// synthModel is the shared, read-only part of the generator for one seed.
type synthModel struct {
	words     []string
	alias     []int32    // Vose alias table over word ranks
	threshold []uint32   // keep rank i when the low 32 random bits are below this
	polar     [2][]int32 // polar word ids per class
}

func newSynthModel(seed uint64) *synthModel {
	r := rand.New(newRNG(seed, 1<<62))
	m := &synthModel{words: make([]string, 0, synthVocab)}
	seen := make(map[string]bool, synthVocab)
	for _, w := range synthFunctionWords {
		m.words = append(m.words, w)
		seen[w] = true
	}
	onsets := []string{"b", "br", "c", "ch", "d", "dr", "f", "fl", "g", "gr", "h", "j", "k", "l", "m", "n",
		"p", "pl", "pr", "qu", "r", "s", "sh", "sl", "st", "t", "th", "tr", "v", "w", "z", ""}
	vowels := []string{"a", "e", "i", "o", "u", "a", "e", "o", "ai", "ea", "ou", "oo", "y"}
	codas := []string{"", "", "", "n", "r", "s", "t", "l", "m", "nd", "st", "ck", "ng"}
	for len(m.words) < synthVocab {
		rank := len(m.words)
		// Frequent words are short, as in natural language.
		syl := 1
		if rank > 2000 {
			syl = 1 + r.IntN(2)
		}
		if rank > 20000 {
			syl = 2 + r.IntN(2)
		}
		var b []byte
		for s := 0; s < syl; s++ {
			b = append(b, onsets[r.IntN(len(onsets))]...)
			b = append(b, vowels[r.IntN(len(vowels))]...)
			if s == syl-1 || r.IntN(3) == 0 {
				b = append(b, codas[r.IntN(len(codas))]...)
			}
		}
		if w := string(b); !seen[w] {
			seen[w] = true
			m.words = append(m.words, w)
		}
	}
	weights := make([]float64, synthVocab)
	for i := range weights {
		weights[i] = 1 / (float64(i) + synthZipfOffset)
	}
	m.alias, m.threshold = buildAlias(weights)
	// Polar words come from the mid-frequency band, distinct per class.
	perm := r.Perm(20000)
	for c := 0; c < 2; c++ {
		for _, p := range perm[c*synthPolar : (c+1)*synthPolar] {
			m.polar[c] = append(m.polar[c], int32(len(synthFunctionWords)+200+p))
		}
	}
	return m
}

// buildAlias builds Vose's alias table, which samples a discrete
// distribution in constant time.
func buildAlias(w []float64) ([]int32, []uint32) {
	n := len(w)
	var sum float64
	for _, x := range w {
		sum += x
	}
	prob := make([]float64, n)
	var small, large []int32
	for i, x := range w {
		prob[i] = x * float64(n) / sum
		if prob[i] < 1 {
			small = append(small, int32(i))
		} else {
			large = append(large, int32(i))
		}
	}
	alias := make([]int32, n)
	thr := make([]uint32, n)
	for len(small) > 0 && len(large) > 0 {
		s, l := small[len(small)-1], large[len(large)-1]
		small = small[:len(small)-1]
		thr[s] = uint32(prob[s] * math.MaxUint32)
		alias[s] = l
		prob[l] += prob[s] - 1
		if prob[l] < 1 {
			large = large[:len(large)-1]
			small = append(small, l)
		}
	}
	for _, i := range append(small, large...) {
		thr[i] = math.MaxUint32
		alias[i] = i
	}
	return alias, thr
}

func (m *synthModel) word(r *rand.PCG) int32 {
	u := r.Uint64()
	i := int32((u >> 32) * synthVocab >> 32)
	if uint32(u) < m.threshold[i] {
		return i
	}
	return m.alias[i]
}

// block appends reviews [first, first+n) of the corpus to buf.
func (m *synthModel) block(seed uint64, index int64, n int, buf []byte, st *SynthStats) []byte {
	pcg := newRNG(seed, uint64(index))
	r := rand.New(pcg)
	for k := 0; k < n; k++ {
		label := uint8(pcg.Uint64() & 1)
		buf = append(buf, "__label__"...)
		buf = append(buf, '1'+label)
		buf = append(buf, ' ')
		title := 1 + r.IntN(8)
		for i := 0; i < title; i++ {
			if i > 0 {
				buf = append(buf, ' ')
			}
			buf = m.appendWord(buf, m.pick(pcg, r, label), i == 0)
		}
		buf = append(buf, ": "...)
		body := int(math.Round(math.Exp(synthBodyMu + synthBodySigma*r.NormFloat64())))
		body = min(max(body, 1), synthBodyMax)
		sentence := 0
		for i := 0; i < body; i++ {
			if i > 0 {
				buf = append(buf, ' ')
			}
			buf = m.appendWord(buf, m.pick(pcg, r, label), sentence == 0)
			sentence++
			switch x := pcg.Uint64() % 100; {
			case i == body-1 || (sentence > 5 && x < 8):
				buf = append(buf, ".!?"[min(x%16, 2)])
				sentence = 0
			case x < 5:
				buf = append(buf, ',')
			}
		}
		buf = append(buf, '\n')
		st.Reviews++
		st.Labels[label]++
		st.Words += int64(title + body)
		st.MeanBody += float64(body)
	}
	return buf
}

func (m *synthModel) pick(pcg *rand.PCG, r *rand.Rand, label uint8) int32 {
	if r.Float64() >= synthPolarRate {
		return m.word(pcg)
	}
	class := label
	if r.Float64() >= synthPolarOwn {
		class = 1 - label
	}
	return m.polar[class][pcg.Uint64()%synthPolar]
}

func (m *synthModel) appendWord(buf []byte, id int32, capital bool) []byte {
	w := m.words[id]
	if capital && w[0] >= 'a' && w[0] <= 'z' {
		buf = append(buf, w[0]-'a'+'A')
		return append(buf, w[1:]...)
	}
	return append(buf, w...)
}

// WriteSynth streams a synthetic corpus of o.N reviews to w, generating
// blocks in parallel and writing them in order; the bytes depend only on
// o.N and o.Seed.
func WriteSynth(ctx context.Context, w io.Writer, o SynthOptions) (SynthStats, error) {
	if o.N < 0 {
		return SynthStats{}, fmt.Errorf("synth: negative review count %d", o.N)
	}
	workers := o.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	m := newSynthModel(o.Seed)
	type result struct {
		buf []byte
		st  SynthStats
	}
	type job struct {
		index int64
		n     int
		out   chan result
	}
	jobs := make(chan job)
	order := make(chan chan result, 2*workers)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				var st SynthStats
				buf := m.block(o.Seed, j.index, j.n, make([]byte, 0, j.n*480), &st)
				j.out <- result{buf, st}
			}
		}()
	}
	go func() {
		defer close(order)
		defer close(jobs)
		for first, index := int64(0), int64(0); first < o.N; first, index = first+synthBlock, index+1 {
			j := job{index, int(min(synthBlock, o.N-first)), make(chan result, 1)}
			select {
			case order <- j.out:
			case <-ctx.Done():
				return
			}
			jobs <- j
		}
	}()
	var total SynthStats
	var err error
	for out := range order {
		res := <-out
		if err != nil {
			continue // drain so the generators finish
		}
		if _, err = w.Write(res.buf); err != nil {
			err = fmt.Errorf("synth: write: %w", err)
			cancel()
			continue
		}
		if err = ctx.Err(); err != nil {
			continue
		}
		total.Bytes += int64(len(res.buf))
		total.Reviews += res.st.Reviews
		total.Words += res.st.Words
		total.MeanBody += res.st.MeanBody
		for c := range total.Labels {
			total.Labels[c] += res.st.Labels[c]
		}
	}
	wg.Wait()
	if total.Reviews > 0 {
		total.MeanBody /= float64(total.Reviews)
	}
	return total, err
}

// SynthFile writes a synthetic corpus to path atomically: it streams to a
// temporary file beside path and renames it when complete.
func SynthFile(ctx context.Context, path string, o SynthOptions) (SynthStats, error) {
	var st SynthStats
	err := atomicfile.Write(path, func(w io.Writer) error {
		var err error
		st, err = WriteSynth(ctx, w, o)
		return err
	})
	if err != nil {
		return SynthStats{}, fmt.Errorf("synth: %w", err)
	}
	return st, nil
}
