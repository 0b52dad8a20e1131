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
	// Inputs are the digests of the files, checked on resume.
	Inputs []InputDigest
	// Dropped counts the records left out, by role and reason, and
	// DroppedLines says the same in one line per file.
	Dropped      map[string]map[string]int64
	DroppedLines []string
	prep         *data.Prepared
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
	reports := map[string]*data.Report{"train": &p.Report, "test": p.Report.Test}
	if cfg.Dev != "" {
		ro := data.ReaderOptions{LabelMap: cfg.LabelMap, SkipBad: cfg.Prep.SkipBad}
		dev, rep, err := data.EncodeFile(ctx, cfg.Dev, p.Vocab, cfg.Prep.Preprocess, ro, cfg.Prep.Workers)
		if err == nil && dev.Len() == 0 {
			err = fmt.Errorf("%s: no reviews left for a dev set (%s)", cfg.Dev, rep.DroppedLine())
		}
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("dev set: %w", err)
		}
		d.Dev, reports["dev"] = dev, &rep
	} else if d.Train, d.Dev, err = data.HoldOutDev(p.Train, cfg.DevFraction, cfg.Prep.Seed, cfg.Prep.Train); err != nil {
		p.Close()
		return nil, err
	}
	d.Dropped = map[string]map[string]int64{}
	for _, role := range []string{"train", "dev", "test"} {
		r := reports[role]
		if r == nil {
			continue
		}
		d.Inputs = append(d.Inputs, InputDigest{Role: role, Path: r.Input, Digest: r.InputDigest})
		if line := r.DroppedLine(); line != "" {
			d.DroppedLines = append(d.DroppedLines, fmt.Sprintf("%s %s: %s", role, r.Input, line))
			d.Dropped[role] = r.Dropped
		}
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
