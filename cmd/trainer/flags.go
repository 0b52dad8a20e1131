package main

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"slices"
	"time"

	"github.com/urfave/cli/v2"

	"trainer/data"
	"trainer/internal/predict"
	"trainer/internal/profile"
	"trainer/model"
	"trainer/train"
	"trainer/train/device"
	"trainer/train/job"
)

// Every flag that two commands share is declared once here, in groups, and
// read and validated once by its group's parse function, so that a flag
// means and accepts the same thing in every command.

// Flag names shared by several commands.
const (
	flagTrain     = "train"
	flagTest      = "test"
	flagWorkers   = "workers"
	flagLabelMap  = "label-map"
	flagSkipBad   = "skip-bad"
	flagSeed      = "seed"
	flagJSON      = "json"
	flagBatchSize = "batch-size"
	flagModel     = "model"
	flagPrecision = "precision"
	flagFile      = "file"
	flagOut       = "out"
	flagProfile   = "cpuprofile"
)

// dataFlags are the data and preprocessing flags of the commands that
// encode raw reviews for training (prep, train, bench).
func dataFlags() []cli.Flag {
	d := data.DefaultPreprocess()
	return []cli.Flag{
		&cli.StringFlag{Name: flagTrain, Usage: "training reviews: fastText or CSV, plain, gzip or bzip2; - for stdin"},
		testFlag(),
		&cli.StringFlag{Name: "cache-dir", Value: data.DefaultCacheDir, Usage: "where encoded caches and vocabularies live"},
		workersFlag(),
		skipBadFlag(),
		labelMapFlag(),
		&cli.IntFlag{Name: "vocab-size", Value: data.DefaultVocabSize, Usage: "vocabulary ids including padding and unknown (at least 3)"},
		&cli.IntFlag{Name: "min-count", Value: data.DefaultMinCount, Usage: "fewest training occurrences of a vocabulary word"},
		&cli.BoolFlag{Name: "balance", Usage: "downsample the majority label to the minority's count (seeded by --seed; the drops are counted)"},
		&cli.BoolFlag{Name: "lowercase", Value: d.Lowercase, Usage: "lowercase the text"},
		&cli.BoolFlag{Name: "remove-special", Value: d.RemoveSpecial, Usage: "turn characters other than letters, digits and in-word apostrophes into spaces"},
		&cli.BoolFlag{Name: "collapse-space", Value: d.CollapseSpace, Usage: "collapse runs of whitespace"},
		&cli.StringFlag{Name: "tokenizer", Value: d.Tokenizer, Usage: "split (whitespace) or treebank (NLTK Treebank rules: don't -> do n't)"},
	}
}

// parseData reads the data group, and the dev set where the command has
// its flags; --train is checked by the caller, which knows whether it may
// come from elsewhere.
func parseData(c *cli.Context) (train.DataConfig, error) {
	cmd := c.Command.Name
	o := train.DataConfig{Dev: c.String("dev"), DevFraction: c.Float64("dev-fraction"), Prep: data.PrepOptions{
		Train: c.String(flagTrain), Test: c.String(flagTest), CacheDir: c.String("cache-dir"),
		SkipBad: c.Bool(flagSkipBad), LabelMap: c.String(flagLabelMap), VocabSize: c.Int("vocab-size"),
		MinCount: c.Int("min-count"), Balance: c.Bool("balance"), Seed: c.Uint64(flagSeed),
		Preprocess: data.Preprocess{Lowercase: c.Bool("lowercase"), RemoveSpecial: c.Bool("remove-special"),
			CollapseSpace: c.Bool("collapse-space"), Tokenizer: c.String("tokenizer")},
	}}
	var err error
	if o.Prep.Workers, err = parseWorkers(c); err != nil {
		return o, err
	}
	if o.Prep.LabelMap != "" {
		if o.LabelMap, err = parseLabelMap(c); err != nil {
			return o, err
		}
	}
	switch {
	case o.Prep.VocabSize < 3:
		return o, usagef("%s: --vocab-size %d is too small: need at least 3 (pad, unknown and one word)", cmd, o.Prep.VocabSize)
	case o.Prep.MinCount < 1:
		return o, usagef("%s: --min-count must be at least 1, got %d", cmd, o.Prep.MinCount)
	case o.Prep.CacheDir == "":
		return o, usagef("%s: --cache-dir is empty", cmd)
	}
	if err := o.Prep.Preprocess.Validate(); err != nil {
		return o, usagef("%s: --tokenizer: %v", cmd, err)
	}
	return o, nil
}

func testFlag() cli.Flag {
	return &cli.StringFlag{Name: flagTest, Usage: "labelled test reviews (fastText or CSV, plain, .gz or .bz2)"}
}

func workersFlag() cli.Flag {
	return &cli.IntFlag{Name: flagWorkers, Usage: "goroutines for reading, encoding and scoring (0: one per core)"}
}

// parseWorkers reads --workers, 0 meaning one per core.
func parseWorkers(c *cli.Context) (int, error) {
	n := c.Int(flagWorkers)
	if n < 0 {
		return 0, usagef("%s: --workers must be 0 (one per core) or more, got %d", c.Command.Name, n)
	}
	if n == 0 {
		n = runtime.NumCPU()
	}
	return n, nil
}

func skipBadFlag() cli.Flag {
	return &cli.BoolFlag{Name: flagSkipBad, Usage: "skip malformed records and count them, instead of stopping at the first"}
}

func labelMapFlag() cli.Flag {
	return &cli.StringFlag{Name: flagLabelMap, Usage: "map raw labels, e.g. '1,2=neg 4,5=pos 3=drop' (default: 1=neg 2=pos)"}
}

// parseLabelMap reads --label-map; unset is the Amazon polarity map.
func parseLabelMap(c *cli.Context) (data.LabelMap, error) {
	spec := c.String(flagLabelMap)
	if spec == "" {
		return data.LabelMap{}, nil
	}
	m, err := data.ParseLabelMap(spec)
	if err != nil {
		return m, usagef("%s: --label-map: %v", c.Command.Name, err)
	}
	return m, nil
}

func seedFlag() cli.Flag {
	return &cli.Uint64Flag{Name: flagSeed, Value: 1, Usage: "fixes initialisation, dev split, batch order, --balance and synthetic text: same seed, same result"}
}

func jsonFlag() cli.Flag {
	return &cli.BoolFlag{Name: flagJSON, Usage: "print the result as JSON"}
}

func modelFileFlag() cli.Flag {
	return &cli.StringFlag{Name: flagModel, Usage: "model file written by train (OUT/model.bin)"}
}

// parseModelFile reads --model, which every command that takes it needs.
func parseModelFile(c *cli.Context) (string, error) {
	if path := c.String(flagModel); path != "" {
		return path, nil
	}
	return "", usagef("%s: --model FILE is required", c.Command.Name)
}

func precisionFlag(def string) cli.Flag {
	return &cli.StringFlag{Name: flagPrecision, Value: def,
		Usage: "arithmetic of the recurrent products: fp32, or int8 (8-bit weights and activations, on CPUs with AVX-512 VNNI; fp32 elsewhere)"}
}

// parsePrecision reads --precision: whether the recurrent products run in
// 8 bits.
func parsePrecision(c *cli.Context) (bool, error) {
	switch v := c.String(flagPrecision); v {
	case predict.FP32, predict.Int8:
		return v == predict.Int8, nil
	default:
		return false, usagef("%s: --precision %q: want fp32 or int8", c.Command.Name, v)
	}
}

// scoringFlags are the flags of the commands that score reviews with a
// trained model in batches (eval, predict, report), with the command's
// default arithmetic.
func scoringFlags(defPrecision string) []cli.Flag {
	return []cli.Flag{modelFileFlag(), workersFlag(), batchSizeFlag(predict.DefaultBatch), precisionFlag(defPrecision)}
}

// scoringOptions is the scoring group, validated: the model file and how
// it scores.
type scoringOptions struct {
	Model   string
	Predict predict.Options
}

func parseScoring(c *cli.Context) (o scoringOptions, err error) {
	if o.Model, err = parseModelFile(c); err != nil {
		return o, err
	}
	if o.Predict.Workers, err = parseWorkers(c); err != nil {
		return o, err
	}
	if o.Predict.BatchSize, err = parseBatchSize(c); err != nil {
		return o, err
	}
	o.Predict.Int8, err = parsePrecision(c)
	return o, err
}

// reviewsFileFlag is --file of the commands that read unlabelled reviews
// (TEXT... | --file FILE | -).
func reviewsFileFlag() cli.Flag {
	return &cli.StringFlag{Name: flagFile, Usage: "read reviews from this file, one per line"}
}

// parseReviews reads the arguments and --file into where the reviews come
// from; Close the source after use.
func parseReviews(c *cli.Context) (data.TextSource, error) {
	cmd, args, file := c.Command.Name, c.Args().Slice(), c.String(flagFile)
	switch {
	case file != "" && len(args) > 0:
		return data.TextSource{}, usagef("%s: give texts as arguments or --file, not both", cmd)
	case len(args) > 1 && slices.Contains(args, "-"):
		return data.TextSource{}, usagef("%s: - reads stdin and takes no other arguments, got %q", cmd, args)
	case len(args) == 1 && args[0] == "-":
		if c.App.Reader == nil {
			return data.TextSource{R: os.Stdin, Name: "stdin"}, nil
		}
		return data.TextSource{R: c.App.Reader, Name: "stdin"}, nil
	case file != "":
		src, err := data.OpenTextFile(file)
		if err != nil {
			return src, fmt.Errorf("%s: %w", cmd, err)
		}
		return src, nil
	case len(args) == 0:
		return data.TextSource{}, usagef("%s: no reviews: give TEXT arguments, --file FILE or - for stdin", cmd)
	}
	return data.TextSource{Texts: args}, nil
}

// outFlag is --out, where a command writes: usage says what it is, def
// is the command's default ("" when it must be given).
func outFlag(def, usage string) cli.Flag {
	return &cli.StringFlag{Name: flagOut, Value: def, Usage: usage}
}

// overwriteFlag lets a command replace what --out names.
func overwriteFlag(usage string) cli.Flag {
	return &cli.BoolFlag{Name: "overwrite", Usage: usage}
}

// cpuWorkersFlag is the data-parallel CPU workers of a training run
// (train, and tune's trials), one core each by default.
func cpuWorkersFlag(usage string) cli.Flag {
	return &cli.IntFlag{Name: "cpu-workers", Value: runtime.NumCPU(), Usage: usage}
}

// budgetFlag is a command's wall-time budget; usage says what it bounds.
func budgetFlag(def time.Duration, usage string) cli.Flag {
	return &cli.DurationFlag{Name: "budget", Value: def, Usage: usage}
}

// parseBudget reads --budget, which must be a positive duration.
func parseBudget(c *cli.Context) (time.Duration, error) {
	if d := c.Duration("budget"); d > 0 {
		return d, nil
	}
	return 0, usagef("%s: --budget %v: want a positive duration, e.g. 30m", c.Command.Name, c.Duration("budget"))
}

// maxLenFlag is --max-len, the tokens a review is cut to: what the model
// reads (train, bench), or the cut prep reports on.
func maxLenFlag(def int, usage string) cli.Flag {
	return &cli.IntFlag{Name: "max-len", Value: def, Usage: usage}
}

// parseMaxLen reads --max-len, at least least (prep's 0 means no report).
func parseMaxLen(c *cli.Context, least int) (int, error) {
	if n := c.Int("max-len"); n >= least {
		return n, nil
	}
	return 0, usagef("%s: --max-len must be at least %d, got %d", c.Command.Name, least, c.Int("max-len"))
}

// parseOut reads --out, which the command needs; what names its kind in
// the message (DIR or FILE).
func parseOut(c *cli.Context, what string) (string, error) {
	if out := c.String(flagOut); out != "" {
		return out, nil
	}
	return "", usagef("%s: --out %s is required", c.Command.Name, what)
}

func cpuProfileFlag() cli.Flag {
	return &cli.StringFlag{Name: flagProfile, Usage: "write a CPU profile of the run to this file"}
}

// profileCPU starts the profile --cpuprofile asks for; call the returned
// function at the end (it does nothing without one).
func profileCPU(c *cli.Context) (func(), error) {
	return profile.CPU(c.String(flagProfile))
}

// batchSizeFlag is the reviews per batch: the global training batch, or a
// forward batch of eval and predict, with the command's default.
func batchSizeFlag(def int) cli.Flag {
	return &cli.IntFlag{Name: flagBatchSize, Value: def, Usage: "reviews per batch (training: the global batch, split over the workers)"}
}

// parseBatchSize reads --batch-size.
func parseBatchSize(c *cli.Context) (int, error) {
	if n := c.Int(flagBatchSize); n >= 1 {
		return n, nil
	}
	return 0, usagef("%s: --batch-size must be at least 1, got %d", c.Command.Name, c.Int(flagBatchSize))
}

// modelFlags shape the network; def gives the command's defaults (train's
// are chosen by measurement, bench's are the reference's).
func modelFlags(def model.Config, defMaxLen int) []cli.Flag {
	return []cli.Flag{
		&cli.IntFlag{Name: "embed-dim", Value: def.EmbedDim},
		&cli.IntFlag{Name: "hidden", Value: def.Hidden},
		&cli.IntFlag{Name: "layers", Value: def.Layers},
		&cli.BoolFlag{Name: "bidirectional", Value: def.Bidirectional},
		&cli.StringFlag{Name: "pool", Value: def.Pool, Usage: "last, mean or max over time"},
		maxLenFlag(defMaxLen, "truncate reviews to this many tokens"),
		&cli.IntFlag{Name: "ngrams", Value: def.Ngrams, Usage: "wide n-gram path beside the LSTM, as in fastText: 0 off, 1 unigrams, 2 also bigrams, 3 also trigrams"},
		&cli.IntFlag{Name: "buckets", Value: def.Buckets, Usage: "hash buckets shared by the n-grams of 2 or more words (0: 2^20 with --ngrams 2 or 3)"},
	}
}

// parseNgrams reads --ngrams and --buckets into cfg, with the default
// buckets filled in, and names the flag at fault.
func parseNgrams(c *cli.Context, cfg *model.Config) error {
	cmd := c.Command.Name
	cfg.Ngrams, cfg.Buckets = c.Int("ngrams"), c.Int("buckets")
	switch {
	case cfg.Ngrams < 0 || cfg.Ngrams > model.MaxNgrams:
		return usagef("%s: --ngrams %d: want 0 (off) to %d", cmd, cfg.Ngrams, model.MaxNgrams)
	case cfg.Buckets < 0:
		return usagef("%s: --buckets %d: want a positive number, or 0 for the default", cmd, cfg.Buckets)
	case cfg.Buckets > 0 && cfg.Ngrams < 2:
		return usagef("%s: --buckets %d needs --ngrams 2 or 3 (only n-grams of 2 or more words are hashed)", cmd, cfg.Buckets)
	case cfg.Ngrams >= 2 && cfg.Buckets == 0:
		cfg.Buckets = model.DefaultBuckets
	}
	return nil
}

// parseModel reads the model group for a vocabulary of vocabSize words
// (the real size is known only after the data are read).
func parseModel(c *cli.Context, vocabSize int) (model.Config, int, error) {
	cfg := model.Config{VocabSize: max(vocabSize, 3), EmbedDim: c.Int("embed-dim"), Hidden: c.Int("hidden"),
		Layers: c.Int("layers"), Bidirectional: c.Bool("bidirectional"), Pool: c.String("pool")}
	if err := parseNgrams(c, &cfg); err != nil {
		return cfg, 0, err
	}
	if err := cfg.Validate(); err != nil {
		return cfg, 0, usagef("%s: %v", c.Command.Name, err)
	}
	maxLen, err := parseMaxLen(c, 1)
	return cfg, maxLen, err
}

// optimDefaults are a command's defaults for the optimizer group: train's
// are chosen by accuracy, bench's are the PyTorch reference's.
type optimDefaults struct {
	Batch       int
	Lazy        bool // --embed-update lazy rather than dense
	WeightDecay float64
	WordDropout float64
}

// optimFlags are the optimizer's flags, regularisation included.
func optimFlags(def optimDefaults) []cli.Flag {
	update := embedDense
	if def.Lazy {
		update = embedLazy
	}
	return []cli.Flag{
		batchSizeFlag(def.Batch),
		&cli.Float64Flag{Name: "lr", Value: job.DefaultLR, Usage: "peak learning rate"},
		&cli.StringFlag{Name: "optimizer", Value: "adamw", Usage: "adamw or sgd"},
		&cli.Float64Flag{Name: "weight-decay", Value: def.WeightDecay, Usage: "decoupled weight decay (AdamW); 0 is plain Adam"},
		&cli.Float64Flag{Name: "momentum", Value: 0.9, Usage: "SGD momentum, in [0, 1)"},
		&cli.StringFlag{Name: "embed-update", Value: update, Usage: "optimizer step of the embedding: lazy (only the rows of the batch's tokens) or dense (every row, every step)"},
		&cli.Float64Flag{Name: "clip", Value: job.DefaultClip, Usage: "max global gradient norm; 0 disables clipping"},
		&cli.Float64Flag{Name: "word-dropout", Value: def.WordDropout, Usage: "probability that a training token is replaced by the unknown word, drawn anew each epoch; 0 is off"},
	}
}

// optimOptions is the optimizer group, validated.
type optimOptions struct {
	Optim     device.OptimConfig
	BatchSize int
	LR        float64
	Clip      float64
	// WordDropout is the data.BatchOptions setting of training batches.
	WordDropout float64
}

// parseOptim reads the optimizer group. Every number must be finite: a NaN
// passes the comparisons of range checks and would poison the weights.
func parseOptim(c *cli.Context) (optimOptions, error) {
	cmd := c.Command.Name
	o := optimOptions{Optim: device.DefaultOptimConfig(), LR: c.Float64("lr"), Clip: c.Float64("clip"),
		WordDropout: c.Float64("word-dropout")}
	o.Optim.Kind = c.String("optimizer")
	o.Optim.WeightDecay = c.Float64("weight-decay")
	o.Optim.Momentum = c.Float64("momentum")
	var err error
	if o.BatchSize, err = parseBatchSize(c); err != nil {
		return o, err
	}
	checks := []struct {
		flag   string
		v      float64
		ok     bool
		wanted string
	}{
		{"lr", o.LR, o.LR > 0, "a positive number"},
		{"clip", o.Clip, o.Clip >= 0, "0 (off) or a positive number"},
		{"weight-decay", o.Optim.WeightDecay, o.Optim.WeightDecay >= 0, "0 or a positive number"},
		{"momentum", o.Optim.Momentum, o.Optim.Momentum >= 0 && o.Optim.Momentum < 1, "in [0, 1)"},
		{"word-dropout", o.WordDropout, o.WordDropout >= 0 && o.WordDropout < 1, "in [0, 1)"},
	}
	for _, k := range checks {
		if math.IsNaN(k.v) || math.IsInf(k.v, 0) || !k.ok {
			return o, usagef("%s: --%s %g: want %s", cmd, k.flag, k.v, k.wanted)
		}
	}
	switch v := c.String("embed-update"); v {
	case embedDense, embedLazy:
		o.Optim.LazyEmbedding = v == embedLazy
	default:
		return o, usagef("%s: --embed-update %q: want dense or lazy", cmd, v)
	}
	switch o.Optim.Kind {
	case "adamw", "sgd":
	default:
		return o, usagef("%s: --optimizer %q: unknown optimizer (want adamw or sgd)", cmd, o.Optim.Kind)
	}
	return o, nil
}

// Flags of pretrained word vectors.
const (
	flagInitVectors   = "init-vectors"
	flagFreezeVectors = "freeze-vectors"
	flagLearnVectors  = "learn-vectors"
)

// vectorsFlags start the embedding from pretrained word vectors.
func vectorsFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: flagInitVectors, Usage: "start the embedding from pretrained word vectors: word2vec, GloVe or fastText .vec text (plain, gzip or bzip2) of --embed-dim values per word; words it lacks keep their random start"},
		&cli.BoolFlag{Name: flagFreezeVectors, Usage: "never update the embedding that --init-vectors or --learn-vectors set (default: fine-tune it); on the CPU workers' host step, not on a GPU training alone"},
		&cli.IntFlag{Name: flagLearnVectors, Value: job.DefaultLearnVectors, Usage: "without --init-vectors, start the embedding from word vectors learned on the training reviews alone (fastText's cbow) in up to this many passes, reading at most 32M tokens in all (fewer passes, then a sample, on larger sets); 0: a random start"},
	}
}

// parseVectors reads the vectors group into o: the file the embedding
// starts from, as found now, or the passes that learn its vectors, and
// whether it is frozen. A resumed run may name no file: its checkpoint
// holds the weights the vectors started.
func parseVectors(c *cli.Context, o *job.Options) error {
	cmd := c.Command.Name
	o.Vectors = job.Vectors{Path: c.String(flagInitVectors), Learn: c.Int(flagLearnVectors)}
	o.Optim.FreezeEmbedding = c.Bool(flagFreezeVectors)
	if o.Vectors.Learn < 0 {
		return usagef("%s: --learn-vectors %d: want 0 (off) or more passes", cmd, o.Vectors.Learn)
	}
	if o.Vectors.Path == "" {
		if o.Optim.FreezeEmbedding && o.Vectors.Learn == 0 && !o.Resume {
			return usagef("%s: --freeze-vectors needs --init-vectors FILE or --learn-vectors N: freezing a random embedding trains nothing there", cmd)
		}
		return nil
	}
	if c.IsSet(flagLearnVectors) && o.Vectors.Learn > 0 {
		return usagef("%s: --init-vectors and --learn-vectors %d both start the embedding: give one", cmd, o.Vectors.Learn)
	}
	o.Vectors.Learn = 0 // the file's vectors are the start
	src, err := job.StatVectors(o.Vectors.Path)
	if err != nil {
		return usagef("%s: --init-vectors: %v", cmd, err)
	}
	o.Vectors.Source = src
	return nil
}

// pipelineFlags split the model into stages; defStages is the command's
// default.
func pipelineFlags(defStages int) []cli.Flag {
	return []cli.Flag{
		&cli.IntFlag{Name: "pipeline-stages", Value: defStages, Usage: "split the model's layers into this many pipeline stages, each on its own CPU worker; workers/stages pipelines run data-parallel"},
		&cli.IntFlag{Name: "micro-batches", Usage: "micro-batches per pipeline step (0: 2 for a unidirectional model, whose stages also overlap over time chunks; 4 per stage for a bidirectional one)"},
		&cli.IntFlag{Name: "pipeline-chunks", Usage: "time chunks per micro-batch of a unidirectional pipeline (0: 16)"},
	}
}

// parsePipeline reads the pipeline group, validated for its range; the
// commands check it against the model and workers.
func parsePipeline(c *cli.Context) (train.PipelineOptions, error) {
	p := train.PipelineOptions{Stages: c.Int("pipeline-stages"), MicroBatches: c.Int("micro-batches"), Chunks: c.Int("pipeline-chunks")}
	switch {
	case p.Stages < 1:
		return p, usagef("%s: --pipeline-stages must be at least 1, got %d", c.Command.Name, p.Stages)
	case p.MicroBatches < 0 || p.Chunks < 0:
		return p, usagef("%s: --micro-batches and --pipeline-chunks must not be negative, got %d and %d", c.Command.Name, p.MicroBatches, p.Chunks)
	}
	return p, nil
}

// flagNames lists the names of flags, for a command that repeats some
// of its flags to a child process.
func flagNames(flags ...[]cli.Flag) []string {
	var names []string
	for _, fs := range flags {
		for _, f := range fs {
			names = append(names, f.Names()[0])
		}
	}
	return names
}

// setFlagArgs spells out the flags among names that c's command line set,
// as --name=value, for a child process or a trial that must read them as
// this command did.
func setFlagArgs(c *cli.Context, names []string) []string {
	var args []string
	for _, name := range names {
		if c.IsSet(name) {
			args = append(args, fmt.Sprintf("--%s=%v", name, c.Value(name)))
		}
	}
	return args
}

// runGroups are the flag groups every command that trains parses: data,
// optimizer and pipeline.
type runGroups struct {
	d  train.DataConfig
	op optimOptions
	pl train.PipelineOptions
}

// parseRunGroups parses and validates the groups of a command that trains.
func parseRunGroups(c *cli.Context) (g runGroups, err error) {
	if g.d, err = parseData(c); err != nil {
		return g, err
	}
	if g.op, err = parseOptim(c); err != nil {
		return g, err
	}
	g.pl, err = parsePipeline(c)
	return g, err
}
