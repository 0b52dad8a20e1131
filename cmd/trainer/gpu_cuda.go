//go:build cuda

package main

import (
	"fmt"

	"trainer/cuda"
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

// gpuReplicasFor opens GPU device with one replica per stream.
func gpuReplicasFor(c model.Config, device int, prec cuda.Precision, streams int) ([]train.Replica, []train.Forwarder, error) {
	be, err := cuda.Open(device, streams)
	if err != nil {
		return nil, nil, fmt.Errorf("train: %w", err)
	}
	return gpuReplicasOn(be, c, prec, streams)
}
