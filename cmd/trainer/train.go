package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/urfave/cli/v2"

	"trainer/data"
	"trainer/internal/console"
	"trainer/model"
	"trainer/train"
	"trainer/train/job"
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
// job.Options.Validate).
func defaultModel() model.Config {
	return model.Config{EmbedDim: defaultEmbedDim, Hidden: defaultHidden, Layers: 1, Bidirectional: true,
		Pool: model.PoolMax, Ngrams: 2}
}

// Values of --amp, --schedule and --embed-update.
const (
	ampOff       = job.AMPOff
	ampFP16      = job.AMPFP16
	scheduleEven = job.SplitEven
	embedDense   = "dense"
	embedLazy    = "lazy"
)

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

// trainOptionsFrom reads train's flag groups into a job's options.
func trainOptionsFrom(c *cli.Context) (*job.Options, error) {
	g, err := parseRunGroups(c)
	if err != nil {
		return nil, err
	}
	d, op, pl := g.d, g.op, g.pl
	o := &job.Options{
		Data:      train.DataConfig{Prep: d.PrepOptions, Dev: c.String("dev"), DevFraction: c.Float64("dev-fraction"), LabelMap: d.LabelMap},
		BatchSize: op.BatchSize, Optim: op.Optim, Clip: op.Clip, WordDropout: op.WordDropout,
		Schedule: train.LRSchedule{Base: op.LR, Warmup: c.Int("warmup"), Decay: c.String("lr-decay")},
		Device:   c.String("device"), Workers: c.Int("cpu-workers"), AMP: c.String("amp"), Streams: c.Int("streams"),
		Split: c.String("schedule"), Pipeline: pl,
		Epochs: c.Int("epochs"), Seed: c.Uint64(flagSeed), Patience: c.Int("patience"), CheckpointEvery: c.Int("checkpoint-every"),
		Bucket: !c.Bool("no-bucket"), Out: c.String("out"), Metrics: c.String("metrics"), Overwrite: c.Bool("overwrite"),
	}
	if o.Model, o.MaxLen, err = parseModel(c, d.VocabSize); err != nil {
		return nil, err
	}
	if r := c.String("resume"); r != "" {
		if o.Out != "" && filepath.Clean(o.Out) != filepath.Clean(r) {
			return nil, usagef("train: --resume %s and --out %s name different directories", r, o.Out)
		}
		o.Out, o.Resume = r, true
	}
	if err := parseVectors(c, o); err != nil {
		return nil, err
	}
	if err := o.Validate(job.Given{Workers: c.IsSet("cpu-workers"), Split: c.IsSet("schedule"), Ngrams: c.IsSet("ngrams")}); err != nil {
		return nil, cliError(err)
	}
	return o, nil
}

// runTrain trains as o says and prints the closing summary.
func runTrain(ctx context.Context, o *job.Options, log *console.Logger, stdout io.Writer) error {
	res, err := job.Run(ctx, o, reporter(log))
	if err != nil || !res.Root {
		return cliError(err)
	}
	return newRunSummary(res).write(stdout)
}

// cliError gives the errors a job blames on its options the command
// line's usage status.
func cliError(err error) error {
	if errors.As(err, new(job.UsageError)) {
		return usageError{err}
	}
	return err
}

// reporter shows a job's progress on log: a meter per stage of reading the
// data, then one per epoch.
func reporter(log *console.Logger) job.Reporter {
	return job.Reporter{Log: log,
		Reading: func() (func(data.ProgressEvent), func()) {
			progress, done := stageMeters(log)
			return progress, func() { done(true) }
		},
		Training: func(epochs int) job.Progress { return newEpochProgress(log, epochs) },
	}
}

// epochProgress is a job.Progress: a meter per epoch (loss, accuracy, real
// tokens/s and ETA) and a status line with the evaluation after it.
type epochProgress struct {
	log     *console.Logger
	epochs  int
	m       *console.Meter
	cur     int
	tokens  int64
	loss    float64
	rows    int
	correct int
}

func newEpochProgress(log *console.Logger, epochs int) *epochProgress {
	return &epochProgress{log: log, epochs: epochs, cur: -1}
}

func (p *epochProgress) Step(epoch, batch, batches int, st train.StepStats) {
	if p.m == nil || p.cur != epoch {
		p.m.Finish()
		p.cur, p.tokens, p.loss, p.rows, p.correct = epoch, 0, 0, 0, 0
		p.m = p.log.Meter(fmt.Sprintf("epoch %d/%d", epoch+1, p.epochs), int64(batches), false, "tokens")
	}
	p.tokens += int64(st.Tokens)
	p.loss += st.Loss
	p.rows += st.Rows
	p.correct += st.Correct
	p.m.SetStage(fmt.Sprintf("epoch %d/%d loss %.4f acc %.4f", epoch+1, p.epochs, p.loss/float64(p.rows), float64(p.correct)/float64(p.rows)))
	p.m.Update(int64(batch), p.tokens)
}

func (p *epochProgress) Epoch(rec train.EpochRecord) {
	p.Stop()
	msg := fmt.Sprintf("epoch %d/%d: train loss %.4f, %.0f tokens/s, %.1fs", rec.Epoch, p.epochs, rec.TrainLoss, rec.TokensPerS, rec.Seconds)
	if rec.Dev != nil {
		msg += fmt.Sprintf("; dev accuracy %.4f loss %.4f", rec.Dev.Accuracy, rec.Dev.Loss)
	}
	if rec.Test != nil {
		msg += fmt.Sprintf("; test accuracy %.4f loss %.4f", rec.Test.Accuracy, rec.Test.Loss)
	}
	if rec.Best {
		msg += " (best, saved)"
	}
	p.log.Infof("%s", msg)
}

func (p *epochProgress) Stop() {
	p.m.Finish()
	p.m = nil
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
