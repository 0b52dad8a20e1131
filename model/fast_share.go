package model

import (
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"trainer/internal/vecmath"
)

// ErrShareBroken is what a worker of a RowShare gets when another worker of
// the same step failed: the step cannot finish.
var ErrShareBroken = errors.New("model: another worker of this step failed")

// RowShare lets the workers of one data-parallel step share the first
// layer's input-side work. Each worker's shard of a batch of Amazon reviews
// has about 0.27 distinct tokens per token, the whole batch 0.21: the input
// projection of a distinct token, its W_ih gradient and its embedding
// gradient cost the same whether it occurs once or fifty times, so split
// shards each pay for the tokens they have in common. With a share, the
// workers project the union of their shards' distinct tokens once, each a
// slice of it, read the one table in their recurrences, and after the
// backward pass each sums the gate gradients of its slice over all workers
// and takes that slice's W_ih, bias and embedding gradients.
//
// Every worker of the share must call Workspace.LossGrad once per step, at
// the same time, each with its own Workspace (SetShare) and gradient
// buffer: the step's phases meet at barriers. The workers' gradient
// buffers then sum to the whole batch's gradient, as without a share; each
// embedding row's gradient is in one worker's buffer only. The result is
// deterministic for a fixed number of workers.
type RowShare struct {
	n   int
	cfg Config
	bar *barrier

	// Written by worker i before the first barrier.
	ids [][]int32 // the distinct token ids of worker i's shard

	// Written by the first barrier's last arrival, read-only after it.
	global  []int32   // the union of ids, in worker order then first occurrence
	slot    []int32   // [vocab]: 1 + index in global, 0 for absent tokens
	local   [][]int32 // [worker][index in ids]: index in global
	touched [][]bool  // [worker][index in global]: in that worker's shard
	cuts    []int     // worker i owns global rows [cuts[i], cuts[i+1])

	// Shared tables, [len(global), ...]: each worker writes its own rows
	// (x, proj) or its own table (dGates) between barriers.
	x      []float32      // embeddings
	proj   [2][]float32   // per direction: input projection plus bias
	dGates [][2][]float32 // per worker, per direction: the worker's gate gradients
	dx     [][2][]float32 // per worker, per direction: input gradient of its slice
	tok    []TokenRows    // per worker: its slice of global, for gather and scatter
}

// NewRowShare returns a share for n workers of models of configuration c.
func NewRowShare(c Config, n int) *RowShare {
	return &RowShare{
		n: n, cfg: c, bar: newBarrier(n, n <= runtime.GOMAXPROCS(0)),
		ids: make([][]int32, n), local: make([][]int32, n), touched: make([][]bool, n),
		dGates: make([][2][]float32, n), dx: make([][2][]float32, n), tok: make([]TokenRows, n),
	}
}

// Waited is the time the workers of s have spent at its barriers so far,
// summed over the workers: the cost of keeping their phases in step.
func (s *RowShare) Waited() time.Duration { return time.Duration(s.bar.waited.Load()) }

// Abort breaks the current and every later barrier, so that the other
// workers of a step that cannot finish stop with ErrShareBroken instead of
// waiting forever. A broken share stays broken.
func (s *RowShare) Abort() { s.bar.abort() }

// union builds the step's global rows from every worker's ids; it runs on
// one worker while the others wait.
func (s *RowShare) union() {
	vocab, g4, e := s.cfg.VocabSize, 4*s.cfg.Hidden, s.cfg.EmbedDim
	if len(s.slot) < vocab {
		s.slot = make([]int32, vocab)
	}
	for _, id := range s.global {
		s.slot[id] = 0
	}
	s.global = s.global[:0]
	for w, ids := range s.ids {
		s.local[w] = grow(s.local[w], len(ids))
		for k, id := range ids {
			if s.slot[id] == 0 {
				s.global = append(s.global, id)
				s.slot[id] = int32(len(s.global))
			}
			s.local[w][k] = s.slot[id] - 1
		}
	}
	u := len(s.global)
	for w := range s.ids {
		s.touched[w] = grow(s.touched[w], u)
		clear(s.touched[w])
		for _, g := range s.local[w] {
			s.touched[w][g] = true
		}
	}
	s.cuts = grow(s.cuts, s.n+1)
	for i := 0; i <= s.n; i++ {
		s.cuts[i] = u * i / s.n
	}
	s.x = grow(s.x, u*e)
	for d := 0; d < s.cfg.Dirs(); d++ {
		s.proj[d] = grow(s.proj[d], u*g4)
		for w := range s.dGates {
			s.dGates[w][d] = grow(s.dGates[w][d], u*g4)
		}
	}
	for w := range s.tok {
		s.tok[w].IDs = s.global[s.cuts[w]:s.cuts[w+1]]
		for d := 0; d < s.cfg.Dirs(); d++ {
			s.dx[w][d] = grow(s.dx[w][d], (s.cuts[w+1]-s.cuts[w])*e)
		}
	}
}

// sumSlice sets worker i's gate-gradient rows of its slice, in direction
// d, to the sum over the workers whose shards hold them, in worker order.
func (s *RowShare) sumSlice(i, d int) {
	g4 := 4 * s.cfg.Hidden
	dst := s.dGates[i][d]
	for g := s.cuts[i]; g < s.cuts[i+1]; g++ {
		row := dst[g*g4 : (g+1)*g4]
		// Own rows are in place already; the others add in worker order.
		have := s.touched[i][g]
		for w := range s.dGates {
			if w == i || !s.touched[w][g] {
				continue
			}
			src := s.dGates[w][d][g*g4 : (g+1)*g4]
			if have {
				vecmath.Add(row, src)
			} else {
				copy(row, src)
				have = true
			}
		}
	}
}

// barrier is a reusable barrier for n goroutines: a spin while each has a
// core, then a wait on a condition variable.
type barrier struct {
	n       int32
	arrived atomic.Int32
	gen     atomic.Uint32
	broken  atomic.Bool
	mu      sync.Mutex
	cond    *sync.Cond
	spin    bool         // the workers fit in GOMAXPROCS: spin before sleeping
	waited  atomic.Int64 // nanoseconds the callers of wait spent waiting
}

// newBarrier returns a barrier for n goroutines that spin before sleeping
// when spin is set.
func newBarrier(n int, spin bool) *barrier {
	b := &barrier{n: int32(n), spin: spin}
	b.cond = sync.NewCond(&b.mu)
	return b
}

// spinFor bounds a barrier's spin: longer than the usual skew between the
// workers of a step (a millisecond or two), short enough not to hold a
// core for long when a worker stalls.
const spinFor = 5 * time.Millisecond

// wait blocks until all n goroutines have called it; the last to arrive
// runs serial (when not nil) before any of them goes on. It returns
// ErrShareBroken once abort has been called.
func (b *barrier) wait(serial func()) error {
	if b.broken.Load() {
		return ErrShareBroken
	}
	gen := b.gen.Load()
	if b.arrived.Add(1) == b.n {
		if serial != nil {
			serial()
		}
		b.arrived.Store(0)
		b.mu.Lock()
		b.gen.Add(1)
		b.cond.Broadcast()
		b.mu.Unlock()
		return nil // the last to arrive does not wait
	}
	start := time.Now()
	defer func() { b.waited.Add(int64(time.Since(start))) }()
	if b.spin {
		// Each worker has a core of its own: spin, for up to a few
		// milliseconds, rather than sleep and pay for the wake-up, which
		// on a virtual CPU can take longer than the wait itself.
		deadline := time.Now().Add(spinFor)
		for spin := 0; b.gen.Load() == gen && !b.broken.Load(); spin++ {
			if spin%1024 == 1023 && time.Now().After(deadline) {
				break
			}
		}
	}
	b.mu.Lock()
	for b.gen.Load() == gen && !b.broken.Load() {
		b.cond.Wait()
	}
	b.mu.Unlock()
	if b.gen.Load() == gen {
		return ErrShareBroken
	}
	return nil
}

// abort breaks the barrier for good and wakes every waiter.
func (b *barrier) abort() {
	b.broken.Store(true)
	b.mu.Lock()
	b.cond.Broadcast()
	b.mu.Unlock()
}

// SetShare makes w worker i of s for LossGrad (nil: work alone). Forward
// and the stage passes always work alone.
func (w *Workspace) SetShare(s *RowShare, i int) {
	w.share, w.shareIdx = s, i
}

// mustShare panics with err when it is not nil: a broken share ends the step.
func mustShare(err error) {
	if err != nil {
		panic(err)
	}
}

// shareProject publishes the batch's distinct tokens (w.tok, built), waits
// for the others, maps every packed row to the share's rows, and computes
// this worker's slice of the embeddings and input projections; it returns
// once every worker's slice is done.
func (w *Workspace) shareProject(params []float32) {
	s, i, c := w.share, w.shareIdx, w.cfg
	s.ids[i] = w.tok.IDs
	mustShare(s.bar.wait(s.union))
	loc := s.local[i]
	w.gRows = grow(w.gRows, len(w.tok.Rows))
	for j, r := range w.tok.Rows {
		w.gRows[j] = loc[r]
	}
	w.gRevRows = grow(w.gRevRows, len(w.tok.RevRows))
	for j, r := range w.tok.RevRows {
		w.gRevRows[j] = loc[r]
	}
	lo, hi := s.cuts[i], s.cuts[i+1]
	e, g4 := c.EmbedDim, 4*c.Hidden
	x := s.x[lo*e : hi*e]
	s.tok[i].Gather(w.layout.View("embed").Slice(params), e, x)
	for d := 0; d < c.Dirs(); d++ {
		a, lw := &w.layers[0].acts[d], w.layout.LSTM(params, 0, d)
		a.ProjectBegin(lw)
		a.project(lw, x, hi-lo, s.proj[d][lo*g4:hi*g4])
	}
	mustShare(s.bar.wait(nil))
}

// shareSteps runs layer 0's recurrence in both directions on the share's
// projection tables.
func (w *Workspace) shareSteps(params []float32) {
	s, st := w.share, w.pack.Steps
	rows := [2][]int32{w.gRows, w.gRevRows}
	for d := 0; d < w.cfg.Dirs(); d++ {
		a, lw := &w.layers[0].acts[d], w.layout.LSTM(params, 0, d)
		a.StepsBegin(lw, st)
		a.StepsRange(lw, s.proj[d], rows[d], st, 0, st.T())
	}
}

// shareBackward is layer 0's backward pass with a share: the recurrence
// and W_hh gradient of this worker's rows, its gate gradients summed into
// its own table by share row; then, once every worker's table is done,
// the W_ih, bias and embedding gradients of this worker's slice, summed
// over all workers' tables.
func (w *Workspace) shareBackward(params, grad []float32) {
	s, i, c, st := w.share, w.shareIdx, w.cfg, w.pack.Steps
	g4, e := 4*c.Hidden, c.EmbedDim
	ls := &w.layers[0]
	rows := [2][]int32{w.gRows, w.gRevRows}
	for d := 0; d < c.Dirs(); d++ {
		a, lw, gw := &ls.acts[d], w.layout.LSTM(params, 0, d), w.layout.LSTM(grad, 0, d)
		tab := s.dGates[i][d]
		for _, g := range s.local[i] {
			clear(tab[int(g)*g4 : (int(g)+1)*g4])
		}
		if st.T() == 0 {
			continue
		}
		a.BackwardBegin(lw, st, 0)
		own := a.proj
		a.proj = tab
		a.BackwardRange(lw, rows[d], st, 0, st.T(), ls.dH[d], nil)
		a.proj = own
		a.backwardRecurrent(lw, gw, st)
	}
	mustShare(s.bar.wait(nil))
	lo, hi := s.cuts[i], s.cuts[i+1]
	if hi == lo {
		return
	}
	x := s.x[lo*e : hi*e]
	for d := 0; d < c.Dirs(); d++ {
		a, lw, gw := &ls.acts[d], w.layout.LSTM(params, 0, d), w.layout.LSTM(grad, 0, d)
		if st.T() == 0 {
			a.packInputGrad(lw) // BackwardBegin did not run
		}
		s.sumSlice(i, d)
		a.backwardInput(lw, gw, x, hi-lo, s.dGates[i][d][lo*g4:hi*g4], s.dx[i][d])
	}
	if c.Dirs() == 2 {
		vecmath.Add(s.dx[i][0], s.dx[i][1])
	}
	s.tok[i].ScatterAdd(w.layout.View("embed").Slice(grad), e, s.dx[i][0])
}
