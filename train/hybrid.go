package train

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"trainer/data"
	"trainer/train/device"
)

// HybridOptions tunes the hybrid scheduler.
type HybridOptions struct {
	// Alpha is the weight of the newest measurement in the moving average
	// of each replica's reduce cost (0 < Alpha <= 1). Zero means 0.5.
	Alpha float64
	// Prior is an optional first guess of each replica's rows/s (0 for
	// unknown), taken as a pure per-row cost, so that a GPU known to be
	// much faster than a CPU worker does not spend the first steps waiting
	// on an even split. PriorCost, when set, replaces it.
	Prior []float64
	// PriorCost is an optional first model of each replica (zero for
	// unknown), e.g. from a short probe run or an earlier run's metrics.
	PriorCost []HybridCost
	// WarmupSteps is how many of each replica's first steps are not
	// measured (0: 1; negative: none).
	WarmupSteps int
	// ReprobeEvery is how often a replica given nothing gets one row to be
	// measured again (0: every 16 steps, or 32 when that row would lengthen
	// the step; negative: never).
	ReprobeEvery int
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
	Reduce     float64 `json:"reduce_s"`   // clearing and summing its buffer
	RowsPerSec float64 `json:"rows_per_s"` // modelled rows/s at its share, after this step
	Excluded   bool    `json:"excluded"`   // would not shorten the step: given nothing
	Probe      bool    `json:"probe"`      // left out, but given a row or a few to be measured again
	// Model is the replica's fitted cost after this step.
	Model HybridCost `json:"model"`
}

// HybridSchedule reports how one global batch was split and how long each replica
// waited for the slowest, so that imbalance is visible in the metrics.
type HybridSchedule struct {
	Step    int           `json:"step"`
	Rows    int           `json:"rows"`
	Seconds float64       `json:"seconds"`   // wall time of the whole step
	Planned float64       `json:"planned_s"` // modelled step of the split (0 while probing)
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
// global batch at a time. Each replica's step is modelled as a fixed cost
// plus a cost per row (HybridCost), fitted from its measured steps; the
// scheduler gives rows to the set of replicas, and in the proportions,
// that make the modelled step shortest, so a replica gets rows only when
// that shortens the step. Gradients are summed in fp32, in replica order,
// so the result does not depend on which replica finished first.
//
// Each replica always runs on the same goroutine. It is not locked to an OS
// thread (see Engine): a GPU replica makes its context current on the
// thread of each call.
//
// Hybrid is itself a Replica: an engine, or an MPI rank, can use it as its
// one device. It is not safe for concurrent use; Close stops its goroutines.
type Hybrid struct {
	replicas []device.Replica
	policy   *costPolicy
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
	if opt.PriorCost != nil && len(opt.PriorCost) != len(replicas) {
		return nil, fmt.Errorf("hybrid scheduler: %d prior costs for %d replicas", len(opt.PriorCost), len(replicas))
	}
	prior := make([]HybridCost, len(replicas))
	for i, p := range opt.Prior {
		if p < 0 || math.IsNaN(p) || math.IsInf(p, 0) {
			return nil, fmt.Errorf("hybrid scheduler: prior %v for replica %s is not a rate", p, replicas[i].Name())
		}
		if p > 0 {
			prior[i] = HybridCost{PerRow: 1 / p}
		}
	}
	for i, c := range opt.PriorCost {
		for _, v := range []float64{c.Fixed, c.PerRow, c.Reduce} {
			if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("hybrid scheduler: prior cost %+v for replica %s is not a cost", c, replicas[i].Name())
			}
		}
		if c.Fixed > 0 || c.PerRow > 0 {
			prior[i] = c
		}
	}
	warmup := opt.WarmupSteps
	switch {
	case warmup == 0:
		warmup = defaultWarmupSteps
	case warmup < 0:
		warmup = 0
	}
	reprobe := opt.ReprobeEvery
	if reprobe == 0 {
		reprobe = defaultReprobeEvery
	}
	return &Hybrid{
		replicas: replicas,
		policy:   newCostPolicy(len(replicas), warmup, reprobe, prior),
		alpha:    alpha,
		bufs:     make([][]float32, len(replicas)),
		sparse:   opt.Sparsity,
	}, nil
}

// Name identifies the scheduler in logs.
func (h *Hybrid) Name() string { return fmt.Sprintf("hybrid(%d)", len(h.replicas)) }

// Rates returns each replica's modelled rows/s at its latest share (0
// until it has a model).
func (h *Hybrid) Rates() []float64 {
	out := make([]float64, len(h.replicas))
	for i := range out {
		out[i] = h.policy.rate(i, h.last.Rows)
	}
	return out
}

// Models returns each replica's fitted cost.
func (h *Hybrid) Models() []HybridCost { return h.policy.models() }

// Last returns the schedule of the most recent step.
func (h *Hybrid) Last() HybridSchedule { return h.last }

// Compute implements Replica: it adds the gradient of the whole batch to grad.
func (h *Hybrid) Compute(params []float32, b data.Batch, grad []float32) (device.Result, error) {
	res, _, err := h.Step(params, b, grad)
	return res, err
}

// Split returns the rows each replica would get for a batch of n rows
// under the current models, leaving out re-probes. It does not advance
// the schedule.
func (h *Hybrid) Split(n int) []int {
	p := *h.policy
	p.reps = append([]replicaCost(nil), h.policy.reps...)
	p.reprobeEvery = 0
	rows, _ := p.split(n)
	return rows
}

// Step splits b over the replicas, runs them concurrently, adds the summed
// gradient to grad and reports the schedule.
func (h *Hybrid) Step(params []float32, b data.Batch, grad []float32) (device.Result, HybridSchedule, error) {
	h.step++
	rows, probe := h.policy.split(b.Size)
	sched := HybridSchedule{Step: h.step, Rows: b.Size, Planned: h.policy.planned, Shares: make([]HybridShare, len(h.replicas))}
	reduce := make([]float64, len(h.replicas))

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
		t0 := time.Now()
		switch {
		case len(h.bufs[i]) == len(grad):
			prev.Clear(h.bufs[i])
		case rows[i] > 0:
			h.bufs[i] = make([]float32, len(grad))
		}
		reduce[i] = time.Since(t0).Seconds()
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
		sh := HybridShare{Name: r.Name(), Rows: rows[i], Excluded: rows[i] == 0, Probe: probe[i]}
		if rows[i] > 0 {
			o := outs[i]
			total.Add(o.res)
			t0 := time.Now()
			sup.Add(grad, h.bufs[i])
			sh.Reduce = reduce[i] + time.Since(t0).Seconds()
			sh.Seconds = o.dur.Seconds()
			sh.Idle = math.Max(0, wall-sh.Seconds)
			if wall > 0 {
				sh.IdleFrac = sh.Idle / wall
			}
			h.policy.observe(i, rows[i], sh.Seconds, sh.Reduce, probe[i], h.alpha)
		}
		sched.Shares[i] = sh
	}
	for i := range sched.Shares {
		sched.Shares[i].RowsPerSec = h.policy.rate(i, b.Size)
		sched.Shares[i].Model = h.policy.reps[i].fit
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
