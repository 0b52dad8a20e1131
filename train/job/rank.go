package job

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"trainer/data"
	"trainer/internal/wordvec"
	"trainer/model"
	"trainer/train"
	"trainer/train/device"
	"trainer/train/mpi"
)

// rank is this process's part of a run: all of it in a single process,
// its share of every global batch under mpirun.
type rank struct {
	o        *Options
	td       *train.Data
	vecs     *train.Vectors // nil: no pretrained vectors, or a resume
	settings runSettings
	resume   *train.Checkpoint
	dist     *mpi.Job
}

// train runs the rank's part. Only rank 0 writes the model, metrics,
// checkpoints and progress.
func (r rank) train(ctx context.Context, rep Reporter) (Result, error) {
	o, td := r.o, r.td
	res := Result{Root: r.dist.Root(), ModelPath: filepath.Join(o.Out, ModelName), CPUs: o.Workers * r.dist.Size(),
		Approach: approachName(o.shape(r.dist.Size()))}
	dir, metricsPath := o.Out, o.Metrics
	if !res.Root {
		// The loop always checkpoints and logs; the other ranks do it in a
		// scratch directory that goes away with them.
		tmp, err := os.MkdirTemp("", "trainer-rank")
		if err != nil {
			return res, fmt.Errorf("train: %w", err)
		}
		defer os.RemoveAll(tmp)
		dir, metricsPath = tmp, ""
		rep = Reporter{Log: quiet{}}
	}
	batcher := data.NewBatcher(td.Train, data.BatchOptions{BatchSize: o.BatchSize, MaxLen: o.MaxLen, Seed: o.Seed, Bucket: o.Bucket, Shuffle: true,
		WordDropout: o.WordDropout})
	prog := rep.progress(o.Epochs)
	cfg := r.runConfig()
	cfg.Loop.Dir, cfg.Loop.MetricsPath = dir, metricsPath
	cfg.Loop.Schedule.Total = o.Epochs * batcher.NumBatches()
	cfg.Hooks = o.hooks(batcher, td, prog, rep.Log, r.saveBest(&res))
	run, err := train.Assemble(cfg)
	if err != nil {
		return res, fmt.Errorf("train: %w", err)
	}
	defer run.Close()
	if o.AMP == AMPAuto && run.Device != nil {
		// The device chose the precision (bf16 on compute capability
		// 8.0 and later); the label says what runs.
		shape := o.shape(r.dist.Size())
		shape.AMP = ampOf(run.Device.Precision)
		res.Approach = approachName(shape)
	}
	if r.resume != nil {
		rep.Log.Infof("resuming %s at epoch %d, batch %d (step %d)", o.Out, r.resume.Epoch+1, r.resume.Batch, r.resume.Step)
	}
	rep.Log.Infof("training %s: %d reviews (%d dev, %d test), vocabulary %d, %d parameters, %s, batch %d",
		o.Data.Prep.Train, td.Train.Len(), lenOf(td.Dev), lenOf(td.Test), td.Vocab.Size(), model.NewLayout(o.Model).Size(), res.Approach, o.BatchSize)
	res.Summary, err = run.Train(ctx)
	prog.Stop()
	if err != nil {
		return res, fmt.Errorf("train: %w", err)
	}
	if res.Root && res.EarlyStopped {
		rep.Log.Infof("early stopping: no better dev accuracy for %d epochs", o.Patience)
	}
	return res, nil
}

// runConfig is the run assembly's view of the options: model, optimizer,
// devices, pipeline, ranks and the loop's settings.
func (r rank) runConfig() train.RunConfig {
	o := r.o
	runJSON, _ := json.Marshal(r.settings)
	modelJSON, _ := json.Marshal(o.Model)
	spec, _ := device.ParseSpec(o.Device) // checked by Validate
	cfg := train.RunConfig{
		Model: o.Model, Seed: o.Seed, Optim: o.Optim, Clip: o.Clip,
		Devices: train.Devices{Device: spec, CPUWorkers: o.Workers, Precision: precisionOf(o.AMP), Streams: o.Streams,
			Hybrid: o.Split == SplitHybrid, Pipeline: o.Pipeline},
		Loop: train.LoopConfig{Epochs: o.Epochs, Seed: o.Seed, Patience: o.Patience, CheckpointEvery: o.CheckpointEvery,
			Schedule: o.Schedule, Model: modelJSON, Run: runJSON, Inputs: r.td.Inputs, Dropped: r.td.Dropped},
		Resume: r.resume, Vectors: r.vecs,
	}
	if r.dist.Size() > 1 {
		cfg.Ranks = r.dist
	}
	return cfg
}

// hooks connect the loop to the data, the model file and the display.
func (o *Options) hooks(batcher *data.Batcher, td *train.Data, prog Progress, log Log,
	saveBest func([]float32, train.EpochRecord) error) train.LoopHooks {
	return train.LoopHooks{
		Train: batcher, Dev: train.EvalBatches(td.Dev, o.BatchSize, o.MaxLen), Test: train.EvalBatches(td.Test, o.BatchSize, o.MaxLen),
		SaveBest: saveBest,
		OnStep:   prog.Step,
		OnEpoch: func(rec train.EpochRecord) {
			prog.Epoch(rec)
			if rec.Schedule != nil {
				log.Infof("epoch %d schedule: %s", rec.Epoch, rec.Schedule)
			}
		},
	}
}

// saveBest writes the model file of a better epoch, on rank 0 alone,
// with the approach res holds by then.
func (r rank) saveBest(res *Result) func([]float32, train.EpochRecord) error {
	file := r.o.modelFile(r.td, res.Approach)
	return func(p []float32, rec train.EpochRecord) error {
		if !res.Root {
			return nil
		}
		file.Extra["approach"] = res.Approach
		file.Params = p
		file.Metrics = recordMetrics(rec)
		file.Extra["epoch"] = strconv.Itoa(rec.Epoch)
		return model.Save(res.ModelPath, file)
	}
}

// modelFile is the model file of the run without its weights: vocabulary,
// preprocessing and where the model came from.
func (o *Options) modelFile(td *train.Data, approach string) *model.File {
	file := &model.File{Version: model.FileVersion, Config: o.Model, Vocab: td.Vocab.Words(), Preprocess: model.Preprocess(o.Data.Prep.Preprocess),
		LabelMap: model.LabelMapOf(o.Data.LabelMap), MaxLen: o.MaxLen,
		Extra: map[string]string{"approach": approach, "train": o.Data.Prep.Train, "seed": strconv.FormatUint(o.Seed, 10)}}
	if src := o.Vectors.Source; src != nil {
		// Provenance for whoever reads the model; a resumed run names the
		// file its first part read.
		file.Extra["init_vectors"] = src.Path
		file.Extra["freeze_vectors"] = strconv.FormatBool(o.Optim.FreezeEmbedding)
	}
	if o.Vectors.Learn > 0 {
		file.Extra["learn_vectors"] = strconv.Itoa(o.Vectors.Learn)
		file.Extra["freeze_vectors"] = strconv.FormatBool(o.Optim.FreezeEmbedding)
	}
	if len(td.Dropped) > 0 {
		b, _ := json.Marshal(td.Dropped)
		file.Extra["dropped"] = string(b)
	}
	return file
}

// recordMetrics is what the model file keeps of the epoch that made it.
func recordMetrics(rec train.EpochRecord) map[string]float64 {
	m := map[string]float64{"epoch": float64(rec.Epoch), "train_loss": rec.TrainLoss, "tokens_per_s": rec.TokensPerS}
	put := func(prefix string, mt *train.Metrics) {
		if mt == nil {
			return
		}
		m[prefix+"accuracy"] = mt.Accuracy
		m[prefix+"loss"] = mt.Loss
		m[prefix+"balanced_accuracy"] = mt.BalancedAccuracy
		m[prefix+"f1"] = mt.F1
		m[prefix+"n"] = float64(mt.N)
	}
	put("dev_", rec.Dev)
	put("test_", rec.Test)
	return m
}

// loadVectors reads the pretrained vectors of the run's vocabulary and
// logs how much of it, and of the training text, they cover.
func (o *Options) loadVectors(td *train.Data, log Log) (*train.Vectors, error) {
	v, err := train.LoadVectors(o.Vectors.Path, td, o.Model.EmbedDim, o.Data.Prep.Preprocess.Lowercase)
	var de *wordvec.DimError
	if errors.As(err, &de) {
		return nil, usagef("train: --init-vectors %s holds vectors of %d values but --embed-dim is %d: give --embed-dim %d",
			o.Vectors.Path, de.Dim, o.Model.EmbedDim, de.Dim)
	}
	if err != nil {
		return nil, fmt.Errorf("train: --init-vectors: %w", err)
	}
	c, s := v.Coverage, v.Stats
	blank := ""
	if s.Blank > 0 {
		blank = fmt.Sprintf(", %d blank lines", s.Blank)
	}
	log.Infof("vectors %s: %d of %d vocabulary words (%s), %s of training tokens; %d lines: %d case-folded matches, %d duplicates and %d case variants skipped, %d words outside the vocabulary%s",
		o.Vectors.Path, c.Words, c.VocabWords, percent(int64(c.Words), int64(c.VocabWords)), percent(c.Tokens, c.TrainTokens),
		s.Lines, s.Folded, s.Duplicates, s.Variants, s.Unmatched, blank)
	return v, nil
}

// learnVectors learns the embedding's start from the training reviews and
// logs what it took. The learning is seeded and single-threaded, so every
// MPI rank learns the same vectors itself and none is sent.
func (o *Options) learnVectors(ctx context.Context, td *train.Data, rep Reporter) (*train.Vectors, error) {
	log := rep.Log
	key := vectorKey{dim: o.Model.EmbedDim, passes: o.Vectors.Learn, seed: o.Seed}
	if c := o.Vectors.Cache; c != nil {
		key = c.key(td, key)
		if v := c.vecs[key]; v != nil {
			log.Infof("vectors learned from the training reviews: those of an earlier run on the same data, seed and size")
			return v, nil
		}
	}
	start := time.Now()
	progress, finish := func(int64, int64) {}, func() {}
	if rep.Learning != nil {
		progress, finish = rep.Learning()
	}
	v, err := train.LearnVectors(ctx, td, o.Model.EmbedDim, o.Vectors.Learn, o.Seed, progress)
	finish()
	if ctx.Err() != nil {
		return nil, fmt.Errorf("train: %w while learning the word vectors, before the first step: nothing to resume; run the command again", train.ErrInterrupted)
	}
	if err != nil {
		return nil, fmt.Errorf("train: --learn-vectors: %w", err)
	}
	if o.Vectors.Cache != nil {
		o.Vectors.Cache.put(key, v)
	}
	c, l := v.Coverage, v.Learned
	sample := ""
	if l.Tokens < c.TrainTokens {
		sample = fmt.Sprintf(" of a sample of %d reviews", l.Reviews)
	}
	log.Infof("vectors learned from the training reviews (cbow, %d passes over %d tokens%s): %d of %d vocabulary words, %s of training tokens, %.1fs",
		l.Passes, l.Tokens, sample, c.Words, c.VocabWords, percent(c.Tokens, c.TrainTokens), time.Since(start).Seconds())
	return v, nil
}

// percent is n of total as a percentage with one decimal.
func percent(n, total int64) string {
	if total == 0 {
		return "0.0%"
	}
	return strconv.FormatFloat(100*float64(n)/float64(total), 'f', 1, 64) + "%"
}

// precisionOf is the device precision of an AMP setting ("auto" is the
// device's to resolve).
func precisionOf(amp string) string {
	if amp == AMPOff {
		return "fp32"
	}
	return amp
}

// ampOf is the AMP setting of a device precision, precisionOf's inverse.
func ampOf(precision string) string {
	if precision == "fp32" {
		return AMPOff
	}
	return precision
}

func lenOf(d *data.Dataset) int {
	if d == nil {
		return 0
	}
	return d.Len()
}
