package serve

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// job is one request's encoded reviews on their way through the batcher.
// Its reviews may be split over several batches (a request larger than
// --max-batch is scored on several scorers at once); the last piece to
// finish closes done.
type job struct {
	ctx    context.Context
	model  *loaded
	ids    [][]int32
	logits []float32
	left   atomic.Int64 // reviews not yet scored
	mu     sync.Mutex
	err    error
	done   chan struct{}
}

func newJob(ctx context.Context, m *loaded, ids [][]int32) *job {
	j := &job{ctx: ctx, model: m, ids: ids, logits: make([]float32, len(ids)), done: make(chan struct{})}
	j.left.Store(int64(len(ids)))
	return j
}

// finish records that n reviews of j were scored (or failed with err).
func (j *job) finish(n int, err error) {
	if err != nil {
		j.mu.Lock()
		if j.err == nil {
			j.err = err
		}
		j.mu.Unlock()
	}
	if j.left.Add(-int64(n)) == 0 {
		close(j.done)
	}
}

// piece is the reviews [lo, hi) of one job.
type piece struct {
	j      *job
	lo, hi int
}

// batch is what one scorer scores in one call: pieces of jobs that all use
// the same model.
type batch struct {
	model  *loaded
	pieces []piece
	n      int // reviews
}

// batcher coalesces concurrent requests into batches of up to maxBatch
// reviews. The first review of a batch waits at most maxDelay for company
// while a scorer is free; while every scorer is busy the batch keeps
// filling, so batches grow with the load and a lone request is not held
// back longer than maxDelay.
type batcher struct {
	in       chan *job
	out      chan *batch
	maxBatch int
	maxDelay time.Duration
}

func newBatcher(maxBatch int, maxDelay time.Duration, queue int) *batcher {
	return &batcher{in: make(chan *job, queue), out: make(chan *batch), maxBatch: maxBatch, maxDelay: maxDelay}
}

// run forms batches until in is closed, then hands on what is pending and
// closes out.
func (b *batcher) run() {
	defer close(b.out)
	var (
		cur     *batch
		carry   []piece // pieces waiting for the next batch
		timer   = time.NewTimer(time.Hour)
		expired bool
	)
	timer.Stop()
	start := func(p piece) {
		cur = &batch{model: p.j.model}
		expired = b.maxDelay <= 0
		if !expired {
			timer.Reset(b.maxDelay)
		}
	}
	// add puts as much of p in the current batch as fits and returns the
	// rest (hi == lo when everything fitted).
	add := func(p piece) piece {
		if cur == nil {
			start(p)
		}
		if p.j.model != cur.model {
			return p
		}
		n := min(p.hi-p.lo, b.maxBatch-cur.n)
		cur.pieces = append(cur.pieces, piece{p.j, p.lo, p.lo + n})
		cur.n += n
		return piece{p.j, p.lo + n, p.hi}
	}
	send := func() {
		timer.Stop()
		b.out <- cur
		cur = nil
	}
	in := b.in
	for {
		// Pieces left over from a full batch or a model change go first.
		for len(carry) > 0 && (cur == nil || cur.n < b.maxBatch) {
			rest := add(carry[0])
			if rest.lo == rest.hi {
				carry = carry[1:]
				continue
			}
			carry[0] = rest
			send()
		}
		if cur != nil && cur.n >= b.maxBatch {
			send()
			continue
		}
		if in == nil && cur == nil && len(carry) == 0 {
			return
		}
		var ready chan *batch
		if cur != nil && (expired || in == nil) {
			ready = b.out
		}
		select {
		case j, ok := <-in:
			if !ok {
				in = nil
				continue
			}
			if len(j.ids) == 0 {
				close(j.done)
				continue
			}
			carry = append(carry, piece{j, 0, len(j.ids)})
		case ready <- cur:
			timer.Stop()
			cur = nil
		case <-timer.C:
			expired = true
		}
	}
}
