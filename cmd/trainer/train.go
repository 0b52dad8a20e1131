package main

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"trainer/internal/console"
	"trainer/train"
	"trainer/train/job"
)

// Values of --amp, --schedule and --embed-update.
const (
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
			"--device cuda:N trains on a GPU (a binary built with make cuda), in bf16 on compute capability 8.0\n" +
			"and later (--amp auto); --amp fp16 (or a bare --amp) uses dynamic loss scaling, --amp off is fp32.\n" +
			"With --cpu-workers K the K CPU workers join the GPU and every batch is split by measured throughput\n" +
			"(--schedule hybrid, which CPU-only runs may use too); metrics.jsonl then shows each replica's share,\n" +
			"its idle time and the precision that ran, and the loss scale under fp16. Under mpirun -np R (a binary\n" +
			"built with make mpi) every rank trains its part of each global batch and rank 0 alone writes OUT.",
		Flags:  append(trainFlags(), logFormatFlag()),
		Action: interruptible(trainOptionsFrom, runTrain),
	}
}

func trainFlags() []cli.Flag {
	flags := append(devFlags(),
		&cli.StringFlag{Name: "device", Value: "cpu", Usage: "cpu, or cuda:N in a binary built with make cuda"},
		cpuWorkersFlag("data-parallel CPU workers (one core each); with --device cuda:N they join the GPU under the hybrid scheduler (default there: 0, the GPU alone)"),
		&cli.StringFlag{Name: "amp", Value: job.AMPAuto, Usage: "mixed precision on the GPU: auto (bf16 on compute capability 8.0 and later, fp32 before), fp16 (dynamic loss scaling; a bare --amp means fp16), bf16 or off (fp32); CPU math is fp32"},
		&cli.IntFlag{Name: "streams", Value: 1, Usage: "GPU streams, one replica each"},
		&cli.StringFlag{Name: "schedule", Value: scheduleEven, Usage: "split of every batch over the CPU workers: even (by tokens) or hybrid (by measured throughput); GPU + CPU runs are always hybrid"},
		&cli.IntFlag{Name: "epochs", Value: job.DefaultEpochs},
		outFlag("", "output directory (model.bin, metrics.jsonl, checkpoint.bin)"),
		seedFlag(),
		&cli.IntFlag{Name: "warmup", Value: 0, Usage: "steps of linear learning-rate warmup"},
		&cli.StringFlag{Name: "lr-decay", Value: "cosine", Usage: "after warmup: constant, linear or cosine to 0 at the last step"},
		&cli.IntFlag{Name: "patience", Value: job.DefaultPatience, Usage: "stop after this many epochs without a better dev accuracy; 0 never stops early"},
		&cli.IntFlag{Name: "checkpoint-every", Value: 500, Usage: "steps between checkpoints (0: only at epoch ends and on signals)"},
		&cli.StringFlag{Name: "resume", Usage: "continue the interrupted run in this directory (--train and --test default to the run's)"},
		overwriteFlag("replace a run already in --out (default: refuse)"),
		&cli.StringFlag{Name: "metrics", Usage: "JSON lines metrics log (default OUT/metrics.jsonl)"},
		&cli.BoolFlag{Name: "no-bucket", Usage: "random batches instead of length-bucketed ones (slower)"},
	)
	flags = append(flags, dataFlags()...)
	flags = append(flags, modelFlags(job.DefaultModel(), job.DefaultMaxLen)...)
	flags = append(flags, optimFlags(optimDefaults{Batch: job.DefaultBatch, Lazy: true, WeightDecay: job.DefaultWeightDecay,
		WordDropout: job.DefaultWordDropout})...)
	flags = append(flags, vectorsFlags()...)
	return append(flags, pipelineFlags(1)...)
}

// devFlags say where the dev set comes from, in train and tune alike.
func devFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "dev", Usage: "dev file for model selection and early stopping (default: --dev-fraction of --train)"},
		&cli.Float64Flag{Name: "dev-fraction", Value: job.DefaultDevFrac, Usage: "share of --train held out as dev set when --dev is not given"},
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
		Data:      d,
		BatchSize: op.BatchSize, Optim: op.Optim, Clip: op.Clip, WordDropout: op.WordDropout,
		Schedule: train.LRSchedule{Base: op.LR, Warmup: c.Int("warmup"), Decay: c.String("lr-decay")},
		Device:   c.String("device"), Workers: c.Int("cpu-workers"), AMP: c.String("amp"), Streams: c.Int("streams"),
		Split: c.String("schedule"), Pipeline: pl,
		Epochs: c.Int("epochs"), Seed: c.Uint64(flagSeed), Patience: c.Int("patience"), CheckpointEvery: c.Int("checkpoint-every"),
		Bucket: !c.Bool("no-bucket"), Out: c.String("out"), Metrics: c.String("metrics"), Overwrite: c.Bool("overwrite"),
	}
	if o.Model, o.MaxLen, err = parseModel(c, d.Prep.VocabSize); err != nil {
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
	if err := o.Validate(job.Given{Workers: c.IsSet("cpu-workers"), Split: c.IsSet("schedule")}); err != nil {
		return nil, cliError(err)
	}
	return o, nil
}

// runTrain trains as o says and prints the closing summary.
func runTrain(ctx context.Context, o *job.Options, log *console.Logger, stdout io.Writer) error {
	res, err := job.Run(ctx, o, job.ConsoleReporter(log))
	if err != nil || !res.Root {
		return cliError(err)
	}
	return res.WriteSummary(stdout)
}

// cliError gives the errors a job blames on its options the command
// line's usage status.
func cliError(err error) error {
	if errors.As(err, new(job.UsageError)) {
		return usageError{err}
	}
	return err
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
