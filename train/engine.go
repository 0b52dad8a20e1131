package train

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"trainer/data"
	"trainer/model"
	"trainer/train/device"
)

// StepStats describes one synchronous data-parallel step.
type StepStats struct {
	device.Result         // summed over replicas
	GradNorm      float64 // global L2 norm of the mean gradient, before clipping
	ClipScale     float64 // factor applied to the gradient (1 = not clipped)
	LR            float64
	Seconds       float64
	Compute       []float64 // per replica: seconds in Compute
	ReduceSecs    float64   // all-reduce, clipping and optimizer update
	// A resident replica under fp16 reports the loss scale its step ran at
	// and whether an overflow skipped the update; the engine leaves both
	// zero (its GPU replicas scale their own losses).
	LossScale float32
	Skipped   bool
}

// Engine runs synchronous data-parallel training over a fixed set of
// replicas: each global batch is split over them in contiguous shards of
// about equal real tokens (see BalancedBounds), every
// replica adds the gradient of its shard's summed loss into its own flat
// buffer, the buffers are summed and divided by the global batch size (the
// mean gradient, whatever the shard sizes), and one optimizer step updates the
// fp32 master weights that every replica reads on the next step.
//
// Each replica runs on its own goroutine, and the same goroutines split the
// all-reduce and the optimizer update between them, so no phase of a step
// runs on one core alone. The engine is not safe for concurrent use.
//
// The goroutines are not locked to OS threads. Nothing they run needs one:
// OpenBLAS, held to one thread, computes on its caller's thread, and a GPU
// replica makes its context current on the thread of each call. And a
// locked goroutine that blocks, as the workers do between a step's phases,
// or that the runtime preempts after 10 ms of running, hands its P to
// another thread, which must then wake the locked thread to run it again:
// BenchmarkEngineDispatch, one empty phase on two workers, takes tens of
// microseconds that way against about a microsecond unlocked.
type Engine struct {
	params   []float32
	replicas []device.Replica
	grads    [][]float32
	opt      Optimizer
	clip     float64
	workers  []chan func()
	wg       sync.WaitGroup
	closed   bool

	// sparse marks the lookup tables' rows; with lazy, rows a batch does not
	// touch are left out of the optimizer step (see SetSparsity).
	sparse RowSparsity
	lazy   bool
	// frozen leaves the row block out of the step altogether (see
	// FreezeRows); outside is then the support of the other parameters.
	frozen  bool
	outside Support
	// supports are this step's gradient support and the previous step's,
	// which is what the buffers still hold.
	supports StepSupports
	parts    [][]span // per worker: its share of this step's support

	// per-step scratch, written by worker i only at index i
	results []device.Result
	errs    []error
	secs    []float64
	sumsq   []float64
}

// NewEngine starts one worker goroutine per replica. params are the
// master weights, updated in place by Step; clip is the maximum global
// gradient norm (0 disables clipping). Close stops the workers.
func NewEngine(params []float32, replicas []device.Replica, opt Optimizer, clip float64) (*Engine, error) {
	if len(replicas) == 0 {
		return nil, errors.New("engine: no replicas")
	}
	if len(params) == 0 {
		return nil, errors.New("engine: no parameters")
	}
	n := len(replicas)
	e := &Engine{
		params: params, replicas: replicas, opt: opt, clip: clip,
		grads: make([][]float32, n), workers: make([]chan func(), n),
		results: make([]device.Result, n), errs: make([]error, n), secs: make([]float64, n), sumsq: make([]float64, n),
		parts: make([][]span, n),
	}
	for i := range replicas {
		e.grads[i] = make([]float32, len(params))
		ch := make(chan func())
		e.workers[i] = ch
		go func() {
			// Not locked to an OS thread: see Engine.
			for f := range ch {
				f()
				e.wg.Done()
			}
		}()
	}
	return e, nil
}

// SetSparsity tells the engine which blocks of the parameters are lookup
// tables (see RowSparsity), so that every step clears and sums only the
// gradient rows of the batch's tokens and n-grams. With lazy, the optimizer
// step also skips the other rows, as TensorFlow's LazyAdam and PyTorch's
// SparseAdam do: a row's weights and moments change only in steps whose
// batch contains its token. Without lazy the update is exactly the dense
// one. The replicas must write no gradient outside the support.
func (e *Engine) SetSparsity(sp RowSparsity, lazy bool) error {
	if err := sp.check(len(e.params)); err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	e.sparse, e.lazy = sp, lazy && sp.Dim > 0
	return nil
}

// FreezeRows leaves the row block SetSparsity marked out of every step, as
// for a PyTorch embedding whose weight does not require grad: its gradient
// is neither summed nor counted in the norm that clipping reads, and its
// weights and optimizer moments never change, whatever the replicas write
// there. The buffers are still cleared over each batch's rows, so what the
// replicas write never builds up.
func (e *Engine) FreezeRows() error {
	if e.sparse.Dim == 0 {
		return errors.New("engine: no row block to freeze: SetSparsity first")
	}
	e.frozen = true
	e.outside.Set(e.sparse, data.Batch{}, len(e.params))
	return nil
}

// Workers is the number of replicas.
func (e *Engine) Workers() int { return len(e.replicas) }

// Params returns the master weights (shared, not a copy).
func (e *Engine) Params() []float32 { return e.params }

// parallel runs f(i) on every worker and waits for all.
func (e *Engine) parallel(f func(i int)) {
	e.wg.Add(len(e.workers))
	for i, ch := range e.workers {
		ch <- func() { f(i) }
	}
	e.wg.Wait()
}

// Step trains on one global batch with learning rate lr. On ErrNonFinite or
// a replica error the master weights and optimizer state are unchanged.
func (e *Engine) Step(b data.Batch, lr float64) (StepStats, error) {
	if e.closed {
		return StepStats{}, errors.New("engine: step after close")
	}
	if b.Size == 0 {
		return StepStats{}, errors.New("engine: empty batch")
	}
	t0 := time.Now()
	n := len(e.replicas)
	bounds := BalancedBounds(b, n)
	sup, prev := e.supports.Next(e.sparse, b, len(e.params))
	if e.frozen {
		sup = &e.outside // summed, measured and stepped: everything but the rows
	}
	for i := range e.parts {
		e.parts[i] = sup.part(i, n, e.parts[i][:0])
	}
	e.parallel(func(i int) {
		t := time.Now()
		prev.Clear(e.grads[i])
		e.results[i], e.errs[i] = e.replicas[i].Compute(e.params, b.Rows(bounds[i], bounds[i+1]), e.grads[i])
		e.secs[i] = time.Since(t).Seconds()
	})
	st := StepStats{LR: lr, Compute: append([]float64(nil), e.secs...)}
	if i := firstCause(e.errs); i >= 0 {
		return st, fmt.Errorf("replica %s: %w", e.replicas[i].Name(), e.errs[i])
	}
	for i := range e.replicas {
		st.Result.Add(e.results[i])
	}
	t1 := time.Now()
	inv := float32(1 / float64(b.Size))
	e.parallel(func(i int) {
		sq := 0.0
		for _, r := range e.parts[i] {
			sq += reduceRange(e.grads, r.lo, r.hi, inv)
		}
		e.sumsq[i] = sq
	})
	var sq float64
	for _, s := range e.sumsq {
		sq += s
	}
	st.GradNorm = math.Sqrt(sq)
	if math.IsNaN(st.Loss) || math.IsInf(st.Loss, 0) || math.IsNaN(st.GradNorm) || math.IsInf(st.GradNorm, 0) {
		return st, device.ErrNonFinite
	}
	st.ClipScale = ClipScale(st.GradNorm, e.clip)
	e.opt.Begin()
	g := e.grads[0]
	scale := float32(st.ClipScale)
	e.parallel(func(i int) {
		if e.lazy || e.frozen {
			for _, r := range e.parts[i] {
				if scale != 1 {
					scaleRange(g[r.lo:r.hi], scale)
				}
				e.opt.Update(e.params, g, lr, r.lo, r.hi)
			}
			return
		}
		// Outside the support g is zero, and the dense step still moves
		// those weights by their moments.
		lo, hi := reduceSlice(len(e.params), i, n)
		if scale != 1 {
			scaleRange(g[lo:hi], scale)
		}
		e.opt.Update(e.params, g, lr, lo, hi)
	})
	st.ReduceSecs = time.Since(t1).Seconds()
	st.Seconds = time.Since(t0).Seconds()
	return st, nil
}

// firstCause is the index of the error to report of a step's replica
// errors (-1 for none): the first that is not a worker of a share
// stopping because another failed, so that the report names the cause.
func firstCause(errs []error) int {
	first := -1
	for i, err := range errs {
		switch {
		case err == nil:
		case !errors.Is(err, model.ErrShareBroken):
			return i
		case first < 0:
			first = i
		}
	}
	return first
}

// BalancedBounds splits b's rows into n contiguous shards with about equal
// real tokens: shard i is rows [bounds[i], bounds[i+1]). The engine splits
// every batch over its replicas with it, and MPI ranks theirs. A bucketed batch
// holds its rows sorted by length, so an even split by rows (data.Batch.Shard)
// would hand the last replica the longest reviews and make the others wait
// for it every step; the cost of a replica follows its real tokens.
func BalancedBounds(b data.Batch, n int) []int {
	bounds := make([]int, n+1)
	total := b.RealTokens()
	if total == 0 {
		for i := range bounds {
			bounds[i], _ = data.ShardRange(b.Size, i, n)
		}
		bounds[n] = b.Size
		return bounds
	}
	cum, r := 0, 0
	for i := 1; i < n; i++ {
		target := total * i / n
		for r < b.Size && cum+int(b.Lengths[r]) <= target {
			cum += int(b.Lengths[r])
			r++
		}
		// Take the next row too when that lands closer to the target.
		if r < b.Size && cum+int(b.Lengths[r])-target < target-cum {
			cum += int(b.Lengths[r])
			r++
		}
		bounds[i] = r
	}
	bounds[n] = b.Size
	return bounds
}

// Close stops the worker goroutines. The engine cannot step afterwards.
func (e *Engine) Close() {
	if e.closed {
		return
	}
	e.closed = true
	for _, ch := range e.workers {
		close(ch)
	}
}

// ForwardAll computes the logits of every batch, spreading batches over the
// forwarders (one goroutine each) as they become free. The result
// does not depend on which forwarder took which batch.
func ForwardAll(fw []device.Forwarder, params []float32, batches []data.Batch) ([][]float32, error) {
	if len(fw) == 0 {
		return nil, errors.New("forward: no workers")
	}
	out := make([][]float32, len(batches))
	var next atomic.Int64
	errs := make([]error, len(fw))
	var wg sync.WaitGroup
	for w := range fw {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				j := int(next.Add(1) - 1)
				if j >= len(batches) {
					return
				}
				logits := make([]float32, batches[j].Size)
				if err := fw[w].Forward(params, batches[j], logits); err != nil {
					errs[w] = fmt.Errorf("batch %d: %w", j, err)
					next.Store(int64(len(batches))) // stop the others early
					return
				}
				out[j] = logits
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// Evaluate scores params on labelled batches in parallel.
func Evaluate(fw []device.Forwarder, params []float32, batches []data.Batch) (Metrics, error) {
	logits, err := ForwardAll(fw, params, batches)
	if err != nil {
		return Metrics{}, err
	}
	var t Tally
	for j, l := range logits {
		t.Add(l, batches[j].Labels)
	}
	return t.Metrics(), nil
}
