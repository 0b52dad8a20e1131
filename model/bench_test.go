package model

import (
	"math/rand/v2"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the process's user + system CPU time. Reported beside wall
// time, it keeps benchmark figures meaningful on a machine where other
// processes compete for the cores.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchBatch is a bucketed batch as the batcher makes them: 128 rows of
// similar length, here 60..100 real tokens, vocabulary 20000.
func benchBatch(rows int) ([]int, int) {
	rng := rand.New(rand.NewPCG(42, 42))
	lengths := make([]int, rows)
	for i := range lengths {
		lengths[i] = 60 + rng.IntN(41)
	}
	return lengths, 100
}

// BenchmarkLossGrad measures one worker's training throughput (forward and
// backward, one BLAS thread) in real tokens per second on the default model.
func BenchmarkLossGrad(b *testing.B) {
	for _, c := range []Config{ReferenceConfig(20000)} {
		rng := rand.New(rand.NewPCG(1, 2))
		lengths, maxLen := benchBatch(128)
		batch := randomBatch(rng, c.VocabSize, lengths, maxLen, 0)
		params := make([]float32, NewLayout(c).Size())
		InitParams(c, params, 1)
		ws := NewWorkspace(c)
		grad := make([]float32, len(params))
		ws.LossGrad(params, batch, grad) // grow the buffers
		b.ResetTimer()
		cpu0 := cpuTime()
		for b.Loop() {
			ws.LossGrad(params, batch, grad)
		}
		tokens := float64(batch.RealTokens()) * float64(b.N)
		b.ReportMetric(tokens/b.Elapsed().Seconds(), "tokens/s")
		b.ReportMetric(tokens/(cpuTime()-cpu0).Seconds(), "tokens/cpu-s")
	}
}

// BenchmarkForward measures inference throughput (one goroutine, one BLAS
// thread) in reviews per second on the default model.
func BenchmarkForward(b *testing.B) {
	c := ReferenceConfig(20000)
	rng := rand.New(rand.NewPCG(1, 2))
	lengths, maxLen := benchBatch(256)
	batch := randomBatch(rng, c.VocabSize, lengths, maxLen, 0)
	params := make([]float32, NewLayout(c).Size())
	InitParams(c, params, 1)
	ws := NewWorkspace(c)
	logits := make([]float32, batch.Size)
	ws.Forward(params, batch, logits)
	b.ResetTimer()
	cpu0 := cpuTime()
	for b.Loop() {
		ws.Forward(params, batch, logits)
	}
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(batch.Size)*float64(b.N)/sec, "reviews/s")
	b.ReportMetric(float64(batch.Size)*float64(b.N)/(cpuTime()-cpu0).Seconds(), "reviews/cpu-s")
	b.ReportMetric(float64(batch.RealTokens())*float64(b.N)/sec, "tokens/s")
	b.ReportMetric(float64(batch.RealTokens())*float64(b.N)/(cpuTime()-cpu0).Seconds(), "tokens/cpu-s")
}

// BenchmarkPredict measures prediction throughput (one goroutine, one
// BLAS thread) with the tabulated first-layer projections.
func BenchmarkPredict(b *testing.B) {
	c := ReferenceConfig(20000)
	rng := rand.New(rand.NewPCG(1, 2))
	lengths, maxLen := benchBatch(256)
	batch := randomBatch(rng, c.VocabSize, lengths, maxLen, 0)
	params := make([]float32, NewLayout(c).Size())
	InitParams(c, params, 1)
	inf, err := NewInference(c, params)
	if err != nil {
		b.Fatal(err)
	}
	ws := NewWorkspace(c)
	logits := make([]float32, batch.Size)
	ws.Predict(inf, batch, logits)
	b.ResetTimer()
	cpu0 := cpuTime()
	for b.Loop() {
		ws.Predict(inf, batch, logits)
	}
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(batch.Size)*float64(b.N)/sec, "reviews/s")
	b.ReportMetric(float64(batch.Size)*float64(b.N)/(cpuTime()-cpu0).Seconds(), "reviews/cpu-s")
	b.ReportMetric(float64(batch.RealTokens())*float64(b.N)/sec, "tokens/s")
	b.ReportMetric(float64(batch.RealTokens())*float64(b.N)/(cpuTime()-cpu0).Seconds(), "tokens/cpu-s")
}
