package emu

import (
	"fmt"

	"trainer/cuda"
	"trainer/data"
	"trainer/model"
	"trainer/train/device"
)

// DefaultModel is the model `trainer train --device cuda:0` builds with its
// default flags, at a vocabulary of 20,000: bidirectional, 64 units per
// direction, max pooling, and the wide bigram path in its default buckets.
func DefaultModel() model.Config {
	return model.Config{VocabSize: 20000, EmbedDim: 512, Hidden: 64, Layers: 1, Bidirectional: true, Pool: model.PoolMax,
		Ngrams: 2, Buckets: model.DefaultBuckets}
}

// UnidirectionalModel is the earlier default model: one direction of 128
// units, mean pooling.
func UnidirectionalModel() model.Config {
	return model.Config{VocabSize: 20000, EmbedDim: 512, Hidden: 128, Layers: 1, Pool: model.PoolMean}
}

// Traffic is what one device-resident training step cost in launches,
// copies and host waits, the figures of the GPU step budget; it is printed
// as one JSON object a line by `make gpu-traffic`.
type Traffic struct {
	Precision  string `json:"precision"`
	T          int    `json:"T"`
	Batch      int    `json:"batch"`
	BatchBytes int64  `json:"batch_bytes"` // token ids, lengths and labels of the batch
	ParamBytes int64  `json:"param_bytes"` // the fp32 master weights, for scale
	H2DBytes   int64  `json:"h2d_bytes"`
	D2HBytes   int64  `json:"d2h_bytes"`
	Launches   int64  `json:"launches"`
	Syncs      int64  `json:"syncs"`
	Memsets    int64  `json:"memsets"`
}

// TrafficBatch is a batch of rows reviews of exactly T tokens each.
func TrafficBatch(cfg model.Config, rows, T int) data.Batch {
	reviews := make([][]int32, rows)
	labels := make([]uint8, rows)
	for i := range reviews {
		reviews[i] = make([]int32, T)
		for t := range reviews[i] {
			reviews[i][t] = int32(2 + (i*131+t*17)%(cfg.VocabSize-2))
		}
		labels[i] = uint8(i % 2)
	}
	return data.MakeBatch(reviews, labels, 0)
}

// MeasureStep opens cfg on an emulated device exactly as `train --device
// cuda:0 --amp PRECISION` does (OpenSet, the Resident) and returns the
// traffic of one warmed-up step on a batch of rows x T tokens. With
// countOnly the kernels are checked and counted but not run, which is
// what makes a full-size model affordable on the emulator; the launch
// sequence does not depend on the results.
func MeasureStep(cfg model.Config, precision string, rows, T int, countOnly bool) (Traffic, error) {
	dev := NewWith(1, Options{CountOnly: countOnly})
	params := make([]float32, model.NewLayout(cfg).Size())
	model.InitParams(cfg, params, 1)
	req := device.Request{Model: cfg, Precision: precision, Streams: 1, Optim: device.DefaultOptimConfig(), Clip: 1, Params: params}
	set, err := cuda.OpenSet(dev, device.Spec{Kind: "cuda"}, req)
	if err != nil {
		_ = dev.Close()
		return Traffic{}, err
	}
	defer set.Close()
	if set.Resident == nil {
		return Traffic{}, fmt.Errorf("%s: no device-resident step", set.Name)
	}
	b := TrafficBatch(cfg, rows, T)
	if _, err := set.Resident.Step(b, 1e-3); err != nil { // warm-up: workspace, launch shapes
		return Traffic{}, err
	}
	before := dev.Counters()
	if _, err := set.Resident.Step(b, 1e-3); err != nil {
		return Traffic{}, err
	}
	d := dev.Counters().Sub(before)
	return Traffic{
		Precision: set.Precision, T: T, Batch: rows,
		BatchBytes: int64(4 * (len(b.Tokens) + len(b.Lengths) + len(b.Labels))),
		ParamBytes: int64(4 * len(params)),
		H2DBytes:   d.H2DBytes, D2HBytes: d.D2HBytes, Launches: d.Launches, Syncs: d.Syncs, Memsets: d.Memsets,
	}, nil
}
