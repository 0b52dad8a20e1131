package report

import (
	"slices"
	"strings"

	"trainer/data"
)

// Bounds on the term tables, so that memory stays flat on any input: a
// corpus of a million reviews has tens of millions of distinct bigrams,
// nearly all seen once, and none of those can reach a term list.
const (
	maxUnigrams = 1 << 22 // distinct words; later new words are counted as pruned
	maxBigrams  = 1 << 20 // distinct bigrams kept before the rarest are pruned
)

// termCounts counts words and bigrams by predicted class (0 negative, 1
// positive). Bigrams are pruned by lossy counting (Manku & Motwani 2002):
// when the table is full, every bigram seen at most floor times is dropped
// and floor rises, so a kept bigram's count is short by at most floor. The
// occurrences dropped are counted in pruned.
type termCounts struct {
	ids    map[string]int32
	words  []string
	fn     []bool // words[i] is a function word
	uni    [][2]int64
	bi     map[uint64][2]int32
	total  [2][2]int64 // [order-1][class] tokens
	floor  int32
	pruned int64 // word and bigram occurrences not in the tables
	biCap  int   // maxBigrams, smaller in tests
}

func newTermCounts() *termCounts {
	return &termCounts{ids: map[string]int32{}, bi: map[uint64][2]int32{}, biCap: maxBigrams}
}

// add counts the tokens of one review of the given class.
func (tc *termCounts) add(tokens [][]byte, class int) {
	prev := int32(-1)
	for _, t := range tokens {
		id, ok := tc.ids[string(t)]
		if !ok {
			if len(tc.words) >= maxUnigrams {
				tc.pruned++
				prev = -1
				continue
			}
			id = int32(len(tc.words))
			w := string(t)
			tc.ids[w] = id
			tc.words = append(tc.words, w)
			tc.fn = append(tc.fn, functionWords[w])
			tc.uni = append(tc.uni, [2]int64{})
		}
		tc.uni[id][class]++
		tc.total[0][class]++
		if tc.fn[id] {
			// Bigrams are pairs of content words (negations count as
			// such): "the taste" says no more than "taste", and skipping
			// them halves the work on the bigram table.
			prev = -1
			continue
		}
		if prev >= 0 {
			k := uint64(prev)<<32 | uint64(id)
			c := tc.bi[k]
			c[class]++
			tc.bi[k] = c
			tc.total[1][class]++
			if len(tc.bi) > tc.biCap {
				tc.prune()
			}
		}
		prev = id
	}
}

func (tc *termCounts) prune() {
	for len(tc.bi) > tc.biCap/2 {
		tc.floor++
		for k, c := range tc.bi {
			if c[0]+c[1] <= tc.floor {
				tc.pruned += int64(c[0] + c[1])
				delete(tc.bi, k)
			}
		}
	}
}

// counts returns the class counts of a term ("word" or "word word") and
// whether it is known.
func (tc *termCounts) counts(term string) ([2]float64, bool) {
	a, b, two := strings.Cut(term, " ")
	ia, ok := tc.ids[a]
	if !ok {
		return [2]float64{}, false
	}
	if !two {
		c := tc.uni[ia]
		return [2]float64{float64(c[0]), float64(c[1])}, true
	}
	ib, ok := tc.ids[b]
	if !ok {
		return [2]float64{}, false
	}
	c, ok := tc.bi[uint64(ia)<<32|uint64(ib)]
	return [2]float64{float64(c[0]), float64(c[1])}, ok
}

// Term is one word or bigram with its association score.
type Term struct {
	Term string `json:"term"`
	// Score is the z-score of the weighted log-odds ratio, negative class
	// against positive for the negative list and the reverse for the
	// positive one: above 1.96 the term leans to its class at 95%.
	Score float64 `json:"score"`
	// Count is the term's occurrences in reviews of its list's class;
	// CountOther those in the other class.
	Count      int64 `json:"count"`
	CountOther int64 `json:"count_other"`
}

// Terms are the terms most associated with negative and with positive
// predictions.
type Terms struct {
	Negative []Term `json:"negative"`
	Positive []Term `json:"positive"`
}

// rank scores every term of tc seen at least minCount times against the
// background bg (tc itself for the overall lists), with a prior as heavy as
// the data: alpha_w = bg's share of w times tc's tokens (Monroe et al. 2008,
// section 3.5). It returns the top n of each class.
func (tc *termCounts) rank(bg *termCounts, n int, minCount int64) Terms {
	var neg, pos []Term
	score := func(term string, c [2]int64, order int) {
		if c[0]+c[1] < minCount {
			return
		}
		ni, nj := float64(tc.total[order][0]), float64(tc.total[order][1])
		bc, ok := bg.counts(term)
		bgTotal := float64(bg.total[order][0] + bg.total[order][1])
		if !ok || bgTotal == 0 {
			return
		}
		a0 := ni + nj
		alpha := (bc[0] + bc[1]) / bgTotal * a0
		z := LogOdds(float64(c[0]), ni, float64(c[1]), nj, alpha, a0)
		if z > 0 {
			neg = append(neg, Term{Term: term, Score: z, Count: c[0], CountOther: c[1]})
		} else if z < 0 {
			pos = append(pos, Term{Term: term, Score: -z, Count: c[1], CountOther: c[0]})
		}
	}
	for id, c := range tc.uni {
		if !functionWords[tc.words[id]] {
			score(tc.words[id], c, 0)
		}
	}
	for k, c := range tc.bi {
		score(tc.words[k>>32]+" "+tc.words[uint32(k)], [2]int64{int64(c[0]), int64(c[1])}, 1)
	}
	top := func(ts []Term) []Term {
		slices.SortFunc(ts, func(a, b Term) int {
			switch {
			case a.Score > b.Score:
				return -1
			case a.Score < b.Score:
				return 1
			}
			return strings.Compare(a.Term, b.Term)
		})
		if len(ts) > n {
			ts = ts[:n]
		}
		return slices.Clip(ts)
	}
	return Terms{Negative: top(neg), Positive: top(pos)}
}

// functionWords are left out of the term lists and of bigrams: "the" and
// "and" lean to whichever class writes longer reviews,
// which says nothing about what the reviews complain of. Negations (not,
// no, never, n't) are kept: they carry complaints.
var functionWords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`a an the and or but if then than so as of to in on at by for with from
		into onto about over under up down out off i me my mine we us our you your he him his she her it its
		it's they them their this that these those there here is are was were be been being am do does did
		doing have has had having will would shall should can could may might must i'm i've i'd i'll you're
		we're they're he's she's that's there's what which who whom whose when where why how all any both
		each some such own same just also too very s t 's 've 'll 'd 're 'm`) {
		m[w] = true
	}
	return m
}()

// tokenizer is what the term counts need from the model's preprocessing.
type tokenizer interface {
	Tokens(text string) [][]byte
}

var _ tokenizer = (*data.Tokenizer)(nil)
