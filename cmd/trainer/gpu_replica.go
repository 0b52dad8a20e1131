package main

import (
	"fmt"
	"trainer/train/device"

	"trainer/cuda"
	"trainer/data"
	"trainer/model"
)

// gpuReplicasOn makes one replica per stream of an open device; each
// replica also serves as an evaluation worker. Under fp16 each replica
// scales its loss dynamically (GradScaler semantics) so the engine always
// receives finite, unscaled gradients. It needs no CUDA build: the device
// may be the host emulation.
func gpuReplicasOn(be cuda.Backend, c model.Config, prec cuda.Precision, streams int) ([]device.Replica, []device.Forwarder, error) {
	var reps []device.Replica
	var fws []device.Forwarder
	for s := 0; s < streams; s++ {
		r, err := cuda.NewReplica(be, s, c, prec)
		if err != nil {
			return nil, nil, fmt.Errorf("train: %w", err)
		}
		g := gpuReplica{r: r}
		if prec.NeedsLossScaling() {
			g.scaler = device.NewLossScaler()
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
	scaler *device.LossScaler // fp16 only: the replica's dynamic loss scale
}

// LossScaler is the replica's dynamic loss scaler, nil outside fp16; the
// metrics report its scale and overflows.
func (g gpuReplica) LossScaler() *device.LossScaler { return g.scaler }

func (g gpuReplica) Name() string { return g.r.Name() }

func (g gpuReplica) Compute(params []float32, b data.Batch, grad []float32) (device.Result, error) {
	res, err := g.r.Compute(params, b, grad)
	return device.Result{Loss: res.Loss, Correct: res.Correct, Rows: res.Rows, Tokens: res.Tokens}, err
}

func (g gpuReplica) Forward(params []float32, b data.Batch, logits []float32) error {
	return g.r.Forward(params, b, logits)
}
