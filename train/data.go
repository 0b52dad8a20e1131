package train

import (
	"context"
	"fmt"

	"trainer/data"
)

// DataConfig is where a run's reviews come from and how they are read:
// the preprocessing, vocabulary and cache of Prep, and a dev set read from
// Dev or, without one, DevFraction of the training set held out with Seed.
type DataConfig struct {
	Prep        data.PrepOptions
	Dev         string
	DevFraction float64
	// LabelMap reads Dev (Prep.LabelMap is the same map, unparsed).
	LabelMap data.LabelMap
}

// Data is what a run trains and evaluates on. Close releases the cache's
// memory maps.
type Data struct {
	Vocab            *data.Vocab
	Train, Dev, Test *data.Dataset // Dev and Test may be nil
	prep             *data.Prepared
}

// LoadData reads and encodes the inputs through the cache and holds out
// the dev set.
func LoadData(ctx context.Context, cfg DataConfig) (*Data, error) {
	if cfg.Prep.Preprocess == (data.Preprocess{}) {
		cfg.Prep.Preprocess = data.DefaultPreprocess() // as Prepare reads it
	}
	p, err := data.Prepare(ctx, cfg.Prep)
	if err != nil {
		return nil, err
	}
	d := &Data{Vocab: p.Vocab, Train: p.Train, Test: p.Test, prep: p}
	if cfg.Dev != "" {
		ro := data.ReaderOptions{LabelMap: cfg.LabelMap, SkipBad: cfg.Prep.SkipBad}
		if d.Dev, _, err = data.EncodeFile(ctx, cfg.Dev, p.Vocab, cfg.Prep.Preprocess, ro, cfg.Prep.Workers); err != nil {
			p.Close()
			return nil, fmt.Errorf("dev set: %w", err)
		}
	} else {
		d.Train, d.Dev = data.SplitDev(p.Train, cfg.DevFraction, cfg.Prep.Seed)
	}
	if d.Train.Len() == 0 {
		p.Close()
		return nil, fmt.Errorf("%s: no training reviews left (after holding out the dev set)", cfg.Prep.Train)
	}
	return d, nil
}

// Close releases the encoded data.
func (d *Data) Close() { d.prep.Close() }

// EvalBatches cuts an evaluation set into batches of the training size: a
// larger one would grow every worker's activation buffers for evaluation
// alone. A nil or empty set has none.
func EvalBatches(d *data.Dataset, batchSize, maxLen int) []data.Batch {
	if d == nil || d.Len() == 0 {
		return nil
	}
	return data.NewBatcher(d, data.BatchOptions{BatchSize: batchSize, MaxLen: maxLen, Bucket: true}).Epoch(0)
}
