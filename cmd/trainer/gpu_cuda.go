//go:build cuda

package main

import (
	"fmt"

	"trainer/cuda"
	"trainer/data"
	"trainer/model"
	"trainer/train"
)

func init() {
	newGPUReplicasWith = func(c model.Config, device int, amp string, streams int) ([]train.Replica, []train.Forwarder, error) {
		prec, err := cuda.ParsePrecision(amp)
		if err != nil {
			return nil, nil, usagef("train: --amp: %v", err)
		}
		return gpuReplicasFor(c, device, prec, streams)
	}
	// Callers that do not choose a precision get fp32 on one stream.
	newGPUReplicas = func(c model.Config, device int) ([]train.Replica, []train.Forwarder, error) {
		return gpuReplicasFor(c, device, cuda.FP32, 1)
	}
}

// gpuReplicasFor opens GPU device with one replica per stream; each
// replica also serves as an evaluation worker. Under fp16 each replica
// scales its loss dynamically (GradScaler semantics) so the engine always
// receives finite, unscaled gradients.
func gpuReplicasFor(c model.Config, device int, prec cuda.Precision, streams int) ([]train.Replica, []train.Forwarder, error) {
	be, err := cuda.Open(device, streams)
	if err != nil {
		return nil, nil, fmt.Errorf("train: %w", err)
	}
	var reps []train.Replica
	var fws []train.Forwarder
	for s := 0; s < streams; s++ {
		r, err := cuda.NewReplica(be, s, c, prec)
		if err != nil {
			return nil, nil, fmt.Errorf("train: %w", err)
		}
		g := gpuReplica{r: r}
		if prec.NeedsLossScaling() {
			g.scaler = train.NewLossScaler()
			r.SetScaler(g.scaler)
		}
		reps = append(reps, g)
		fws = append(fws, g)
	}
	return reps, fws, nil
}

// gpuReplica adapts a cuda.Replica to train.Replica.
type gpuReplica struct {
	r      *cuda.Replica
	scaler *train.LossScaler // fp16 only: the replica's dynamic loss scale
}

// LossScaler is the replica's dynamic loss scaler, nil outside fp16; the
// metrics report its scale and overflows.
func (g gpuReplica) LossScaler() *train.LossScaler { return g.scaler }

func (g gpuReplica) Name() string { return g.r.Name() }

func (g gpuReplica) Compute(params []float32, b data.Batch, grad []float32) (train.Result, error) {
	res, err := g.r.Compute(params, b, grad)
	return train.Result{Loss: res.Loss, Correct: res.Correct, Rows: res.Rows, Tokens: res.Tokens}, err
}

func (g gpuReplica) Forward(params []float32, b data.Batch, logits []float32) error {
	return g.r.Forward(params, b, logits)
}
