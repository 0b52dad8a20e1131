package train

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"trainer/data"
	"trainer/model"
	"trainer/train/device"
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
	var chunk []data.Review
	for len(docs) < n {
		if len(chunk) == 0 {
			c, err := r.NextChunk()
			if err == io.EOF {
				break
			}
			if err != nil {
				tb.Fatal(err)
			}
			chunk = c.Reviews
			continue
		}
		rv := chunk[0]
		chunk = chunk[1:]
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
	v := vocabOf(tb, counts, vocabSize, 2)
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
// settles, as in every epoch after a run's first. With share the workers
// share rows, and the share is returned for its wait time.
func benchEngine(b *testing.B, cfg model.Config, workers int, lazy, share bool, batches []data.Batch) (*Engine, *model.RowShare) {
	b.Helper()
	params := make([]float32, model.NewLayout(cfg).Size())
	model.InitParams(cfg, params, 1)
	reps, err := NewCPUReplicas(cfg, workers)
	if err != nil {
		b.Fatal(err)
	}
	if share {
		ShareRows(reps)
	}
	rs := reps[0].share
	opt, _ := NewOptimizer(device.DefaultOptimConfig(), len(params))
	e, err := NewEngine(params, Replicas(reps), opt, 5)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(e.Close)
	if err := e.SetSparsity(TableRows(cfg), lazy); err != nil {
		b.Fatal(err)
	}
	for _, bt := range batches {
		if _, err := e.Step(bt, 1e-3); err != nil {
			b.Fatal(err)
		}
	}
	return e, rs
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
// optimizer step dense or lazy. Two workers share the first layer's rows
// (ShareRows), as the trainer runs them, in rows=shared ("%share-wait":
// time at the share's barriers, per worker), and do not in rows=own, which
// also reports what splitting each step by the workers' measured speeds
// could save (see splitLoss). Steps cycle
// through the epoch's batches, so runs of at least one epoch (-benchtime
// 40x and more) see the same mix of lengths.
func BenchmarkEngine(b *testing.B) {
	batches, cfg := benchBatches(b)
	for _, run := range []struct {
		workers     int
		lazy, share bool
	}{{1, false, false}, {2, false, true}, {1, true, false}, {2, true, true}, {2, true, false}} {
		workers := run.workers
		name := fmt.Sprintf("workers=%d/embed=%s", workers, embedName(run.lazy))
		switch {
		case workers > 1 && run.share:
			name += "/rows=shared"
		case workers > 1:
			name += "/rows=own"
		}
		b.Run(name, func(b *testing.B) {
			e, rs := benchEngine(b, cfg, workers, run.lazy, run.share, batches)
			var waited0 time.Duration
			if rs != nil {
				waited0 = rs.Waited()
			}
			tokens := 0
			var reduce, compute float64
			var splits splitLoss
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
				if workers > 1 && !run.share {
					splits.add(bt, st.Compute)
				}
			}
			secs := time.Since(start).Seconds()
			b.ReportMetric(float64(tokens)/secs, "tokens/s")
			b.ReportMetric(reduce/secs*100, "%reduce+update")
			b.ReportMetric(compute/secs*100, "%compute")
			if rs != nil {
				b.ReportMetric((rs.Waited()-waited0).Seconds()/float64(workers)/secs*100, "%share-wait")
			}
			if workers > 1 && !run.share {
				b.ReportMetric(splits.best/secs*100, "%best-split")
				b.ReportMetric(splits.prev/secs*100, "%prev-split")
			}
		})
	}
}

// splitLoss measures what a split of each step by the workers' measured
// speeds, instead of by tokens, could save. Its inputs are steps whose
// workers meet only at the end (rows not shared), so a worker's compute
// time is its shard's work at that step's speed, in tokens per second.
// best sums the time a split perfect in hindsight would have saved (every
// worker given tokens in proportion to its speed in that very step); prev
// what a split by the previous step's speeds would have saved, which is
// what an adaptive split could do. Either assumes a worker's time grows in
// proportion to its tokens.
type splitLoss struct {
	best, prev float64
	last       []float64 // the previous step's speeds
}

func (s *splitLoss) add(b data.Batch, compute []float64) {
	n := len(compute)
	bounds := BalancedBounds(b, n)
	speed := make([]float64, n)
	slowest, sum, total := 0.0, 0.0, 0.0
	for i, c := range compute {
		t := float64(b.Rows(bounds[i], bounds[i+1]).RealTokens())
		if t == 0 || c <= 0 {
			return // a worker with no work measures no speed
		}
		speed[i] = t / c
		slowest, sum, total = max(slowest, c), sum+speed[i], total+t
	}
	s.best += slowest - total/sum
	if s.last != nil {
		lastSum, worst := 0.0, 0.0
		for _, v := range s.last {
			lastSum += v
		}
		for i, v := range s.last {
			worst = max(worst, v/lastSum*total/speed[i])
		}
		s.prev += slowest - worst
	}
	s.last = speed
}

func embedName(lazy bool) string {
	if lazy {
		return "lazy"
	}
	return "dense"
}

// BenchmarkEngineScaling measures the speed-up of 2 CPU workers over 1 on
// the same steps. Each iteration trains one epoch with a 1-worker engine,
// then the same epoch with a 2-worker engine whose workers share the first
// layer's rows (ShareRows, as the trainer runs them), then with one whose
// workers do not; each engine has its own copy of the weights. A machine
// whose speed drifts over minutes so slows all three alike (alternating per
// step instead would leave the second core idle for whole steps, which a
// virtual CPU pays for when it wakes). It reports the median over the
// iterations of the epoch-time ratios ("speedup", and "speedup-own" for the
// workers that do not share), each engine's tokens/s, and the sharing
// 2-worker step's split: mean compute, the wait for the slower worker
// ("%imbalance") and reduce+update, and the part of compute spent at the
// share's barriers ("%share-wait", per worker). The models are the reference's sizes
// and the trainer's defaults (E=512, H=128, mean pooling).
func BenchmarkEngineScaling(b *testing.B) {
	batches, ref := benchBatches(b)
	def := model.Config{VocabSize: ref.VocabSize, EmbedDim: 512, Hidden: 128, Layers: 1, Pool: model.PoolMean}
	for _, run := range []struct {
		name string
		cfg  model.Config
		lazy bool
	}{
		{"model=reference/embed=lazy", ref, true},
		{"model=reference/embed=dense", ref, false},
		{"model=default/embed=lazy", def, true},
	} {
		b.Run(run.name, func(b *testing.B) {
			one, _ := benchEngine(b, run.cfg, 1, run.lazy, false, batches)
			shared, rs := benchEngine(b, run.cfg, 2, run.lazy, true, batches)
			own, _ := benchEngine(b, run.cfg, 2, run.lazy, false, batches)
			epoch := func(e *Engine, split bool) (secs, mean, slowest, reduce float64, tokens int) {
				for _, bt := range batches {
					st, err := e.Step(bt, 1e-3)
					if err != nil {
						b.Fatal(err)
					}
					secs += st.Seconds
					tokens += st.Tokens
					reduce += st.ReduceSecs
					if split {
						slowest += max(st.Compute[0], st.Compute[1])
						mean += (st.Compute[0] + st.Compute[1]) / 2
					}
				}
				return secs, mean, slowest, reduce, tokens
			}
			var t1, t2, t3, mean, slowest, reduce float64
			var ratios, ratiosOwn []float64
			tokens := 0
			b.ResetTimer()
			waited0 := rs.Waited()
			for i := 0; i < b.N; i++ {
				e1, _, _, _, tok := epoch(one, false)
				e2, m, sl, r, _ := epoch(shared, true)
				e3, _, _, _, _ := epoch(own, true)
				t1, t2, t3 = t1+e1, t2+e2, t3+e3
				mean, slowest, reduce, tokens = mean+m, slowest+sl, reduce+r, tokens+tok
				ratios = append(ratios, e1/e2)
				ratiosOwn = append(ratiosOwn, e1/e3)
			}
			slices.Sort(ratios)
			slices.Sort(ratiosOwn)
			b.ReportMetric(ratios[len(ratios)/2], "speedup")
			b.ReportMetric(ratiosOwn[len(ratiosOwn)/2], "speedup-own")
			b.ReportMetric(float64(tokens)/t1, "tokens/s-1w")
			b.ReportMetric(float64(tokens)/t2, "tokens/s-2w")
			b.ReportMetric(float64(tokens)/t3, "tokens/s-2w-own")
			b.ReportMetric(mean/t2*100, "%compute")
			b.ReportMetric((slowest-mean)/t2*100, "%imbalance")
			b.ReportMetric(reduce/t2*100, "%reduce+update")
			b.ReportMetric((rs.Waited()-waited0).Seconds()/2/t2*100, "%share-wait")
		})
	}
}

func TestSplitLoss(t *testing.T) {
	// Two rows of 5 tokens: the token split gives each worker one.
	b := data.Batch{Tokens: make([]int32, 10), Lengths: []int32{5, 5}, Labels: []float32{0, 1}, Size: 2, MaxLen: 5}
	const eps = 1e-12
	var s splitLoss
	// Worker 1 runs at half speed: the best split gives it a third of the
	// 10 tokens, and both finish after 4/3 s instead of 2 s.
	s.add(b, []float64{1, 2})
	if math.Abs(s.best-2.0/3) > eps || s.prev != 0 {
		t.Fatalf("after one step: best %v prev %v, want 2/3 and 0", s.best, s.prev)
	}
	// The speeds swap: the previous step's split (2/3 to worker 0, now
	// the slow one) takes 8/3 s where the token split took 2 s.
	s.add(b, []float64{2, 1})
	if math.Abs(s.best-4.0/3) > eps || math.Abs(s.prev-(-2.0/3)) > eps {
		t.Fatalf("after two steps: best %v prev %v, want 4/3 and -2/3", s.best, s.prev)
	}
	// A worker without tokens measures no speed: the step is left out.
	s.add(data.Batch{Tokens: make([]int32, 5), Lengths: []int32{5}, Labels: []float32{1}, Size: 1, MaxLen: 5}, []float64{1, 0})
	if math.Abs(s.best-4.0/3) > eps {
		t.Fatalf("a step with an empty shard changed best to %v", s.best)
	}
}

// BenchmarkEngineDispatch measures one round trip of a step's phase that
// does nothing: the engine hands it to its two workers and waits for both,
// as it does three times a step.
func BenchmarkEngineDispatch(b *testing.B) {
	e, err := NewEngine(make([]float32, 1), []device.Replica{nil, nil}, nil, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	var ran [2]int
	for i := 0; i < b.N; i++ {
		e.parallel(func(w int) { ran[w]++ })
	}
	if ran[0] != b.N || ran[1] != b.N {
		b.Fatalf("workers ran %v phases, want %d each", ran, b.N)
	}
}

// BenchmarkReduceRange measures the all-reduce's work on two replicas'
// buffers of 4M gradients (16 MB each, more than the caches keep for one
// core): sum, scale and sum of squares, in bytes of one buffer per second.
func BenchmarkReduceRange(b *testing.B) {
	n := 4 << 20
	bufs := [][]float32{make([]float32, n), make([]float32, n)}
	for i := range n {
		bufs[0][i], bufs[1][i] = float32(i%7), float32(i%5)
	}
	b.SetBytes(int64(n * 4))
	for i := 0; i < b.N; i++ {
		reduceRange(bufs, 0, n, 1)
	}
}

// vocabOf is the vocabulary of the at most size-2 most frequent words with
// at least minCount occurrences, ties broken by byte order, as data.Prepare
// builds it.
func vocabOf(tb testing.TB, counts map[string]int64, size, minCount int) *data.Vocab {
	var words []string
	for w, n := range counts {
		if n >= int64(minCount) {
			words = append(words, w)
		}
	}
	slices.SortFunc(words, func(a, b string) int {
		if c := cmp.Compare(counts[b], counts[a]); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	words = words[:min(len(words), size-2)]
	v, err := data.NewVocabFromWords(append([]string{data.PadWord, data.UnkWord}, words...))
	if err != nil {
		tb.Fatal(err)
	}
	return v
}
