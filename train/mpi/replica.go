package mpi

import (
	"errors"
	"fmt"

	"trainer/data"
	"trainer/train"
)

// Replica makes one rank a data-parallel replica of a multi-process job:
// every rank sees the same global batch, computes its contiguous share
// (data.ShardRange by rank) with a local replica (one CPU worker, a hybrid
// scheduler over workers and GPU streams, ...), and the gradients and
// results are summed over all ranks. Every rank then holds the gradient of
// the whole global batch, so identical optimizer steps keep the weights
// identical on every rank without a further broadcast.
type Replica struct {
	comm  *Comm
	local train.Replica
	buf   []float32
}

// NewReplica wraps the local replica of this rank.
func NewReplica(c *Comm, local train.Replica) *Replica {
	return &Replica{comm: c, local: local}
}

// Name identifies the rank in logs.
func (r *Replica) Name() string {
	return fmt.Sprintf("rank%d/%d:%s", r.comm.Rank(), r.comm.Size(), r.local.Name())
}

// Compute implements train.Replica for the global batch b.
//
// A local failure must not leave the other ranks waiting in the gradient
// all-reduce: the per-step counters are reduced first with a failure flag,
// and every rank returns an error when any rank failed.
func (r *Replica) Compute(params []float32, b data.Batch, grad []float32) (train.Result, error) {
	lo, hi := data.ShardRange(b.Size, r.comm.Rank(), r.comm.Size())
	if len(r.buf) != len(grad) {
		r.buf = make([]float32, len(grad))
	} else {
		clear(r.buf)
	}
	res, lerr := r.local.Compute(params, b.Rows(lo, hi), r.buf)
	stats := []float64{res.Loss, float64(res.Correct), float64(res.Rows), float64(res.Tokens), 0}
	if lerr != nil {
		stats[4] = 1
	}
	if err := r.comm.AllreduceFloat64(stats); err != nil {
		return train.Result{}, errors.Join(lerr, err)
	}
	if lerr != nil {
		return train.Result{}, fmt.Errorf("rank %d: %w", r.comm.Rank(), lerr)
	}
	if stats[4] > 0 {
		return train.Result{}, fmt.Errorf("rank %d: %d other rank(s) failed this step; see their messages", r.comm.Rank(), int(stats[4]))
	}
	if err := r.comm.AllreduceFloat32(r.buf); err != nil {
		return train.Result{}, err
	}
	for j := range grad {
		grad[j] += r.buf[j]
	}
	return train.Result{Loss: stats[0], Correct: int(stats[1]), Rows: int(stats[2]), Tokens: int(stats[3])}, nil
}

// BroadcastParams copies rank 0's weights to every rank, so a run starts
// (or resumes) from one set of weights whatever each rank initialised.
func (c *Comm) BroadcastParams(params []float32) error {
	if err := c.BcastFloat32(params, 0); err != nil {
		return fmt.Errorf("broadcast initial weights: %w", err)
	}
	return nil
}

// CheckShardable rejects a job with more ranks than reviews, where some
// rank would never see data.
func (c *Comm) CheckShardable(reviews int) error {
	if reviews < c.Size() {
		return fmt.Errorf("mpi: %d ranks but only %d training reviews; use at most %d ranks", c.Size(), reviews, reviews)
	}
	return nil
}
