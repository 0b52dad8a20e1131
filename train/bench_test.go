package train

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
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

// benchEngine is an engine of the given workers on the reference-sized
// model with fresh weights (seed 1), warmed by one epoch of batches outside
// any timing: the workspaces grow to the longest batch and the heap
// settles, as in every epoch after a run's first.
func benchEngine(b *testing.B, cfg model.Config, workers int, lazy bool, batches []data.Batch) *Engine {
	b.Helper()
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
	b.Cleanup(e.Close)
	if err := e.SetSparsity(EmbeddingRows(cfg), lazy); err != nil {
		b.Fatal(err)
	}
	for _, bt := range batches {
		if _, err := e.Step(bt, 1e-3); err != nil {
			b.Fatal(err)
		}
	}
	return e
}

// benchBatches is an epoch of bucketed batches of 128 real Amazon reviews
// and the reference-sized model for their vocabulary.
func benchBatches(b *testing.B) ([]data.Batch, model.Config) {
	d, vocab := realReviews(b, "../../shared/data/amazon_polarity/train.ft.txt", 5099, 20000)
	batches := data.NewBatcher(d, data.BatchOptions{BatchSize: 128, MaxLen: 256, Seed: 1, Bucket: true, Shuffle: true}).Epoch(0)
	return batches, model.ReferenceConfig(vocab)
}

// BenchmarkEngine measures real (non-padding) training tokens/s of the
// reference-sized model (E=128, H=256, one layer) on bucketed batches of
// 128 real Amazon reviews, with 1 and 2 CPU workers, and the embedding's
// optimizer step dense or lazy. Steps cycle through the epoch's batches,
// so runs of at least one epoch (-benchtime 40x and more) see the same
// mix of lengths.
func BenchmarkEngine(b *testing.B) {
	batches, cfg := benchBatches(b)
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
			e := benchEngine(b, cfg, workers, run.lazy, batches)
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

// BenchmarkEngineScaling measures the speed-up of 2 CPU workers over 1 on
// the same steps. Each iteration trains one epoch with a 1-worker engine
// and then the same epoch with a 2-worker engine (each on its own copy of
// the weights), so that a machine whose speed drifts over minutes slows
// both alike; alternating per step instead would leave the second core idle
// for whole steps, which a virtual CPU pays for when it wakes. It reports
// the median over iterations of the epoch-time ratio ("speedup"), each
// engine's tokens/s, and the 2-worker step's split: mean compute, the wait
// for the slower worker ("%imbalance") and reduce+update.
func BenchmarkEngineScaling(b *testing.B) {
	batches, cfg := benchBatches(b)
	for _, lazy := range []bool{true, false} {
		name := "embed=lazy"
		if !lazy {
			name = "embed=dense"
		}
		b.Run(name, func(b *testing.B) {
			one := benchEngine(b, cfg, 1, lazy, batches)
			two := benchEngine(b, cfg, 2, lazy, batches)
			var t1, t2, mean, slowest, reduce float64
			var ratios []float64
			tokens := 0
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				var e1, e2 float64
				for _, bt := range batches {
					st, err := one.Step(bt, 1e-3)
					if err != nil {
						b.Fatal(err)
					}
					e1 += st.Seconds
					tokens += st.Tokens
				}
				for _, bt := range batches {
					st, err := two.Step(bt, 1e-3)
					if err != nil {
						b.Fatal(err)
					}
					e2 += st.Seconds
					reduce += st.ReduceSecs
					slowest += max(st.Compute[0], st.Compute[1])
					mean += (st.Compute[0] + st.Compute[1]) / 2
				}
				t1 += e1
				t2 += e2
				ratios = append(ratios, e1/e2)
			}
			slices.Sort(ratios)
			b.ReportMetric(ratios[len(ratios)/2], "speedup")
			b.ReportMetric(float64(tokens)/t1, "tokens/s-1w")
			b.ReportMetric(float64(tokens)/t2, "tokens/s-2w")
			b.ReportMetric(mean/t2*100, "%compute")
			b.ReportMetric((slowest-mean)/t2*100, "%imbalance")
			b.ReportMetric(reduce/t2*100, "%reduce+update")
		})
	}
}
