package train

import (
	"errors"
	"fmt"
	"io"
	"os"
	"testing"
	"time"

	"trainer/data"
	"trainer/model"
)

// realReviews reads, tokenizes and encodes up to n reviews of a shared data
// file with a vocabulary built from them, or skips when the file is absent.
func realReviews(tb testing.TB, path string, n, vocabSize int) (*data.Dataset, int) {
	tb.Helper()
	r, err := data.Open(path, data.ReaderOptions{})
	if errors.Is(err, os.ErrNotExist) {
		tb.Skipf("%s not present: the real-data benchmarks need ../shared/data", path)
	}
	if err != nil {
		tb.Fatal(err)
	}
	defer r.Close()
	tok := data.NewTokenizer(data.DefaultPreprocess())
	var docs [][]string
	var labels []uint8
	counts := map[string]int64{}
	for len(docs) < n {
		rv, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			tb.Fatal(err)
		}
		var words []string
		for _, t := range tok.Tokens(rv.Text) {
			words = append(words, string(t))
			counts[string(t)]++
		}
		if len(words) == 0 {
			continue
		}
		docs = append(docs, words)
		labels = append(labels, rv.Label)
	}
	v := data.BuildVocab(counts, vocabSize, 2)
	d := &data.Dataset{Offsets: []int64{0}, Labels: labels}
	for _, words := range docs {
		for _, w := range words {
			d.Tokens = append(d.Tokens, v.ID([]byte(w)))
		}
		d.Offsets = append(d.Offsets, int64(len(d.Tokens)))
	}
	return d, v.Size()
}

// BenchmarkEngine measures real (non-padding) training tokens/s of the
// reference-sized model (E=128, H=256, one layer) on bucketed batches of
// 128 real Amazon reviews, with 1 and 2 CPU workers, and the embedding's
// optimizer step dense or lazy. Steps cycle through the epoch's batches,
// so runs of at least one epoch (-benchtime 40x and more) see the same
// mix of lengths.
func BenchmarkEngine(b *testing.B) {
	d, vocab := realReviews(b, "../../shared/data/amazon_polarity/train.ft.txt", 5099, 20000)
	batches := data.NewBatcher(d, data.BatchOptions{BatchSize: 128, MaxLen: 256, Seed: 1, Bucket: true, Shuffle: true}).Epoch(0)
	cfg := model.ReferenceConfig(vocab)
	for _, run := range []struct {
		workers int
		lazy    bool
	}{{1, false}, {2, false}, {1, true}, {2, true}} {
		workers := run.workers
		name := fmt.Sprintf("workers=%d/embed=dense", workers)
		if run.lazy {
			name = fmt.Sprintf("workers=%d/embed=lazy", workers)
		}
		b.Run(name, func(b *testing.B) {
			params := make([]float32, model.NewLayout(cfg).Size())
			model.InitParams(cfg, params, 1)
			reps, err := NewCPUReplicas(cfg, workers)
			if err != nil {
				b.Fatal(err)
			}
			opt, _ := NewOptimizer(DefaultOptimConfig(), len(params))
			e, err := NewEngine(params, Replicas(reps), opt, 5)
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			if err := e.SetSparsity(EmbeddingRows(cfg), run.lazy); err != nil {
				b.Fatal(err)
			}
			e.Step(batches[0], 1e-3) // grow workspaces outside the timing
			tokens := 0
			var reduce, compute float64
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				bt := batches[i%len(batches)]
				st, err := e.Step(bt, 1e-3)
				if err != nil {
					b.Fatal(err)
				}
				tokens += st.Tokens
				reduce += st.ReduceSecs
				for _, c := range st.Compute {
					compute += c / float64(workers)
				}
			}
			secs := time.Since(start).Seconds()
			b.ReportMetric(float64(tokens)/secs, "tokens/s")
			b.ReportMetric(reduce/secs*100, "%reduce+update")
			b.ReportMetric(compute/secs*100, "%compute")
		})
	}
}
