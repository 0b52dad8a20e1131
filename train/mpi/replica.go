package mpi

import (
	"errors"
	"fmt"

	"trainer/data"
	"trainer/train"
	"trainer/train/device"
)

// Replica makes one rank a data-parallel replica of a multi-process job:
// every rank sees the same global batch, computes its contiguous share
// (train.BalancedBounds by rank: about equal real tokens) with a local
// replica (one CPU worker, a hybrid scheduler over workers and GPU
// streams, ...), and the gradients and
// results are summed over all ranks. Every rank then holds the gradient of
// the whole global batch, so identical optimizer steps keep the weights
// identical on every rank without a further broadcast.
type Replica struct {
	comm     *Comm
	local    device.Replica
	sparse   train.RowSparsity
	buf      []float32
	packed   []float32          // the support of buf, contiguous, for the all-reduce
	supports train.StepSupports // this step's and the previous step's
}

// NewReplica wraps the local replica of this rank. With a RowSparsity
// (the embedding block; the zero value for none) only the part of the
// gradient the global batch can touch is exchanged: every rank derives
// the same support from the same global batch, so the packed buffers
// line up without sending the rows' ids.
func NewReplica(c *Comm, local device.Replica, sparse train.RowSparsity) *Replica {
	return &Replica{comm: c, local: local, sparse: sparse}
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
func (r *Replica) Compute(params []float32, b data.Batch, grad []float32) (device.Result, error) {
	// Bucketed batches hold their rows sorted by length: an even split by
	// rows would give the last rank the longest reviews every step.
	bounds := train.BalancedBounds(b, r.comm.Size())
	lo, hi := bounds[r.comm.Rank()], bounds[r.comm.Rank()+1]
	sup, prev := r.supports.Next(r.sparse, b, len(grad))
	if len(r.buf) != len(grad) {
		r.buf = make([]float32, len(grad))
	} else {
		prev.Clear(r.buf)
	}
	res, lerr := r.local.Compute(params, b.Rows(lo, hi), r.buf)
	stats := []float64{res.Loss, float64(res.Correct), float64(res.Rows), float64(res.Tokens), 0}
	if lerr != nil {
		stats[4] = 1
	}
	if err := r.comm.AllreduceFloat64(stats); err != nil {
		return device.Result{}, errors.Join(lerr, err)
	}
	if lerr != nil {
		return device.Result{}, fmt.Errorf("rank %d: %w", r.comm.Rank(), lerr)
	}
	if stats[4] > 0 {
		return device.Result{}, fmt.Errorf("rank %d: %d other rank(s) failed this step; see their messages", r.comm.Rank(), int(stats[4]))
	}
	r.packed = sup.Gather(r.packed, r.buf)
	if err := r.comm.AllreduceFloat32(r.packed); err != nil {
		return device.Result{}, err
	}
	sup.ScatterAdd(grad, r.packed)
	return device.Result{Loss: stats[0], Correct: int(stats[1]), Rows: int(stats[2]), Tokens: int(stats[3])}, nil
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
