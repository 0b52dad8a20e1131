package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"trainer/data"
	"trainer/internal/runlock"
	"trainer/internal/wordvec"
	"trainer/model"
	"trainer/train"
	"trainer/train/device"
	"trainer/train/mpi"
)

// The defaults are what scripts/search-defaults.sh measured best on the
// shared dev sets within what a default may cost (3 minutes of training on
// the Amazon set and 15k predictions/s on 2 cores; docs/accuracy.md has the
// table): a bidirectional LSTM (E=512, H=64 per direction) with max
// pooling over time, a wide bigram path beside it, word dropout 0.1 and
// weight decay 0.01, reviews cut at 400 tokens (256 cost IMDB a point;
// Amazon reviews are shorter), at a peak rate of 2e-3 decayed by a cosine
// over 5 epochs, the best dev epoch kept. H=128 per direction scores about
// half a point more on Amazon but predicts 2.5 times slower (about 11k
// reviews/s on 2 cores, under the 15k the default must keep); H=64 costs
// less in prediction than the earlier unidirectional H=128. The wide
// embedding costs little: its input projection is computed per distinct
// token in training and tabulated for prediction.
const (
	defaultEmbedDim    = 512
	defaultHidden      = 64
	defaultEpochs      = 5
	defaultBatch       = 128
	defaultLR          = 2e-3
	defaultMaxLen      = 400
	defaultVocabSize   = data.DefaultVocabSize
	defaultMinCount    = data.DefaultMinCount
	defaultClip        = 5
	defaultDevFrac     = 0.1
	defaultPatience    = 2
	defaultWordDropout = 0.1
	defaultWeightDecay = 0.01
)

// defaultModel is the network train builds when no model flag is given.
// On a GPU the n-gram path is left out unless --ngrams asks for it (see
// checkDevice).
func defaultModel() model.Config {
	return model.Config{EmbedDim: defaultEmbedDim, Hidden: defaultHidden, Layers: 1, Bidirectional: true,
		Pool: model.PoolMax, Ngrams: 2}
}

// Values of --amp and --schedule.
const (
	ampOff         = "off"
	ampFP16        = "fp16"
	ampBF16        = "bf16"
	scheduleEven   = "even"
	scheduleHybrid = "hybrid"
	embedDense     = "dense"
	embedLazy      = "lazy"
)

// mpiTimeout bounds every collective of a multi-process run: far above
// the slowest step or evaluation, so it fires only on a lost rank.
const mpiTimeout = 10 * time.Minute

func trainCommand() *cli.Command {
	return &cli.Command{
		Name:  "train",
		Usage: "train a sentiment model, data-parallel over CPU workers, a GPU or both",
		Description: "Reads --train (fastText or CSV, plain, .gz or .bz2), holds out --dev-fraction of it as a dev set\n" +
			"unless --dev is given, trains for --epochs and keeps the model with the best dev accuracy as\n" +
			"OUT/model.bin. One JSON object per epoch goes to OUT/metrics.jsonl; OUT/checkpoint.bin is written\n" +
			"every --checkpoint-every steps, at every epoch end and on SIGINT/SIGTERM, and --resume OUT continues\n" +
			"a run exactly where it stopped.\n\n" +
			"--device cuda:N trains on a GPU (a binary built with make cuda); --amp fp16 (or a bare --amp) adds\n" +
			"mixed precision with dynamic loss scaling, --amp bf16 needs no scaling. With --cpu-workers K the K\n" +
			"CPU workers join the GPU and every batch is split by measured throughput (--schedule hybrid, which\n" +
			"CPU-only runs may use too); metrics.jsonl then shows each replica's share and idle time, and the loss\n" +
			"scale under fp16. Under mpirun -np R (a binary built with make mpi) every rank trains its part of\n" +
			"each global batch and rank 0 alone writes OUT.",
		Flags:  append(trainFlags(), logFormatFlag()),
		Action: interruptible(trainOptionsFrom, runTrain),
	}
}

func trainFlags() []cli.Flag {
	flags := append(devFlags(),
		&cli.StringFlag{Name: "device", Value: "cpu", Usage: "cpu, or cuda:N in a binary built with make cuda"},
		&cli.IntFlag{Name: "cpu-workers", Value: runtime.NumCPU(), Usage: "data-parallel CPU workers (one core each); with --device cuda:N they join the GPU under the hybrid scheduler (default there: 0, the GPU alone)"},
		&cli.StringFlag{Name: "amp", Value: ampOff, Usage: "mixed precision on the GPU: fp16 (dynamic loss scaling; a bare --amp means fp16), bf16 or off"},
		&cli.IntFlag{Name: "streams", Value: 1, Usage: "GPU streams, one replica each"},
		&cli.StringFlag{Name: "schedule", Value: scheduleEven, Usage: "split of every batch over the CPU workers: even (by tokens) or hybrid (by measured throughput); GPU + CPU runs are always hybrid"},
		&cli.IntFlag{Name: "epochs", Value: defaultEpochs},
		&cli.StringFlag{Name: "out", Usage: "output directory (model.bin, metrics.jsonl, checkpoint.bin)"},
		seedFlag(),
		&cli.IntFlag{Name: "warmup", Value: 0, Usage: "steps of linear learning-rate warmup"},
		&cli.StringFlag{Name: "lr-decay", Value: "cosine", Usage: "after warmup: constant, linear or cosine to 0 at the last step"},
		&cli.IntFlag{Name: "patience", Value: defaultPatience, Usage: "stop after this many epochs without a better dev accuracy; 0 never stops early"},
		&cli.IntFlag{Name: "checkpoint-every", Value: 500, Usage: "steps between checkpoints (0: only at epoch ends and on signals)"},
		&cli.StringFlag{Name: "resume", Usage: "continue the interrupted run in this directory (--train and --test default to the run's)"},
		&cli.BoolFlag{Name: "overwrite", Usage: "replace a run already in --out (default: refuse)"},
		&cli.StringFlag{Name: "metrics", Usage: "JSON lines metrics log (default OUT/metrics.jsonl)"},
		&cli.BoolFlag{Name: "no-bucket", Usage: "random batches instead of length-bucketed ones (slower)"},
	)
	flags = append(flags, dataFlags()...)
	flags = append(flags, modelFlags(defaultModel(), defaultMaxLen)...)
	flags = append(flags, optimFlags(optimDefaults{Batch: defaultBatch, Lazy: true, WeightDecay: defaultWeightDecay,
		WordDropout: defaultWordDropout})...)
	flags = append(flags, vectorsFlags()...)
	return append(flags, pipelineFlags(1)...)
}

// devFlags say where the dev set comes from, in train and tune alike.
func devFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "dev", Usage: "dev file for model selection and early stopping (default: --dev-fraction of --train)"},
		&cli.Float64Flag{Name: "dev-fraction", Value: defaultDevFrac, Usage: "share of --train held out as dev set when --dev is not given"},
	}
}

// trainOptions is the validated command line of a training run.
type trainOptions struct {
	Train, Test, Dev string
	DevFraction      float64
	Device           string
	Workers          int // CPU replicas (per rank); 0 with a GPU: the GPU alone
	AMP              string
	Streams          int
	Split            string // --schedule: even or hybrid
	Stages           int    // --pipeline-stages: 1 = no model parallelism
	MicroBatches     int    // --micro-batches per pipeline step
	Chunks           int    // --pipeline-chunks per micro-batch
	Epochs           int
	Out              string
	Seed             uint64
	Model            model.Config // VocabSize filled in after the data are read
	MaxLen           int
	BatchSize        int
	Optim            device.OptimConfig
	Schedule         train.LRSchedule
	Clip             float64
	WordDropout      float64
	Patience         int
	CheckpointEvery  int
	Resume           bool
	Metrics          string
	CacheDir         string
	DataWorkers      int
	VocabSize        int
	MinCount         int
	SkipBad          bool
	LabelMap         data.LabelMap // parsed LabelMapSpec, for reading --dev
	LabelMapSpec     string
	Balance          bool
	Preprocess       data.Preprocess
	Bucket           bool
	Overwrite        bool
	Vectors          vectorsOptions // pretrained embedding; Freeze is Optim.FreezeEmbedding

	// Notes are defaults the options changed for the device, for the log.
	Notes []string

	// afterStep, when set, runs after every training step; tests use it to
	// interrupt a run at an exact step, as a signal would.
	afterStep func()
}

// runSettings are the settings that shape the weights; a resumed run must
// have the same ones, and they are stored in every checkpoint.
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
	Vectors *vectorsSource `json:",omitempty"`
}

func trainOptionsFrom(c *cli.Context) (*trainOptions, error) {
	g, err := parseRunGroups(c)
	if err != nil {
		return nil, err
	}
	d, op, pl := g.d, g.op, g.pl
	o := &trainOptions{
		Train: d.Train, Test: d.Test, Dev: c.String("dev"),
		DevFraction: c.Float64("dev-fraction"), Device: c.String("device"),
		Workers: c.Int("cpu-workers"), Epochs: c.Int("epochs"), Out: c.String("out"), Seed: c.Uint64(flagSeed),
		BatchSize: op.BatchSize, Optim: op.Optim, Clip: op.Clip, WordDropout: op.WordDropout,
		Patience: c.Int("patience"), CheckpointEvery: c.Int("checkpoint-every"),
		Metrics: c.String("metrics"), CacheDir: d.CacheDir, DataWorkers: d.Workers,
		VocabSize: d.VocabSize, MinCount: d.MinCount, SkipBad: d.SkipBad, LabelMap: d.LabelMap,
		LabelMapSpec: d.PrepOptions.LabelMap, Balance: d.Balance, Preprocess: d.Preprocess,
		Bucket: !c.Bool("no-bucket"), Overwrite: c.Bool("overwrite"),
		AMP: c.String("amp"), Streams: c.Int("streams"), Split: c.String("schedule"),
		Stages: pl.Stages, MicroBatches: pl.MicroBatches, Chunks: pl.Chunks,
	}
	if o.Model, o.MaxLen, err = parseModel(c, o.VocabSize); err != nil {
		return nil, err
	}
	if err := finite("train", "dev-fraction", o.DevFraction, o.Dev != "" || (o.DevFraction > 0 && o.DevFraction < 1),
		"in (0, 1) when --dev is not given"); err != nil {
		return nil, err
	}
	if r := c.String("resume"); r != "" {
		if o.Out != "" && filepath.Clean(o.Out) != filepath.Clean(r) {
			return nil, usagef("train: --resume %s and --out %s name different directories", r, o.Out)
		}
		o.Out, o.Resume = r, true
	}
	if o.Vectors, err = parseVectors(c, o.Resume); err != nil {
		return nil, err
	}
	o.Optim.FreezeEmbedding = o.Vectors.Freeze
	switch {
	case o.Train == "" && !o.Resume:
		return nil, usagef("train: --train FILE is required")
	case o.Out == "":
		return nil, usagef("train: --out DIR is required")
	case o.Epochs < 1:
		return nil, usagef("train: --epochs must be at least 1, got %d", o.Epochs)
	case o.Workers < 0 || (o.Workers == 0 && o.Device == "cpu"):
		return nil, usagef("train: --cpu-workers must be at least 1 (0 only beside a GPU), got %d", o.Workers)
	case o.Patience < 0 || o.CheckpointEvery < 0:
		return nil, usagef("train: --patience and --checkpoint-every must be >= 0")
	}
	o.Schedule = train.LRSchedule{Base: op.LR, Warmup: c.Int("warmup"), Decay: c.String("lr-decay")}
	if err := o.Schedule.Validate(); err != nil {
		return nil, usagef("train: %v", err)
	}
	if err := o.checkDevice(c.IsSet("cpu-workers"), c.IsSet("schedule"), c.IsSet("ngrams")); err != nil {
		return nil, err
	}
	if err := o.checkPipeline(); err != nil {
		return nil, err
	}
	return o, nil
}

// checkPipeline validates --pipeline-stages against the model and the
// workers that must hold whole pipelines.
func (o *trainOptions) checkPipeline() error {
	switch {
	case o.Stages == 1:
		return nil
	case o.Stages > len(train.PipelineUnits(o.Model)):
		units := train.PipelineUnits(o.Model)
		return usagef("train: --pipeline-stages %d: a model of %d LSTM layers splits into at most %d stages (%s)",
			o.Stages, o.Model.Layers, len(units), strings.Join(units, ", "))
	case o.Device != "cpu":
		return usagef("train: --pipeline-stages runs on CPU workers; it does not combine with --device %s", o.Device)
	case o.Split == scheduleHybrid:
		return usagef("train: --pipeline-stages does not combine with --schedule hybrid")
	case o.Workers < o.Stages || o.Workers%o.Stages != 0:
		return usagef("train: --cpu-workers %d must be a multiple of --pipeline-stages %d (each pipeline needs one worker per stage)",
			o.Workers, o.Stages)
	}
	return nil
}

// checkDevice validates --device with the flags that depend on it: --amp
// and --streams need a GPU, and a GPU with CPU workers is always scheduled
// by throughput. workersSet and scheduleSet say whether the user gave
// --cpu-workers and --schedule.
func (o *trainOptions) checkDevice(workersSet, scheduleSet, ngramsSet bool) error {
	switch o.AMP {
	case ampOff, ampFP16, ampBF16:
	default:
		return usagef("train: --amp %q: want fp16, bf16 or off", o.AMP)
	}
	switch o.Split {
	case scheduleEven, scheduleHybrid:
	default:
		return usagef("train: --schedule %q: want even or hybrid", o.Split)
	}
	if o.Streams < 1 {
		return usagef("train: --streams must be at least 1, got %d", o.Streams)
	}
	spec, err := device.ParseSpec(o.Device)
	if err != nil {
		return usagef("train: --device: %v", err)
	}
	if spec.CPU() {
		if o.AMP != ampOff {
			return usagef("train: --amp %s needs a GPU (--device cuda:N): CPU math is fp32", o.AMP)
		}
		if o.Streams != 1 {
			return usagef("train: --streams %d needs a GPU (--device cuda:N)", o.Streams)
		}
		return nil
	}
	if !device.Available(spec.Kind) {
		// device.Open says how to get a binary that has the backend.
		_, err := device.Open(spec, device.Request{})
		return usageError{fmt.Errorf("train: --device: %w", err)}
	}
	o.Device = spec.String()
	if !ngramsSet && o.Model.Ngrams > 0 {
		// The GPU has no n-gram kernels yet; the default model there is the
		// LSTM alone rather than an error. An explicit --ngrams is refused
		// by the device with its reason.
		o.Model.Ngrams, o.Model.Buckets = 0, 0
		o.Notes = append(o.Notes, "the n-gram path is off on the GPU (no kernels for it yet); the model is the LSTM alone")
	}
	if !workersSet {
		o.Workers = 0 // the device alone unless CPU workers are asked for
	}
	if o.Workers > 0 {
		if scheduleSet && o.Split == scheduleEven {
			return usagef("train: --schedule even: a GPU and %d CPU workers differ too much in speed; GPU + CPU runs use --schedule hybrid", o.Workers)
		}
		o.Split = scheduleHybrid
	} else {
		o.Split = scheduleEven
	}
	return nil
}

func (o *trainOptions) settings() runSettings {
	s := runSettings{Train: o.Train, Test: o.Test, Dev: o.Dev, DevFraction: o.DevFraction, Seed: o.Seed,
		Workers: o.Workers, Model: o.Model, MaxLen: o.MaxLen, BatchSize: o.BatchSize, Optim: o.Optim,
		LR: o.Schedule.Base, Warmup: o.Schedule.Warmup, Decay: o.Schedule.Decay, Clip: o.Clip, WordDropout: o.WordDropout,
		VocabSize: o.VocabSize, MinCount: o.MinCount, LabelMap: o.LabelMapSpec, Bucket: o.Bucket,
		AMP: omitDefault(o.AMP, ampOff), Schedule: omitDefault(o.Split, scheduleEven), Balance: o.Balance,
		Vectors: o.Vectors.Source}
	if o.Preprocess != data.DefaultPreprocess() {
		p := o.Preprocess
		s.Preprocess = &p
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

// openRunDir prepares the output directory: a fresh run creates it and
// refuses to replace a run already there (unless --overwrite); --resume
// loads its checkpoint, never creating the directory, and takes the input
// files the run was started with when the command line names none.
func (o *trainOptions) openRunDir() (*train.Checkpoint, error) {
	if !o.Resume {
		if err := os.MkdirAll(o.Out, 0o755); err != nil {
			return nil, fmt.Errorf("train: %w", err)
		}
		if o.Overwrite {
			return nil, nil
		}
		// A fresh run would replace these; never lose a finished or
		// interrupted run by re-running a command.
		for _, name := range []string{"model.bin", train.CheckpointName} {
			if _, err := os.Stat(filepath.Join(o.Out, name)); err == nil {
				return nil, usagef("train: %s already holds a run (%s): --resume %s continues it, --overwrite replaces it", o.Out, name, o.Out)
			}
		}
		return nil, nil
	}
	if fi, err := os.Stat(o.Out); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("train --resume %s: no run directory there", o.Out)
	}
	ck, err := train.LoadCheckpoint(filepath.Join(o.Out, train.CheckpointName))
	if err != nil {
		return nil, fmt.Errorf("train --resume: %w", err)
	}
	if ck.Epoch >= o.Epochs {
		return nil, fmt.Errorf("train --resume: the run in %s already finished %d epochs (asked for %d)", o.Out, ck.Epoch, o.Epochs)
	}
	var stored runSettings
	storedErr := json.Unmarshal(ck.Run, &stored)
	if o.Vectors.Path == "" && storedErr == nil {
		// The weights come from the checkpoint, so the vectors file
		// need not be named again, nor still be there.
		o.Vectors.Source = stored.Vectors
	}
	if o.Train == "" {
		if storedErr != nil || stored.Train == "" {
			return nil, fmt.Errorf("train --resume %s: the checkpoint does not name its training file; give --train", o.Out)
		}
		o.Train = stored.Train
		if o.Test == "" {
			o.Test = stored.Test
		}
		if o.Dev == "" {
			o.Dev = stored.Dev
		}
	}
	return ck, nil
}

func runTrain(ctx context.Context, o *trainOptions, log *logger, stdout io.Writer) error {
	for _, n := range o.Notes {
		log.Infof("%s", n)
	}
	resume, err := o.openRunDir()
	if err != nil {
		return err
	}
	// One run per directory (under mpirun, rank 0 alone writes it).
	if rank := os.Getenv("OMPI_COMM_WORLD_RANK"); rank == "" || rank == "0" {
		lock, err := runlock.Acquire(o.Out)
		if err != nil {
			return fmt.Errorf("train: %w", err)
		}
		defer lock.Release()
	}
	td, err := loadTrainingData(ctx, o, log)
	if err != nil {
		return err
	}
	defer td.Close()
	for _, line := range td.DroppedLines {
		log.Warnf("%s", line)
	}
	_, err = trainOnData(ctx, o, log, stdout, td, resume)
	return err
}

// trainOnData trains o on data already read, resuming from resume if set.
// It is the run after runTrain's set-up, apart so that tune can train many
// runs on data it read once.
func trainOnData(ctx context.Context, o *trainOptions, log *logger, stdout io.Writer, td *train.Data,
	resume *train.Checkpoint) (train.Summary, error) {
	o.Model.VocabSize = td.Vocab.Size()
	if err := o.Model.Validate(); err != nil {
		return train.Summary{}, usagef("train: %v", err)
	}
	settings := o.settings()
	if resume != nil {
		diff, err := diffSettings(resume.Run, settings)
		if err != nil {
			return train.Summary{}, fmt.Errorf("train --resume %s: %w", o.Out, err)
		}
		if len(diff) > 0 {
			return train.Summary{}, usagef("train --resume %s: settings differ from the interrupted run: %s", o.Out, strings.Join(diff, "; "))
		}
		if err := train.CheckResume(resume, o.Epochs, td.Inputs); err != nil {
			return train.Summary{}, usagef("train --resume %s: %v", o.Out, err)
		}
	}
	var vecs *train.Vectors
	if resume == nil && o.Vectors.Path != "" {
		var err error
		if vecs, err = o.loadVectors(td, log); err != nil {
			return train.Summary{}, err
		}
	}
	lines, err := mpi.SettingsLines(settings)
	if err != nil {
		return train.Summary{}, fmt.Errorf("train: %w", err)
	}
	// Under mpirun every rank has read the same data by now; the start-up
	// check compares binaries and settings before any rank trains.
	dist, err := mpi.Start(false, lines, td.Train.Len(), mpiTimeout)
	if err != nil {
		return train.Summary{}, fmt.Errorf("train: %w", err)
	}
	defer dist.Close()
	sum, err := trainRank(ctx, o, log, stdout, td, vecs, settings, resume, dist)
	if err != nil && !errors.Is(err, train.ErrInterrupted) {
		// Every rank stops with this rank's error rather than waiting in
		// a collective it will never enter.
		return sum, dist.Fail(err)
	}
	return sum, err
}

// trainRank trains this process's part of the run: all of it in a single
// process, its share of every global batch under mpirun. Only rank 0 writes
// the model, metrics, checkpoints and progress.
func trainRank(ctx context.Context, o *trainOptions, log *logger, stdout io.Writer, td *train.Data, vecs *train.Vectors,
	settings runSettings, resume *train.Checkpoint, dist *mpi.Job) (train.Summary, error) {
	root := dist.Root()
	dir, metricsPath := o.Out, o.Metrics
	if !root {
		// The loop always checkpoints and logs; the other ranks do it in a
		// scratch directory that goes away with them.
		tmp, err := os.MkdirTemp("", "trainer-rank")
		if err != nil {
			return train.Summary{}, fmt.Errorf("train: %w", err)
		}
		defer os.RemoveAll(tmp)
		dir, metricsPath = tmp, ""
		log, stdout = &logger{w: io.Discard}, io.Discard
	}
	batcher := data.NewBatcher(td.Train, data.BatchOptions{BatchSize: o.BatchSize, MaxLen: o.MaxLen, Seed: o.Seed, Bucket: o.Bucket, Shuffle: true,
		WordDropout: o.WordDropout})
	modelPath := filepath.Join(o.Out, "model.bin")
	approach := approachName(runShape{Device: o.Device, Workers: o.Workers, AMP: o.AMP, Streams: o.Streams, Stages: o.Stages,
		Schedule: o.Split, Ranks: dist.Size()})
	file := &model.File{Version: model.FileVersion, Config: o.Model, Vocab: td.Vocab.Words(), Preprocess: model.Preprocess(o.Preprocess),
		LabelMap: model.LabelMapOf(o.LabelMap), MaxLen: o.MaxLen, Extra: map[string]string{"approach": approach, "train": o.Train, "seed": strconv.FormatUint(o.Seed, 10)}}
	if src := o.Vectors.Source; src != nil {
		// Provenance for whoever reads the model; a resumed run names the
		// file its first part read.
		file.Extra["init_vectors"] = src.Path
		file.Extra["freeze_vectors"] = strconv.FormatBool(o.Optim.FreezeEmbedding)
	}
	if len(td.Dropped) > 0 {
		b, _ := json.Marshal(td.Dropped)
		file.Extra["dropped"] = string(b)
	}
	prog := newEpochProgress(log, o.Epochs, batcher.NumBatches())
	cfg := o.runConfig(settings, dist)
	cfg.Loop.Dir, cfg.Loop.MetricsPath = dir, metricsPath
	cfg.Loop.Schedule.Total = o.Epochs * batcher.NumBatches()
	cfg.Loop.Inputs, cfg.Loop.Dropped = td.Inputs, td.Dropped
	cfg.Resume, cfg.Vectors = resume, vecs
	cfg.Hooks = train.LoopHooks{
		Train: batcher, Dev: train.EvalBatches(td.Dev, o.BatchSize, o.MaxLen), Test: train.EvalBatches(td.Test, o.BatchSize, o.MaxLen),
		SaveBest: func(p []float32, rec train.EpochRecord) error {
			if !root {
				return nil
			}
			file.Params = p
			file.Metrics = recordMetrics(rec)
			file.Extra["epoch"] = strconv.Itoa(rec.Epoch)
			return model.Save(modelPath, file)
		},
		OnStep: func(epoch, batch, batches int, st train.StepStats) {
			prog.step(epoch, batch, batches, st)
			if o.afterStep != nil {
				o.afterStep()
			}
		},
		OnEpoch: func(rec train.EpochRecord) {
			prog.epoch(rec)
			if rec.Schedule != nil {
				log.Infof("epoch %d schedule: %s", rec.Epoch, rec.Schedule)
			}
		},
	}
	run, err := train.Assemble(cfg)
	if err != nil {
		return train.Summary{}, fmt.Errorf("train: %w", err)
	}
	defer run.Close()
	if resume != nil {
		log.Infof("resuming %s at epoch %d, batch %d (step %d)", o.Out, resume.Epoch+1, resume.Batch, resume.Step)
	}
	log.Infof("training %s: %d reviews (%d dev, %d test), vocabulary %d, %d parameters, %s, batch %d",
		o.Train, td.Train.Len(), lenOf(td.Dev), lenOf(td.Test), td.Vocab.Size(), model.NewLayout(o.Model).Size(), approach, o.BatchSize)
	sum, err := run.Train(ctx)
	prog.stop()
	if err != nil {
		return sum, fmt.Errorf("train: %w", err)
	}
	if !root {
		return sum, nil
	}
	if sum.EarlyStopped {
		log.Infof("early stopping: no better dev accuracy for %d epochs", o.Patience)
	}
	return sum, newRunSummary(sum, approach, o.Workers*dist.Size(), modelPath).write(stdout)
}

// newRunSummary is the closing table of a run from the loop's summary; the
// best epoch may predate a resume, and the checkpoint carried its scores.
func newRunSummary(sum train.Summary, approach string, cpus int, modelPath string) runSummary {
	rs := runSummary{CPUs: cpus, Approach: approach, Training: time.Duration(sum.Seconds * float64(time.Second)),
		Epochs: sum.Epochs, BestEpoch: sum.BestEpoch, ModelPath: modelPath, TokensPerS: sum.Last.TokensPerS}
	if best := sum.BestRecord; best.Test != nil {
		rs.Evaluated, rs.Accuracy, rs.Loss = "test", best.Test.Accuracy, best.Test.Loss
	} else if best.Dev != nil {
		rs.Evaluated, rs.Accuracy, rs.Loss = "dev", best.Dev.Accuracy, best.Dev.Loss
	}
	return rs
}

// loadVectors reads the pretrained vectors of the run's vocabulary and
// logs how much of it, and of the training text, they cover.
func (o *trainOptions) loadVectors(td *train.Data, log *logger) (*train.Vectors, error) {
	v, err := train.LoadVectors(o.Vectors.Path, td, o.Model.EmbedDim, o.Preprocess.Lowercase)
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

// percent is n of total as a percentage with one decimal.
func percent(n, total int64) string {
	if total == 0 {
		return "0.0%"
	}
	return strconv.FormatFloat(100*float64(n)/float64(total), 'f', 1, 64) + "%"
}

// runConfig is the run assembly's view of the options: model, optimizer,
// devices, pipeline, ranks and the loop's settings.
func (o *trainOptions) runConfig(settings runSettings, dist *mpi.Job) train.RunConfig {
	runJSON, _ := json.Marshal(settings)
	modelJSON, _ := json.Marshal(o.Model)
	spec, _ := device.ParseSpec(o.Device) // validated with the flags
	cfg := train.RunConfig{
		Model: o.Model, Seed: o.Seed, Optim: o.Optim, Clip: o.Clip,
		Devices: train.Devices{Device: spec, CPUWorkers: o.Workers, Precision: precisionOf(o.AMP), Streams: o.Streams,
			Hybrid:   o.Split == scheduleHybrid,
			Pipeline: train.PipelineOptions{Stages: o.Stages, MicroBatches: o.MicroBatches, Chunks: o.Chunks}},
		Loop: train.LoopConfig{Epochs: o.Epochs, Seed: o.Seed, Patience: o.Patience, CheckpointEvery: o.CheckpointEvery,
			Schedule: o.Schedule, Model: modelJSON, Run: runJSON},
	}
	if dist.Size() > 1 {
		cfg.Ranks = dist
	}
	return cfg
}

// precisionOf is the device precision of an --amp value.
func precisionOf(amp string) string {
	if amp == ampOff {
		return "fp32"
	}
	return amp
}

// loadTrainingData reads the inputs with a progress meter per stage. The
// caller must Close the data.
func loadTrainingData(ctx context.Context, o *trainOptions, log *logger) (*train.Data, error) {
	meters := map[string]*meter{}
	progress := func(ev data.ProgressEvent) {
		if ev.Warning != "" {
			log.Warnf("%s", ev.Warning)
			return
		}
		m := meters[ev.Stage]
		if m == nil {
			m = log.Meter(ev.Stage, ev.Total, true, "reviews")
			meters[ev.Stage] = m
		}
		m.Update(ev.Done, ev.Reviews)
		if ev.Final {
			m.Finish()
		}
	}
	cfg := o.dataConfig()
	cfg.Prep.Progress = progress
	td, err := train.LoadData(ctx, cfg)
	for _, m := range meters {
		m.Finish()
	}
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	return td, nil
}

// dataConfig is where the run's data come from and how they are read,
// without progress reporting: two runs with equal ones train on the same
// data.
func (o *trainOptions) dataConfig() train.DataConfig {
	return train.DataConfig{Prep: data.PrepOptions{
		Train: o.Train, Test: o.Test, CacheDir: o.CacheDir, Workers: o.DataWorkers, SkipBad: o.SkipBad,
		LabelMap: o.LabelMapSpec, Preprocess: o.Preprocess, VocabSize: o.VocabSize, MinCount: o.MinCount, Balance: o.Balance,
		Seed: o.Seed,
	}, Dev: o.Dev, DevFraction: o.DevFraction, LabelMap: o.LabelMap}
}

func lenOf(d *data.Dataset) int {
	if d == nil {
		return 0
	}
	return d.Len()
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

// expandBareAMP lets --amp stand alone, as in `train --device cuda:0 --amp`:
// the command-line parser has no flags with optional values, so a --amp
// followed by another flag or by nothing gets fp16. Arguments after "--" are left
// alone.
func expandBareAMP(args []string) []string {
	out := make([]string, 0, len(args)+1)
	for i := 0; i < len(args); i++ {
		out = append(out, args[i])
		if args[i] == "--" {
			return append(out, args[i+1:]...)
		}
		if args[i] != "--amp" && args[i] != "-amp" {
			continue
		}
		// A following word that is not a flag is the value, right or wrong,
		// so that --amp fp8 is refused by name.
		if i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
			continue
		}
		out = append(out, ampFP16)
	}
	return out
}
