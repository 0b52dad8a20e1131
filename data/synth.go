package data

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"trainer/internal/alias"
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
	// Meta, when set, writes JSON lines with a product, a time and a star
	// rating per review (the McAuley Amazon layout) instead of fastText.
	Meta *SynthMeta
}

// SynthStats describes a generated corpus.
type SynthStats struct {
	Reviews  int64    `json:"reviews"`
	Bytes    int64    `json:"bytes"`
	Labels   [2]int64 `json:"labels"` // negative, positive
	Words    int64    `json:"words"`
	MeanBody float64  `json:"mean_body_words"`
}

// SynthMeta describes the metadata of a synthetic review export: products
// of Zipf-like popularity, each with its own share of negative reviews,
// times uniform over [From, To), and planted changes whose truth tests
// know. Each line is {"asin","overall","unixReviewTime","summary",
// "reviewText"}; ratings follow the label (negative: 1, 2 or 3 stars with
// chances .6, .3, .1; positive: 5, 4 or 3).
type SynthMeta struct {
	Products int       // distinct products, named P0000, P0001, ...; 0 means DefaultSynthProducts
	From, To time.Time // zero: DefaultSynthFrom to DefaultSynthTo
	Plants   []Plant
}

// Defaults of SynthMeta.
var (
	DefaultSynthProducts = 200
	DefaultSynthFrom     = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	DefaultSynthTo       = time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC)
)

// Synthetic products' base negative shares are uniform in
// [synthBaseNeg, synthBaseNeg+synthBaseSpan).
const (
	synthBaseNeg  = 0.2
	synthBaseSpan = 0.35
)

// Plant is a planted trend: from From on (until To, when set), reviews of
// Product are negative with probability Negative.
type Plant struct {
	Product  string
	From, To time.Time
	Negative float64
}

// ParsePlant reads "product=P0003,from=2021-06,negative=0.8" (to=YYYY-MM
// optional; months in UTC).
func ParsePlant(spec string) (Plant, error) {
	var p Plant
	p.Negative = -1
	for _, kv := range strings.Split(spec, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok {
			return Plant{}, fmt.Errorf("plant %q: %q is not key=value", spec, kv)
		}
		var err error
		switch k {
		case "product":
			p.Product = v
		case "from":
			p.From, err = time.Parse("2006-01", v)
		case "to":
			p.To, err = time.Parse("2006-01", v)
		case "negative":
			p.Negative, err = strconv.ParseFloat(v, 64)
			if err == nil && (p.Negative < 0 || p.Negative > 1) {
				err = fmt.Errorf("%g is not a share from 0 to 1", p.Negative)
			}
		default:
			return Plant{}, fmt.Errorf("plant %q: unknown key %q (want product, from, to, negative)", spec, k)
		}
		if err != nil {
			return Plant{}, fmt.Errorf("plant %q: %s: %w", spec, k, err)
		}
	}
	switch {
	case p.Product == "":
		return Plant{}, fmt.Errorf("plant %q: product= is missing", spec)
	case p.From.IsZero():
		return Plant{}, fmt.Errorf("plant %q: from=YYYY-MM is missing", spec)
	case p.Negative < 0:
		return Plant{}, fmt.Errorf("plant %q: negative= is missing", spec)
	case !p.To.IsZero() && !p.To.After(p.From):
		return Plant{}, fmt.Errorf("plant %q: to is not after from", spec)
	}
	return p, nil
}

// String gives p in ParsePlant's form, to months (without to=).
func (p Plant) String() string {
	return fmt.Sprintf("product=%s,from=%s,negative=%g", p.Product, p.From.Format("2006-01"), p.Negative)
}

// Plants collects planted trends from a command line: it is a flag.Value
// whose every Set adds one (a value holds commas, so a list flag, which
// splits on them, cannot carry it).
type Plants []Plant

// Set parses one plant (ParsePlant) and adds it.
func (ps *Plants) Set(spec string) error {
	p, err := ParsePlant(spec)
	if err != nil {
		return err
	}
	*ps = append(*ps, p)
	return nil
}

// String lists the plants, space separated.
func (ps *Plants) String() string {
	if ps == nil {
		return ""
	}
	s := make([]string, len(*ps))
	for i, p := range *ps {
		s[i] = p.String()
	}
	return strings.Join(s, " ")
}

// SynthProduct names product i of a synthetic export.
func SynthProduct(i int) string { return fmt.Sprintf("P%04d", i) }

// HasProduct reports whether name is one of the m.Products products, as
// set (before the default for 0): a plant on any other is a mistake worth
// catching before generation starts.
func (m SynthMeta) HasProduct(name string) bool {
	i, err := strconv.Atoi(strings.TrimPrefix(name, "P"))
	return err == nil && i >= 0 && i < m.Products && SynthProduct(i) == name
}

// synthMeta is the read-only metadata model for one seed.
type synthMeta struct {
	from, span int64 // Unix seconds
	names      []string
	baseNeg    []float64
	products   alias.Table
	plants     [][]Plant // per product
}

func newSynthMeta(seed uint64, o SynthMeta) (*synthMeta, error) {
	if o.Products == 0 {
		o.Products = DefaultSynthProducts
	}
	if o.From.IsZero() && o.To.IsZero() {
		o.From, o.To = DefaultSynthFrom, DefaultSynthTo
	}
	if o.Products < 1 || o.Products > 1_000_000 {
		return nil, fmt.Errorf("synth: %d products (want 1 to 1000000)", o.Products)
	}
	if !o.To.After(o.From) {
		return nil, fmt.Errorf("synth: time range %s to %s is empty", o.From.Format(time.DateOnly), o.To.Format(time.DateOnly))
	}
	r := rand.New(metaStream(seed, 1<<63))
	m := &synthMeta{from: o.From.Unix(), span: o.To.Unix() - o.From.Unix(),
		names: make([]string, o.Products), baseNeg: make([]float64, o.Products), plants: make([][]Plant, o.Products)}
	weights := make([]float64, o.Products)
	index := map[string]int{}
	for i := range m.names {
		m.names[i] = SynthProduct(i)
		index[m.names[i]] = i
		m.baseNeg[i] = synthBaseNeg + synthBaseSpan*r.Float64()
		weights[i] = 1 / (float64(i) + 10)
	}
	m.products = alias.New(weights)
	for _, p := range o.Plants {
		i, ok := index[p.Product]
		if !ok {
			return nil, fmt.Errorf("synth: plant: no product %q (products are %s to %s)", p.Product, m.names[0], m.names[len(m.names)-1])
		}
		m.plants[i] = append(m.plants[i], p)
	}
	return m, nil
}

// metaStream is the generator of block index's metadata. Its state is
// hashed from the seed and the block, not newRNG's: two PCG states that
// differ only in a few bits keep their low bits equal forever, and the
// text's and the metadata's draws would be correlated (times with polar
// words, a trend nobody planted).
func metaStream(seed, index uint64) *rand.PCG {
	return rand.NewPCG(splitmix64(seed^0x6d657461), splitmix64(index^splitmix64(seed)))
}

// splitmix64 is Steele, Lea and Flood's 64-bit finalizer: every input bit
// reaches every output bit.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// draw picks a review's product, time, label and rating.
func (m *synthMeta) draw(r *rand.PCG) (product int, t int64, label uint8, stars int) {
	product = int(m.products.Draw(r.Uint64()))
	t = m.from + int64(uniform(r, uint64(m.span)))
	neg := m.baseNeg[product]
	for _, p := range m.plants[product] {
		if t >= p.From.Unix() && (p.To.IsZero() || t < p.To.Unix()) {
			neg = p.Negative
		}
	}
	f := float64(r.Uint64()>>11) / (1 << 53)
	label = 1
	if f < neg {
		label = 0
	}
	switch s := r.Uint64() % 10; {
	case s < 6:
		stars = 5
	case s < 9:
		stars = 4
	default:
		stars = 3
	}
	if label == 0 {
		stars = 6 - stars
	}
	return product, t, label, stars
}

// synthModel is the shared, read-only part of the generator for one seed.
type synthModel struct {
	words []string
	ranks alias.Table // word ranks by frequency
	polar [2][]int32  // polar word ids per class
	meta  *synthMeta  // nil for fastText output
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
	m.ranks = alias.New(weights)
	// Polar words come from the mid-frequency band, distinct per class.
	perm := r.Perm(20000)
	for c := 0; c < 2; c++ {
		for _, p := range perm[c*synthPolar : (c+1)*synthPolar] {
			m.polar[c] = append(m.polar[c], int32(len(synthFunctionWords)+200+p))
		}
	}
	return m
}

func (m *synthModel) word(r *rand.PCG) int32 {
	return m.ranks.Draw(r.Uint64())
}

// block appends reviews [first, first+n) of the corpus to buf. With
// metadata, the product, time, label and rating come from a stream of their
// own, so the text's stream is the same as without.
func (m *synthModel) block(seed uint64, index int64, n int, buf []byte, st *SynthStats) []byte {
	pcg := newRNG(seed, uint64(index))
	r := rand.New(pcg)
	var metaRNG *rand.PCG
	if m.meta != nil {
		metaRNG = metaStream(seed, uint64(index))
	}
	for k := 0; k < n; k++ {
		label := uint8(pcg.Uint64() & 1)
		if m.meta != nil {
			product, t, l, stars := m.meta.draw(metaRNG)
			label = l
			// Titles and bodies hold letters, apostrophes and .!?, only:
			// nothing JSON must escape.
			buf = append(buf, `{"asin":"`...)
			buf = append(buf, m.meta.names[product]...)
			buf = append(buf, `","overall":`...)
			buf = strconv.AppendInt(buf, int64(stars), 10)
			buf = append(buf, `.0,"unixReviewTime":`...)
			buf = strconv.AppendInt(buf, t, 10)
			buf = append(buf, `,"summary":"`...)
		} else {
			buf = append(buf, "__label__"...)
			buf = append(buf, '1'+label)
			buf = append(buf, ' ')
		}
		title := 1 + r.IntN(8)
		for i := 0; i < title; i++ {
			if i > 0 {
				buf = append(buf, ' ')
			}
			buf = m.appendWord(buf, m.pick(pcg, r, label), i == 0)
		}
		if m.meta != nil {
			buf = append(buf, `","reviewText":"`...)
		} else {
			buf = append(buf, ": "...)
		}
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
		if m.meta != nil {
			buf = append(buf, `"}`...)
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
	if o.Meta != nil {
		var err error
		if m.meta, err = newSynthMeta(o.Seed, *o.Meta); err != nil {
			return SynthStats{}, err
		}
	}
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
