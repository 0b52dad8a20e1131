package train

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"sync"
	"time"

	"trainer/data"
	"trainer/train/device"
)

// HybridOptions tunes the hybrid scheduler.
type HybridOptions struct {
	// Alpha is the weight of the newest throughput measurement in the
	// moving average (0 < Alpha <= 1). Zero means 0.5: fast enough to settle
	// in a few steps, smooth enough to ignore one noisy step.
	Alpha float64
	// Prior is an optional first guess of each replica's rows/s (0 for
	// unknown), so that a GPU known to be much faster than a CPU worker
	// does not spend the first step waiting on an even split.
	Prior []float64
	// Sparsity, when set, is the embedding block of the parameters: the
	// replicas' buffers are then cleared and summed over the batch's
	// support only (see RowSparsity).
	Sparsity RowSparsity
}

// HybridShare is one replica's part of one scheduled step.
type HybridShare struct {
	Name       string  `json:"name"`
	Rows       int     `json:"rows"`       // rows of the global batch it was given
	Seconds    float64 `json:"seconds"`    // wall time of its Compute
	Idle       float64 `json:"idle_s"`     // step wall time minus Seconds
	IdleFrac   float64 `json:"idle_frac"`  // Idle / step wall time
	RowsPerSec float64 `json:"rows_per_s"` // moving average after this step
	Excluded   bool    `json:"excluded"`   // too slow to help: given nothing
}

// HybridSchedule reports how one global batch was split and how long each replica
// waited for the slowest, so that imbalance is visible in the metrics.
type HybridSchedule struct {
	Step    int           `json:"step"`
	Rows    int           `json:"rows"`
	Seconds float64       `json:"seconds"` // wall time of the whole step
	Shares  []HybridShare `json:"shares"`
}

// MaxIdleFrac is the largest idle fraction over the replicas that got rows.
func (s HybridSchedule) MaxIdleFrac() float64 {
	m := 0.0
	for _, sh := range s.Shares {
		if sh.Rows > 0 {
			m = math.Max(m, sh.IdleFrac)
		}
	}
	return m
}

// Hybrid runs replicas of different speeds (GPU streams, CPU workers) on one
// global batch at a time, giving each a share of rows proportional to its
// measured throughput so that all finish together. A replica whose share
// would be under one row, or whose single row would take longer than the
// rest of the step, gets nothing. Gradients are summed in fp32, in replica
// order, so the result does not depend on which replica finished first.
//
// Each replica always runs on the same goroutine. It is not locked to an OS
// thread (see Engine): a GPU replica makes its context current on the
// thread of each call.
//
// Hybrid is itself a Replica: an engine, or an MPI rank, can use it as its
// one device. It is not safe for concurrent use; Close stops its goroutines.
type Hybrid struct {
	replicas []device.Replica
	rate     []float64 // moving average of rows/s; 0 until measured
	alpha    float64
	bufs     [][]float32
	sparse   RowSparsity
	supports StepSupports // this step's and the previous step's: what bufs may hold
	step     int
	last     HybridSchedule
	work     []chan func() // one goroutine per replica, started on first use
	wg       sync.WaitGroup
}

// NewHybrid builds a scheduler over the given replicas.
func NewHybrid(replicas []device.Replica, opt HybridOptions) (*Hybrid, error) {
	if len(replicas) == 0 {
		return nil, errors.New("hybrid scheduler: no replicas")
	}
	alpha := opt.Alpha
	if alpha == 0 {
		alpha = 0.5
	}
	if alpha < 0 || alpha > 1 || math.IsNaN(alpha) {
		return nil, fmt.Errorf("hybrid scheduler: alpha %v outside (0, 1]", opt.Alpha)
	}
	if opt.Prior != nil && len(opt.Prior) != len(replicas) {
		return nil, fmt.Errorf("hybrid scheduler: %d priors for %d replicas", len(opt.Prior), len(replicas))
	}
	h := &Hybrid{
		replicas: replicas,
		rate:     make([]float64, len(replicas)),
		alpha:    alpha,
		bufs:     make([][]float32, len(replicas)),
		sparse:   opt.Sparsity,
	}
	for i, p := range opt.Prior {
		if p < 0 || math.IsNaN(p) || math.IsInf(p, 0) {
			return nil, fmt.Errorf("hybrid scheduler: prior %v for replica %s is not a rate", p, replicas[i].Name())
		}
		h.rate[i] = p
	}
	return h, nil
}

// Name identifies the scheduler in logs.
func (h *Hybrid) Name() string { return fmt.Sprintf("hybrid(%d)", len(h.replicas)) }

// Rates returns the current moving averages of rows/s per replica.
func (h *Hybrid) Rates() []float64 { return append([]float64(nil), h.rate...) }

// Last returns the schedule of the most recent step.
func (h *Hybrid) Last() HybridSchedule { return h.last }

// Compute implements Replica: it adds the gradient of the whole batch to grad.
func (h *Hybrid) Compute(params []float32, b data.Batch, grad []float32) (device.Result, error) {
	res, _, err := h.Step(params, b, grad)
	return res, err
}

// Split returns the rows each replica gets for a batch of n rows under the
// current throughput estimates.
func (h *Hybrid) Split(n int) []int {
	return splitRows(n, h.rate)
}

// Step splits b over the replicas, runs them concurrently, adds the summed
// gradient to grad and reports the schedule.
func (h *Hybrid) Step(params []float32, b data.Batch, grad []float32) (device.Result, HybridSchedule, error) {
	h.step++
	rows := h.Split(b.Size)
	sched := HybridSchedule{Step: h.step, Rows: b.Size, Shares: make([]HybridShare, len(h.replicas))}

	type outcome struct {
		res device.Result
		dur time.Duration
		err error
	}
	outs := make([]outcome, len(h.replicas))
	if err := h.sparse.check(len(grad)); err != nil {
		return device.Result{}, sched, fmt.Errorf("hybrid scheduler: %w", err)
	}
	// Every buffer is zero outside the previous step's support, so
	// clearing that zeroes it whole, written this step or not.
	sup, prev := h.supports.Next(h.sparse, b, len(grad))
	for i := range h.bufs {
		switch {
		case len(h.bufs[i]) == len(grad):
			prev.Clear(h.bufs[i])
		case rows[i] > 0:
			h.bufs[i] = make([]float32, len(grad))
		}
	}
	h.start()
	start := time.Now()
	lo := 0
	for i, r := range h.replicas {
		n := rows[i]
		if n == 0 {
			continue
		}
		part := b.Rows(lo, lo+n)
		lo += n
		h.wg.Add(1)
		h.work[i] <- func() {
			t0 := time.Now()
			res, err := r.Compute(params, part, h.bufs[i])
			outs[i] = outcome{res, time.Since(t0), err}
		}
	}
	h.wg.Wait()
	wall := time.Since(start).Seconds()

	var total device.Result
	for i, o := range outs {
		if o.err != nil {
			return total, sched, fmt.Errorf("hybrid step %d: replica %s on %d rows: %w", h.step, h.replicas[i].Name(), rows[i], o.err)
		}
	}
	for i, r := range h.replicas {
		sh := HybridShare{Name: r.Name(), Rows: rows[i], Excluded: rows[i] == 0}
		if rows[i] > 0 {
			o := outs[i]
			total.Add(o.res)
			sup.Add(grad, h.bufs[i])
			sh.Seconds = o.dur.Seconds()
			sh.Idle = math.Max(0, wall-sh.Seconds)
			if wall > 0 {
				sh.IdleFrac = sh.Idle / wall
			}
			h.observe(i, rows[i], o.dur)
		}
		sh.RowsPerSec = h.rate[i]
		sched.Shares[i] = sh
	}
	sched.Seconds = wall
	h.last = sched
	return total, sched, nil
}

// start launches the replica goroutines once.
func (h *Hybrid) start() {
	if h.work != nil {
		return
	}
	h.work = make([]chan func(), len(h.replicas))
	for i := range h.work {
		ch := make(chan func())
		h.work[i] = ch
		go func() {
			// Not locked to an OS thread: see Engine.
			for f := range ch {
				f()
				h.wg.Done()
			}
		}()
	}
}

// Close stops the replica goroutines; a later Step starts new ones.
func (h *Hybrid) Close() {
	for _, ch := range h.work {
		close(ch)
	}
	h.work = nil
}

// observe folds one measurement into replica i's moving average.
func (h *Hybrid) observe(i, rows int, d time.Duration) {
	// A duration of zero (a clock too coarse for a tiny share) says only that
	// the replica is fast; one nanosecond keeps the rate finite.
	s := math.Max(d.Seconds(), 1e-9)
	r := float64(rows) / s
	if h.rate[i] == 0 {
		h.rate[i] = r
		return
	}
	h.rate[i] = h.alpha*r + (1-h.alpha)*h.rate[i]
}

// splitRows divides n rows by rate. Unmeasured replicas (rate 0) are
// assumed as fast as the mean of the measured ones, or all equal when none
// is measured yet, so that each gets measured once. A replica is dropped
// when its proportional share is under one row or when giving it a single
// row would take longer than the step the others need without it; rows are
// rounded by largest remainder so they always sum to n.
func splitRows(n int, rate []float64) []int {
	k := len(rate)
	rows := make([]int, k)
	if n <= 0 {
		return rows
	}
	eff := make([]float64, k)
	sum, measured := 0.0, 0
	for _, r := range rate {
		if r > 0 {
			sum += r
			measured++
		}
	}
	for i, r := range rate {
		switch {
		case r > 0:
			eff[i] = r
		case measured > 0:
			eff[i] = sum / float64(measured)
		default:
			eff[i] = 1
		}
	}
	active := make([]bool, k)
	for i := range active {
		active[i] = true
	}
	// Drop the slowest replica while it does not pay for itself. Each pass
	// removes one, so this ends after at most k passes.
	for {
		total := 0.0
		nActive := 0
		slow := -1
		for i := range eff {
			if !active[i] {
				continue
			}
			nActive++
			total += eff[i]
			if slow < 0 || eff[i] <= eff[slow] { // ties drop the later replica
				slow = i
			}
		}
		if nActive <= 1 {
			break
		}
		share := float64(n) * eff[slow] / total
		without := float64(n) / (total - eff[slow]) // step time if it sits out
		if share >= 1 && 1/eff[slow] <= without {
			break
		}
		active[slow] = false
	}
	total := 0.0
	for i := range eff {
		if active[i] {
			total += eff[i]
		}
	}
	type rem struct {
		i int
		f float64
	}
	var rems []rem
	given := 0
	for i := range eff {
		if !active[i] {
			continue
		}
		exact := float64(n) * eff[i] / total
		rows[i] = int(math.Floor(exact))
		given += rows[i]
		rems = append(rems, rem{i, exact - float64(rows[i])})
	}
	sort.SliceStable(rems, func(a, b int) bool { return rems[a].f > rems[b].f })
	for j := 0; given < n; j++ {
		rows[rems[j%len(rems)].i]++
		given++
	}
	return rows
}
