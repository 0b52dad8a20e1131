package train

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"trainer/data"
	"trainer/model"
)

// PipelineOptions configures model parallelism for one replica.
type PipelineOptions struct {
	// Stages is the number of pipeline stages, each on its own goroutine;
	// at most Layers+1 (the LSTM layers and the head).
	Stages int
	// MicroBatches is how many micro-batches a replica's batch is cut into.
	// More shrink the fill/drain bubble, (K-1)/(M+K-1) for K stages, but
	// make each matrix product smaller. Zero means 4 per stage.
	MicroBatches int
}

// PipelineStats reports one Compute of a pipeline: where the stages split
// the model, how long each stage worked, and the bubble: the fraction of
// stage time spent waiting for a neighbour.
type PipelineStats struct {
	Stages       [][]int   `json:"stages"` // units per stage: 0 = embedding+LSTM 0, l = LSTM l, Layers = head
	MicroBatches int       `json:"micro_batches"`
	Seconds      float64   `json:"seconds"`
	Busy         []float64 `json:"busy_s"`
	Bubble       float64   `json:"bubble"` // 1 - sum(busy) / (stages * seconds)
}

// Pipeline is a model-parallel replica: the model's units are split into
// contiguous stages, each stage runs on its own goroutine, and micro-batches
// flow forward through channels and their gradients flow back (GPipe: every
// stage runs all forwards, then all backwards; the last stage runs each
// micro-batch's backward right after its forward). Every unit adds only to
// its own part of the gradient buffer, so the stages never share a write.
//
// Pipeline implements Replica, so data parallelism across pipelines is an
// Engine whose replicas are pipelines. It is not safe for concurrent use.
type Pipeline struct {
	name   string
	runner unitRunner
	stages [][]int
	micro  int
	states []*microState
	last   PipelineStats
}

// NewPipeline splits the model of c into opt.Stages stages balanced by
// estimated work. More stages than units is an error naming the limit.
func NewPipeline(name string, c model.Config, opt PipelineOptions) (*Pipeline, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	units := c.Layers + 1
	if opt.Stages < 1 {
		return nil, fmt.Errorf("pipeline stages %d: need at least 1", opt.Stages)
	}
	if opt.Stages > units {
		return nil, fmt.Errorf("pipeline stages %d: the model has only %d units to split (%d LSTM layer(s) + the head); use --pipeline-stages %d or fewer, or more --layers",
			opt.Stages, units, c.Layers, units)
	}
	micro := opt.MicroBatches
	if micro == 0 {
		micro = 4 * opt.Stages
	}
	if micro < 1 {
		return nil, fmt.Errorf("pipeline micro-batches %d: need at least 1", micro)
	}
	costs := make([]float64, units)
	for u := range costs {
		costs[u] = unitCost(c, u)
	}
	return &Pipeline{
		name:   name,
		runner: unitRunner{cfg: c, lay: model.NewLayout(c)},
		stages: balanceStages(costs, opt.Stages),
		micro:  micro,
	}, nil
}

// Name identifies the pipeline in logs.
func (p *Pipeline) Name() string { return p.name }

// Stages lists the units of each stage.
func (p *Pipeline) Stages() [][]int { return p.stages }

// Last reports the most recent Compute.
func (p *Pipeline) Last() PipelineStats { return p.last }

// Compute implements Replica: it adds the gradient of b's summed loss to grad.
func (p *Pipeline) Compute(params []float32, b data.Batch, grad []float32) (Result, error) {
	if b.Size == 0 {
		return Result{}, nil
	}
	if n := p.runner.lay.Size(); len(params) != n || len(grad) != n {
		return Result{}, fmt.Errorf("pipeline %s: %d parameters and %d gradients given, the model has %d", p.name, len(params), len(grad), n)
	}
	m := min(p.micro, b.Size)
	for len(p.states) < m {
		p.states = append(p.states, &microState{layers: make([]unitLayer, p.runner.cfg.Layers)})
	}
	for i := 0; i < m; i++ {
		p.states[i].b = b.Shard(i, m)
	}
	k := len(p.stages)
	// fwd[s] carries micro-batch indices into stage s, bwd[s] gradients into
	// stage s from stage s+1. Buffers of m never block a sender, so a stage
	// can run ahead of its neighbour by the whole batch.
	fwd := make([]chan int, k)
	bwd := make([]chan int, k)
	for s := range fwd {
		fwd[s] = make(chan int, m)
		bwd[s] = make(chan int, m)
	}
	for i := 0; i < m; i++ {
		fwd[0] <- i
	}
	busy := make([]time.Duration, k)
	errs := make([]error, k)
	var wg sync.WaitGroup
	start := time.Now()
	for s := range p.stages {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[s] = p.runStage(s, m, params, grad, fwd, bwd, &busy[s])
		}()
	}
	wg.Wait()
	wall := time.Since(start).Seconds()
	if err := errors.Join(errs...); err != nil {
		return Result{}, fmt.Errorf("pipeline %s: %w", p.name, err)
	}
	var res Result
	for i := 0; i < m; i++ {
		st := p.states[i]
		res.Add(Result{Loss: st.loss, Correct: st.correct, Rows: st.b.Size, Tokens: st.b.RealTokens()})
	}
	stats := PipelineStats{Stages: p.stages, MicroBatches: m, Seconds: wall, Busy: make([]float64, k)}
	var sum float64
	for s, d := range busy {
		stats.Busy[s] = d.Seconds()
		sum += d.Seconds()
	}
	if wall > 0 {
		stats.Bubble = math.Max(0, 1-sum/(float64(k)*wall))
	}
	p.last = stats
	return res, nil
}

// runStage is one stage's goroutine for one batch. A panic in the model
// code (a token id outside the vocabulary) becomes an error, and the
// stage still passes every micro-batch on so that no neighbour waits
// forever.
func (p *Pipeline) runStage(s, m int, params, grad []float32, fwd, bwd []chan int, busy *time.Duration) (err error) {
	k := len(p.stages)
	units := p.stages[s]
	run := func(f func()) {
		defer func() {
			if r := recover(); r != nil && err == nil {
				err = fmt.Errorf("stage %d: %v", s, r)
			}
		}()
		if err != nil {
			return
		}
		t := time.Now()
		f()
		*busy += time.Since(t)
	}
	for n := 0; n < m; n++ {
		i := <-fwd[s]
		st := p.states[i]
		run(func() {
			for _, u := range units {
				p.runner.forward(u, st, params, grad)
			}
		})
		if s < k-1 {
			fwd[s+1] <- i
			continue
		}
		// The last stage holds the head: its backward starts at once.
		run(func() { p.backwardUnits(units, st, params, grad) })
		if s > 0 {
			bwd[s-1] <- i
		}
	}
	if s == k-1 {
		return err
	}
	for n := 0; n < m; n++ {
		i := <-bwd[s]
		run(func() { p.backwardUnits(units, p.states[i], params, grad) })
		if s > 0 {
			bwd[s-1] <- i
		}
	}
	return err
}

func (p *Pipeline) backwardUnits(units []int, st *microState, params, grad []float32) {
	for j := len(units) - 1; j >= 0; j-- {
		p.runner.backward(units[j], st, params, grad)
	}
}

// balanceStages splits units with the given costs into k contiguous,
// non-empty stages minimising the most expensive stage (exact dynamic
// programming; the unit count is small).
func balanceStages(costs []float64, k int) [][]int {
	n := len(costs)
	prefix := make([]float64, n+1)
	for i, c := range costs {
		prefix[i+1] = prefix[i] + c
	}
	// best[j][i]: the smallest maximum over j stages covering units [0, i).
	inf := math.Inf(1)
	best := make([][]float64, k+1)
	cut := make([][]int, k+1)
	for j := range best {
		best[j] = make([]float64, n+1)
		cut[j] = make([]int, n+1)
		for i := range best[j] {
			best[j][i] = inf
		}
	}
	best[0][0] = 0
	for j := 1; j <= k; j++ {
		for i := j; i <= n; i++ {
			for c := j - 1; c < i; c++ {
				v := math.Max(best[j-1][c], prefix[i]-prefix[c])
				if v < best[j][i] {
					best[j][i], cut[j][i] = v, c
				}
			}
		}
	}
	stages := make([][]int, k)
	hi := n
	for j := k; j >= 1; j-- {
		lo := cut[j][hi]
		for u := lo; u < hi; u++ {
			stages[j-1] = append(stages[j-1], u)
		}
		hi = lo
	}
	return stages
}

// NewPipelines builds the replicas of DDP + model parallelism on workers
// goroutines: workers/opt.Stages pipelines of opt.Stages stages each,
// data-parallel across pipelines when given to an Engine.
func NewPipelines(c model.Config, workers int, opt PipelineOptions) ([]*Pipeline, error) {
	if opt.Stages < 1 || workers < opt.Stages || workers%opt.Stages != 0 {
		return nil, fmt.Errorf("pipeline: %d workers do not form whole pipelines of %d stages; use a multiple of %d", workers, opt.Stages, max(opt.Stages, 1))
	}
	out := make([]*Pipeline, workers/opt.Stages)
	for i := range out {
		p, err := NewPipeline(fmt.Sprintf("pipe%d", i), c, opt)
		if err != nil {
			return nil, err
		}
		out[i] = p
	}
	return out, nil
}
