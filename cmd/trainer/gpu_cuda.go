//go:build cuda

package main

import (
	"fmt"
	"trainer/train/device"

	"trainer/cuda"
	"trainer/model"
)

func init() {
	newGPUReplicasWith = func(c model.Config, ordinal int, amp string, streams int) ([]device.Replica, []device.Forwarder, error) {
		prec, err := cuda.ParsePrecision(amp)
		if err != nil {
			return nil, nil, usagef("train: --amp: %v", err)
		}
		return gpuReplicasFor(c, ordinal, prec, streams)
	}
	// Callers that do not choose a precision get fp32 on one stream.
	newGPUReplicas = func(c model.Config, ordinal int) ([]device.Replica, []device.Forwarder, error) {
		return gpuReplicasFor(c, ordinal, cuda.FP32, 1)
	}
}

// gpuReplicasFor opens GPU device with one replica per stream.
func gpuReplicasFor(c model.Config, ordinal int, prec cuda.Precision, streams int) ([]device.Replica, []device.Forwarder, error) {
	be, err := cuda.Open(ordinal, streams)
	if err != nil {
		return nil, nil, fmt.Errorf("train: %w", err)
	}
	return gpuReplicasOn(be, c, prec, streams)
}
