package model

import (
	"bufio"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
	"testing"

	"trainer/data"
)

// amazonBatches encodes the shared Amazon polarity training file the way
// the PyTorch reference does (lowercase, characters outside [a-z0-9' ]
// become spaces, whitespace split, vocabulary of the 20000 most frequent
// words seen twice, at most 256 tokens) and cuts it into bucketed batches
// of 128 as the reference's --bucket does: sorted by length in pools of 50
// batches, batch order shuffled. It skips the benchmark when the file is
// absent.
func amazonBatches(b *testing.B) (batches []data.Batch, vocab int) {
	const path = "../../shared/data/amazon_polarity/train.ft.txt"
	f, err := os.Open(path)
	if err != nil {
		b.Skipf("real data not available: %v", err)
	}
	defer f.Close()
	clean := func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '\'', r == ' ':
			return r
		}
		return ' '
	}
	var docs [][]string
	var labels []uint8
	counts := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		label, text, ok := strings.Cut(sc.Text(), " ")
		if !ok || !strings.HasPrefix(label, "__label__") {
			continue
		}
		words := strings.Fields(strings.Map(clean, strings.ToLower(text)))
		for _, w := range words {
			counts[w]++
		}
		docs = append(docs, words)
		labels = append(labels, map[bool]uint8{true: 1}[label == "__label__2"])
	}
	var words []string
	for w, c := range counts {
		if c >= 2 {
			words = append(words, w)
		}
	}
	sort.Slice(words, func(i, j int) bool {
		if counts[words[i]] != counts[words[j]] {
			return counts[words[i]] > counts[words[j]]
		}
		return words[i] < words[j]
	})
	words = words[:min(len(words), 20000-2)]
	ids := map[string]int32{}
	for i, w := range words {
		ids[w] = int32(i + 2)
	}
	enc := make([][]int32, len(docs))
	for i, d := range docs {
		for _, w := range d[:min(len(d), 256)] {
			id, ok := ids[w]
			if !ok {
				id = data.UnkID
			}
			enc[i] = append(enc[i], id)
		}
		if len(enc[i]) == 0 {
			enc[i] = []int32{data.UnkID}
		}
	}
	rng := rand.New(rand.NewPCG(1, 1))
	order := rng.Perm(len(enc))
	const bsz, pool = 128, 50 * 128
	var groups [][]int
	for p := 0; p < len(order); p += pool {
		chunk := order[p:min(p+pool, len(order))]
		sort.SliceStable(chunk, func(i, j int) bool { return len(enc[chunk[i]]) < len(enc[chunk[j]]) })
		for j := 0; j < len(chunk); j += bsz {
			groups = append(groups, chunk[j:min(j+bsz, len(chunk))])
		}
	}
	rng.Shuffle(len(groups), func(i, j int) { groups[i], groups[j] = groups[j], groups[i] })
	for _, g := range groups {
		rows := make([][]int32, len(g))
		labs := make([]uint8, len(g))
		for k, i := range g {
			rows[k], labs[k] = enc[i], labels[i]
		}
		batches = append(batches, data.MakeBatch(rows, labs, 0))
	}
	return batches, len(words) + 2
}

// BenchmarkLossGradAmazon is one epoch of forward and backward passes (no
// optimizer) over the real Amazon polarity training file in bucketed
// batches of 128, the PyTorch reference's --bucket setting, on one worker.
func BenchmarkLossGradAmazon(b *testing.B) {
	batches, vocab := amazonBatches(b)
	c := ReferenceConfig(vocab)
	params := make([]float32, NewLayout(c).Size())
	InitParams(c, params, 1)
	ws := NewWorkspace(c)
	grad := make([]float32, len(params))
	tokens := 0
	for _, bt := range batches {
		tokens += bt.RealTokens()
	}
	b.ResetTimer()
	cpu0 := cpuTime()
	for b.Loop() {
		for _, bt := range batches {
			ws.LossGrad(params, bt, grad)
		}
	}
	n := float64(tokens) * float64(b.N)
	b.ReportMetric(n/b.Elapsed().Seconds(), "tokens/s")
	b.ReportMetric(n/(cpuTime()-cpu0).Seconds(), "tokens/cpu-s")
}
