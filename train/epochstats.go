package train

import (
	"fmt"
	"strings"

	"trainer/train/device"
)

// ReplicaShare is one replica's part of an epoch under the hybrid
// scheduler.
type ReplicaShare struct {
	Name          string  `json:"name"`
	Rows          int     `json:"rows"`           // reviews it trained on this epoch
	Share         float64 `json:"share"`          // Rows over all rows of the epoch
	IdleFrac      float64 `json:"idle_frac"`      // time waiting for the slowest, over the steps it worked in
	RowsPerS      float64 `json:"rows_per_s"`     // the scheduler's throughput estimate at the epoch's end
	ExcludedSteps int     `json:"excluded_steps"` // steps it was too slow to be given rows
	// Model is the scheduler's fitted cost of the replica at the epoch's end.
	Model HybridCost `json:"model"`
}

// EpochSchedule is the hybrid schedule of one epoch, as metrics.jsonl
// reports it under "schedule".
type EpochSchedule struct {
	Steps       int            `json:"steps"`
	MaxIdleFrac float64        `json:"max_idle_frac"` // the worst IdleFrac of a replica that got rows
	Replicas    []ReplicaShare `json:"replicas"`
	Last        []int          `json:"last_split"` // rows per replica in the epoch's last step
}

// String is the schedule in one log line.
func (s EpochSchedule) String() string {
	parts := make([]string, len(s.Replicas))
	for i, r := range s.Replicas {
		parts[i] = fmt.Sprintf("%s %.1f%% (idle %.1f%%)", r.Name, 100*r.Share, 100*r.IdleFrac)
	}
	return strings.Join(parts, ", ")
}

// EpochPipeline is the "pipeline" entry of an epoch's metrics.
type EpochPipeline struct {
	Stages       [][]int `json:"stages"` // model units per stage: 0 = embedding+LSTM 0, l = LSTM l, Layers = head
	Pipelines    int     `json:"pipelines"`
	MicroBatches int     `json:"micro_batches"`
	Bubble       float64 `json:"bubble"` // mean over the epoch's steps and pipelines
}

// runObserver completes each epoch's metrics with what the assembled run
// knows and the loop does not: the hybrid schedule, the pipeline bubble,
// the fp16 loss scale, and the workers and ranks behind the engine's
// replica.
type runObserver struct {
	hybrid  scheduleTracker
	pipes   pipelineTracker
	scalers []*device.LossScaler
	workers int // local replicas (GPU streams, CPU workers or pipelines)
	ranks   int
	wrapped bool // the engine steps one scheduler or rank over the workers
	// precision is what the device computes in ("fp32", "bf16", "fp16");
	// empty on CPUs alone.
	precision string
}

// Step implements EpochObserver.
func (o *runObserver) Step(st StepStats) {
	o.hybrid.step()
	o.pipes.step()
}

// Epoch implements EpochObserver.
func (o *runObserver) Epoch(rec *EpochRecord) {
	rec.Arithmetic = o.precision
	rec.Schedule = o.hybrid.epoch()
	rec.Pipeline = o.pipes.epoch()
	if len(o.scalers) > 0 {
		// Each stream scales its own loss: report the smallest scale and
		// the overflows, summed, that made a replica halve its scale.
		scale := o.scalers[0].Scale()
		var skipped int64
		for _, s := range o.scalers {
			scale = min(scale, s.Scale())
			skipped += s.Skipped()
		}
		rec.LossScale, rec.SkippedSteps = scale, &skipped
	}
	if o.wrapped {
		rec.Workers, rec.Ranks = o.workers, o.ranks
	}
}

// scheduleTracker sums the hybrid scheduler's step schedules over an epoch.
// A nil scheduler makes a tracker that reports nothing.
type scheduleTracker struct {
	h        *Hybrid
	steps    int
	rows     []int
	idle     []float64 // seconds waiting, in steps with rows
	wall     []float64 // step seconds, in steps with rows
	excluded []int
	last     HybridSchedule
}

// step records the scheduler's latest step.
func (t *scheduleTracker) step() {
	if t.h == nil {
		return
	}
	s := t.h.Last()
	if t.rows == nil {
		n := len(s.Shares)
		t.rows, t.idle, t.wall, t.excluded = make([]int, n), make([]float64, n), make([]float64, n), make([]int, n)
	}
	t.steps++
	for i, sh := range s.Shares {
		if sh.Rows == 0 {
			t.excluded[i]++
			continue
		}
		t.rows[i] += sh.Rows
		t.idle[i] += sh.Idle
		t.wall[i] += s.Seconds
	}
	t.last = s
}

// epoch returns the schedule of the epoch so far (nil without a
// scheduler) and starts the next.
func (t *scheduleTracker) epoch() *EpochSchedule {
	if t.h == nil || t.steps == 0 {
		return nil
	}
	total := 0
	for _, r := range t.rows {
		total += r
	}
	s := EpochSchedule{Steps: t.steps, Replicas: make([]ReplicaShare, len(t.rows)), Last: make([]int, len(t.rows))}
	for i, sh := range t.last.Shares {
		r := ReplicaShare{Name: sh.Name, Rows: t.rows[i], RowsPerS: sh.RowsPerSec, ExcludedSteps: t.excluded[i], Model: sh.Model}
		if total > 0 {
			r.Share = float64(t.rows[i]) / float64(total)
		}
		if t.wall[i] > 0 {
			r.IdleFrac = t.idle[i] / t.wall[i]
			s.MaxIdleFrac = max(s.MaxIdleFrac, r.IdleFrac)
		}
		s.Replicas[i] = r
		s.Last[i] = sh.Rows
	}
	t.steps, t.rows = 0, nil
	return &s
}

// pipelineTracker averages the pipeline bubble (the share of stage time
// spent waiting for a neighbour) over an epoch's steps.
type pipelineTracker struct {
	ps     []*Pipeline
	steps  int
	bubble float64
	last   PipelineStats
}

// step records the stats of the step that just ended.
func (t *pipelineTracker) step() {
	if len(t.ps) == 0 {
		return
	}
	for _, p := range t.ps {
		st := p.Last()
		t.bubble += st.Bubble / float64(len(t.ps))
		t.last = st
	}
	t.steps++
}

// epoch returns the epoch's pipeline entry (nil without pipelines) and
// starts the next.
func (t *pipelineTracker) epoch() *EpochPipeline {
	if len(t.ps) == 0 || t.steps == 0 {
		return nil
	}
	p := &EpochPipeline{Stages: t.last.Stages, Pipelines: len(t.ps), MicroBatches: t.last.MicroBatches, Bubble: t.bubble / float64(t.steps)}
	t.steps, t.bubble = 0, 0
	return p
}
