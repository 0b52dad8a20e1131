package job

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"trainer/data"
	"trainer/model"
	"trainer/train/device"
)

// runSettings are the settings that shape the weights; a resumed run must
// have the same ones, and they are stored in every checkpoint. The JSON
// names are those of the checkpoints already written.
type runSettings struct {
	Train, Test, Dev string
	DevFraction      float64
	Seed             uint64
	Workers          int
	Model            model.Config
	MaxLen           int
	BatchSize        int
	Optim            device.OptimConfig
	LR               float64
	Warmup           int
	Decay            string
	Clip             float64
	// WordDropout is 0 when off, left out so older checkpoints still match.
	WordDropout float64 `json:",omitempty"`
	VocabSize   int
	MinCount    int
	LabelMap    string
	Bucket      bool
	AMP         string `json:",omitempty"` // "" for fp32, so older checkpoints still match
	Schedule    string `json:",omitempty"` // "" for the even split
	// Preprocess is nil for the default preprocessing, Balance false when
	// off, for the same reason.
	Preprocess *data.Preprocess `json:",omitempty"`
	Balance    bool             `json:",omitempty"`
	// Vectors is the pretrained vectors file the embedding started from,
	// nil without one (and in older checkpoints).
	Vectors *VectorsSource `json:",omitempty"`
	// LearnVectors is the passes that learned the embedding's start (0
	// without, and in older checkpoints).
	LearnVectors int `json:",omitempty"`
}

func (o *Options) settings() runSettings {
	p := o.Data.Prep
	s := runSettings{Train: p.Train, Test: p.Test, Dev: o.Data.Dev, DevFraction: o.Data.DevFraction, Seed: o.Seed,
		Workers: o.Workers, Model: o.Model, MaxLen: o.MaxLen, BatchSize: o.BatchSize, Optim: o.Optim,
		LR: o.Schedule.Base, Warmup: o.Schedule.Warmup, Decay: o.Schedule.Decay, Clip: o.Clip, WordDropout: o.WordDropout,
		VocabSize: p.VocabSize, MinCount: p.MinCount, LabelMap: p.LabelMap, Bucket: o.Bucket,
		AMP: omitDefault(o.AMP, AMPOff), Schedule: omitDefault(o.Split, SplitEven), Balance: p.Balance,
		Vectors: o.Vectors.Source, LearnVectors: o.Vectors.Learn}
	if p.Preprocess != data.DefaultPreprocess() {
		pp := p.Preprocess
		s.Preprocess = &pp
	}
	return s
}

// omitDefault is "" for a setting at its default, so that runs that do not
// use a newer setting keep the settings older checkpoints stored.
func omitDefault(v, def string) string {
	if v == def {
		return ""
	}
	return v
}

// diffSettings names the settings that differ between a checkpoint's run
// and this one.
func diffSettings(stored json.RawMessage, now runSettings) ([]string, error) {
	var a, b map[string]any
	if err := json.Unmarshal(stored, &a); err != nil {
		return nil, fmt.Errorf("checkpoint settings: %w", err)
	}
	nb, _ := json.Marshal(now)
	json.Unmarshal(nb, &b)
	var diff []string
	keys := maps.Clone(b)
	maps.Copy(keys, a)
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		sv, _ := json.Marshal(b[k])
		av, _ := json.Marshal(a[k])
		if string(sv) != string(av) {
			diff = append(diff, fmt.Sprintf("%s (checkpoint %s, now %s)", k, av, sv))
		}
	}
	return diff, nil
}
