//go:build cuda

package main

import (
	"fmt"

	"trainer/cuda"
	"trainer/data"
	"trainer/model"
	"trainer/train"
)

// Defaults of the GPU replicas while the command line has no --amp and
// --streams of its own: fp32, one stream.
const (
	gpuDefaultPrecision = cuda.FP32
	gpuDefaultStreams   = 1
)

func init() {
	newGPUReplicas = func(c model.Config, device int) ([]train.Replica, []train.Forwarder, error) {
		return gpuReplicasFor(c, device, gpuDefaultPrecision, gpuDefaultStreams)
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
		if prec.NeedsLossScaling() {
			r.SetScaler(train.NewLossScaler())
		}
		g := gpuReplica{r}
		reps = append(reps, g)
		fws = append(fws, g)
	}
	return reps, fws, nil
}

// gpuReplica adapts a cuda.Replica to train.Replica.
type gpuReplica struct{ r *cuda.Replica }

func (g gpuReplica) Name() string { return g.r.Name() }

func (g gpuReplica) Compute(params []float32, b data.Batch, grad []float32) (train.Result, error) {
	res, err := g.r.Compute(params, b, grad)
	return train.Result{Loss: res.Loss, Correct: res.Correct, Rows: res.Rows, Tokens: res.Tokens}, err
}

func (g gpuReplica) Forward(params []float32, b data.Batch, logits []float32) error {
	return g.r.Forward(params, b, logits)
}
