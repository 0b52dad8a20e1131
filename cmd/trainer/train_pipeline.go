package main

import "trainer/train"

// pipelineTracker averages the pipeline bubble (the share of stage time
// spent waiting for a neighbour) over an epoch's steps, for metrics.jsonl.
type pipelineTracker struct {
	ps     []*train.Pipeline
	steps  int
	bubble float64
	last   train.PipelineStats
}

// epochPipeline is the "pipeline" entry of an epoch's metrics.
type epochPipeline struct {
	Stages       [][]int `json:"stages"` // model units per stage: 0 = embedding+LSTM 0, l = LSTM l, Layers = head
	Pipelines    int     `json:"pipelines"`
	MicroBatches int     `json:"micro_batches"`
	Bubble       float64 `json:"bubble"` // mean over the epoch's steps and pipelines
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

// epoch adds the epoch's pipeline entry to extra and starts the next.
func (t *pipelineTracker) epoch(extra map[string]any) {
	if len(t.ps) == 0 || t.steps == 0 {
		return
	}
	extra["pipeline"] = epochPipeline{Stages: t.last.Stages, Pipelines: len(t.ps),
		MicroBatches: t.last.MicroBatches, Bubble: t.bubble / float64(t.steps)}
	t.steps, t.bubble = 0, 0
}
