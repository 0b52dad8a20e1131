package model

import (
	"math/rand/v2"
	"sync"
	"testing"
)

// TestConcurrentWorkspaces runs several workspaces at once on shared,
// read-only parameters, as data-parallel workers do, and checks each
// result against a sequential run: the BLAS and the kernels keep no
// shared mutable state.
func TestConcurrentWorkspaces(t *testing.T) {
	c := Config{VocabSize: 50, EmbedDim: 16, Hidden: 32, Layers: 2, Bidirectional: true}
	params := initSmall(c, 6)
	rng := rand.New(rand.NewPCG(6, 6))
	const workers = 4
	batches := make([][]int, workers)
	for i := range batches {
		for r := 0; r < 24; r++ {
			batches[i] = append(batches[i], 1+rng.IntN(40))
		}
	}
	want := make([][]float32, workers)
	for i, lengths := range batches {
		b := randomBatch(rand.New(rand.NewPCG(uint64(i), 1)), c.VocabSize, lengths, 40, 0)
		want[i] = make([]float32, len(params))
		NewWorkspace(c).LossGrad(params, b, want[i])
	}
	got := make([][]float32, workers)
	var wg sync.WaitGroup
	for i, lengths := range batches {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := randomBatch(rand.New(rand.NewPCG(uint64(i), 1)), c.VocabSize, lengths, 40, 0)
			ws := NewWorkspace(c)
			for rep := 0; rep < 3; rep++ {
				got[i] = make([]float32, len(params))
				ws.LossGrad(params, b, got[i])
			}
		}()
	}
	wg.Wait()
	for i := range want {
		for j := range want[i] {
			if got[i][j] != want[i][j] {
				t.Fatalf("worker %d: grad[%d] = %g concurrently, %g alone", i, j, got[i][j], want[i][j])
			}
		}
	}
}
