package train

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"trainer/data"
	"trainer/model"
	"trainer/train/device"
)

// PipelineOptions configures model parallelism for one replica.
type PipelineOptions struct {
	// Stages is the number of pipeline stages, each on its own goroutine;
	// at most the model's units (see pipelineUnits).
	Stages int
	// MicroBatches is how many micro-batches a replica's batch is cut into.
	// Zero means 2 for a unidirectional model, whose stages overlap over
	// time chunks within a micro-batch, and across the two so that one
	// stage's forward pass of the second runs beside the next stage's
	// backward pass of the first (E=H=256, two layers, 2 stages: bubble
	// 21% with one micro-batch, 12% with two); and 4 per stage for a
	// bidirectional one, whose stages overlap over micro-batches only
	// (GPipe), the bubble being (K-1)/(M+K-1) for K stages.
	MicroBatches int
	// Chunks is how many time chunks a unidirectional micro-batch's steps
	// are cut into (zero: 16); more shrink the bubble, fewer make each
	// input projection one larger product.
	Chunks int
}

// PipelineStats reports one Compute of a pipeline: where the stages split
// the model, how long each stage worked, and the bubble: the fraction of
// stage time spent waiting for a neighbour.
type PipelineStats struct {
	Stages       [][]int   `json:"stages"` // unit indices per stage (see Units)
	Units        []string  `json:"units"`  // the model's units in order
	MicroBatches int       `json:"micro_batches"`
	Chunks       int       `json:"chunks"` // time chunks per micro-batch
	Seconds      float64   `json:"seconds"`
	Busy         []float64 `json:"busy_s"`
	Bubble       float64   `json:"bubble"` // 1 - sum(busy) / (stages * seconds)
}

// Pipeline is a model-parallel replica: the model's units (see
// pipelineUnits) are split into contiguous stages, each on its own
// goroutine. Work items, a chunk of steps of a micro-batch, flow forward
// through channels and their gradients flow back: every stage runs its
// forward items, then its backward items (GPipe), the last stage running
// each micro-batch's backward right after its forward. Every unit adds only
// to its own part of the gradient buffer, so the stages never share a
// write.
//
// Pipeline implements Replica, so data parallelism across pipelines is an
// Engine whose replicas are pipelines. It is not safe for concurrent use.
type Pipeline struct {
	name   string
	runner unitRunner
	units  []unit
	stages [][]int
	micro  int
	chunks int
	states []*microState
	last   PipelineStats
}

// NewPipeline splits the model of c into opt.Stages stages balanced by
// estimated work. More stages than units is an error naming the limit.
func NewPipeline(name string, c model.Config, opt PipelineOptions) (*Pipeline, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	units := pipelineUnits(c)
	if opt.Stages < 1 {
		return nil, fmt.Errorf("pipeline stages %d: need at least 1", opt.Stages)
	}
	if opt.Stages > len(units) {
		return nil, fmt.Errorf("pipeline stages %d: the model has only %d units to split (%s); use --pipeline-stages %d or fewer, or more --layers",
			opt.Stages, len(units), unitNames(units), len(units))
	}
	micro, chunks := opt.MicroBatches, opt.Chunks
	if micro < 0 || chunks < 0 {
		return nil, fmt.Errorf("pipeline micro-batches %d and chunks %d: need at least 1 (or 0 for the default)", micro, chunks)
	}
	if micro == 0 {
		micro = 2
		if c.Bidirectional {
			micro = 4 * opt.Stages
		}
	}
	if chunks == 0 {
		chunks = 16
	}
	costs := make([]float64, len(units))
	for i, u := range units {
		costs[i] = u.cost(c)
	}
	return &Pipeline{
		name:   name,
		runner: unitRunner{cfg: c, lay: model.NewLayout(c)},
		units:  units,
		stages: balanceStages(costs, opt.Stages),
		micro:  micro,
		chunks: chunks,
	}, nil
}

// unitNames describes units for messages and the metrics.
func unitNames(us []unit) string {
	names := make([]string, len(us))
	for i, u := range us {
		names[i] = u.String()
	}
	return strings.Join(names, ", ")
}

func (u unit) String() string {
	switch u.kind {
	case unitEmbed:
		return "embedding+lstm0"
	case unitProj:
		return fmt.Sprintf("lstm%d.input", u.layer)
	case unitRec:
		return fmt.Sprintf("lstm%d", u.layer)
	case unitLayer:
		return fmt.Sprintf("lstm%d", u.layer)
	}
	return "head"
}

// Name identifies the pipeline in logs.
func (p *Pipeline) Name() string { return p.name }

// Stages lists the unit indices of each stage.
func (p *Pipeline) Stages() [][]int { return p.stages }

// Last reports the most recent Compute.
func (p *Pipeline) Last() PipelineStats { return p.last }

// item is one unit of pipeline work: chunk c of micro-batch m.
type item struct{ m, c int }

// Compute implements Replica: it adds the gradient of b's summed loss to grad.
func (p *Pipeline) Compute(params []float32, b data.Batch, grad []float32) (res device.Result, err error) {
	if b.Size == 0 {
		return device.Result{}, nil
	}
	if n := p.runner.lay.Size(); len(params) != n || len(grad) != n {
		return device.Result{}, fmt.Errorf("pipeline %s: %d parameters and %d gradients given, the model has %d", p.name, len(params), len(grad), n)
	}
	m := min(p.micro, b.Size)
	for len(p.states) < m {
		p.states = append(p.states, &microState{layers: make([]layerUnits, p.runner.cfg.Layers)})
	}
	if err := p.prepare(b, m); err != nil {
		return device.Result{}, fmt.Errorf("pipeline %s: %w", p.name, err)
	}
	var order []item
	for i := 0; i < m; i++ {
		for c := 0; c+1 < len(p.states[i].cuts); c++ {
			order = append(order, item{i, c})
		}
	}
	k := len(p.stages)
	// fwd[s] carries items into stage s, bwd[s] gradients into stage s from
	// stage s+1. Buffers of every item never block a sender, so a stage can
	// run ahead of its neighbour by the whole batch.
	fwd := make([]chan item, k)
	bwd := make([]chan item, k)
	for s := range fwd {
		fwd[s] = make(chan item, len(order))
		bwd[s] = make(chan item, len(order))
	}
	for _, it := range order {
		fwd[0] <- it
	}
	busy := make([]time.Duration, k)
	errs := make([]error, k)
	var wg sync.WaitGroup
	start := time.Now()
	for s := range p.stages {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[s] = p.runStage(s, len(order), params, grad, fwd, bwd, &busy[s])
		}()
	}
	wg.Wait()
	wall := time.Since(start).Seconds()
	if err := errors.Join(errs...); err != nil {
		return device.Result{}, fmt.Errorf("pipeline %s: %w", p.name, err)
	}
	for i := 0; i < m; i++ {
		st := p.states[i]
		res.Add(device.Result{Loss: st.loss, Correct: st.correct, Rows: st.b.Size, Tokens: st.b.RealTokens()})
	}
	stats := PipelineStats{Stages: p.stages, Units: PipelineUnits(p.runner.cfg), MicroBatches: m,
		Chunks: len(order) / m, Seconds: wall, Busy: make([]float64, k)}
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

// prepare cuts b into m micro-batches and packs each, turning a panic of
// the model code (a token id outside the vocabulary) into an error.
func (p *Pipeline) prepare(b data.Batch, m int) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	for i := 0; i < m; i++ {
		st := p.states[i]
		st.b = b.Shard(i, m)
		p.runner.prepare(st, p.chunks)
	}
	return nil
}

// runStage is one stage's goroutine for one batch of n items. A panic in
// the model code becomes an error, and the stage still passes every item
// on so that no neighbour waits forever.
func (p *Pipeline) runStage(s, n int, params, grad []float32, fwd, bwd []chan item, busy *time.Duration) (err error) {
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
	backward := func(it item) {
		st := p.states[it.m]
		run(func() {
			for j := len(units) - 1; j >= 0; j-- {
				p.runner.backward(p.units[units[j]], st, it.c, params, grad)
			}
		})
		if s > 0 {
			bwd[s-1] <- it
		}
		if it.c == 0 {
			// The weight gradients wait until the stage below has its
			// last chunk of input gradient.
			run(func() {
				for j := len(units) - 1; j >= 0; j-- {
					p.runner.end(p.units[units[j]], st, params, grad)
				}
			})
		}
	}
	for i := 0; i < n; i++ {
		it := <-fwd[s]
		st := p.states[it.m]
		run(func() {
			for _, u := range units {
				p.runner.forward(p.units[u], st, it.c, params, grad)
			}
		})
		if s < k-1 {
			fwd[s+1] <- it
			continue
		}
		// The last stage holds the head: a micro-batch's backward starts
		// once its last chunk is through.
		if last := len(st.cuts) - 2; it.c == last {
			for c := last; c >= 0; c-- {
				backward(item{it.m, c})
			}
		}
	}
	if s == k-1 {
		return err
	}
	for i := 0; i < n; i++ {
		backward(<-bwd[s])
	}
	return err
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
