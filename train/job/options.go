// Package job runs a whole training job from typed options: the run
// directory (fresh, or resumed with proof that it is the same run), the
// data, the MPI ranks, the assembled run and the model file it writes. The
// command line parses its flags into Options and shows what a Reporter is
// told; a search trains many jobs on data it read once.
//
// It sits below train rather than in it because it starts the MPI job
// (train/mpi), which itself builds on train.
package job

import (
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"trainer/model"
	"trainer/train"
	"trainer/train/device"
)

// Values of Options.AMP and Options.Split, as the command line spells them.
const (
	AMPAuto     = "auto" // bf16 on a GPU of compute capability 8.0 or later, fp32 before and on CPUs
	AMPOff      = "off"
	AMPFP16     = "fp16"
	AMPBF16     = "bf16"
	SplitEven   = "even"
	SplitHybrid = "hybrid"
)

// Options are a whole training run. Validate checks them together and
// settles the settings that depend on the device.
type Options struct {
	// Data are the inputs and how they are read; Prep.Seed is taken from
	// Seed and Prep.Progress from the Reporter.
	Data        train.DataConfig
	Model       model.Config // VocabSize is set once the data are read
	MaxLen      int
	BatchSize   int
	Optim       device.OptimConfig
	Schedule    train.LRSchedule // Total is set from the epochs and batches
	Clip        float64
	WordDropout float64
	Vectors     Vectors // pretrained embedding; freezing it is Optim.FreezeEmbedding

	Device   string // cpu, or a registered device such as cuda:N
	Workers  int    // CPU replicas per rank; 0 beside a device: the device alone
	AMP      string // AMPAuto, AMPOff, AMPFP16 or AMPBF16
	Streams  int    // device streams
	Split    string // SplitEven (by tokens) or SplitHybrid (by measured throughput)
	Pipeline train.PipelineOptions

	Epochs          int
	Seed            uint64 // initialisation, dev split, batch order and --balance
	Patience        int
	CheckpointEvery int
	Bucket          bool // length-bucketed batches

	Out       string // the run directory
	Metrics   string // metrics log ("": Out/metrics.jsonl)
	Resume    bool   // continue the run in Out
	Overwrite bool   // replace a run already in Out

	// Notes are defaults Validate changed for the device, for the log.
	Notes []string
}

// Vectors are the pretrained word vectors a run's embedding starts from:
// a file's, or ones learned from the training reviews.
type Vectors struct {
	Path   string         // "" for none
	Source *VectorsSource // the file as found at start-up; nil without one
	// Learn is the passes of train.LearnVectors that give the start when
	// Path is "": 0 for a random start.
	Learn int
	// Cache, if not nil, keeps learned vectors for the next run on the
	// same data: a search's trials learn each set once.
	Cache *VectorCache
}

// VectorCache holds learned vectors by the content of the data they were
// learned from (its vocabulary and training tokens, not where it was
// read, since a search reads a set again after another tokenizer's), and
// by dimension, passes and seed. Its zero value is empty and ready.
type VectorCache struct {
	seed maphash.Seed
	vecs map[vectorKey]*train.Vectors
	last struct { // the data last fingerprinted, which the next trial mostly reuses
		td  *train.Data
		sum uint64
	}
}

// maxCachedVectors bounds the cache: a search over tokenizers and
// embedding sizes has a handful of sets; a set of 20,000 words of 512
// values is 40 MB.
const maxCachedVectors = 8

type vectorKey struct {
	data        uint64 // fingerprint of the vocabulary and training tokens
	dim, passes int
	seed        uint64
}

// key is the cache key of vectors learned from td with the rest of k.
func (c *VectorCache) key(td *train.Data, k vectorKey) vectorKey {
	if c.vecs == nil {
		c.seed, c.vecs = maphash.MakeSeed(), map[vectorKey]*train.Vectors{}
	}
	if c.last.td != td {
		var h maphash.Hash
		h.SetSeed(c.seed)
		for _, w := range td.Vocab.Words() {
			h.WriteString(w)
			h.WriteByte(0)
		}
		var buf [4096]byte
		b := buf[:0]
		for _, id := range td.Train.Tokens {
			if b = binary.LittleEndian.AppendUint32(b, uint32(id)); len(b) == len(buf) {
				h.Write(b)
				b = b[:0]
			}
		}
		h.Write(b)
		for _, off := range td.Train.Offsets {
			b = binary.LittleEndian.AppendUint64(b[:0], uint64(off))
			h.Write(b)
		}
		c.last.td, c.last.sum = td, h.Sum64()
	}
	k.data = c.last.sum
	return k
}

// put keeps v under k, emptying a full cache first.
func (c *VectorCache) put(k vectorKey, v *train.Vectors) {
	if len(c.vecs) >= maxCachedVectors {
		clear(c.vecs)
	}
	c.vecs[k] = v
}

// VectorsSource names a vectors file in a run's settings. A resume starts
// from the checkpoint's weights and never reads the vectors again, so the
// file is told apart by what a stat gives, not by a digest of gigabytes.
type VectorsSource struct {
	Path    string // absolute, so a resume from another directory matches
	Size    int64
	ModTime string // UTC, RFC 3339 with nanoseconds
}

// StatVectors identifies the vectors file at path, as a run's settings
// store it.
func StatVectors(path string) (*VectorsSource, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return nil, fmt.Errorf("%s is a directory, not a vectors file", path)
	}
	return &VectorsSource{Path: abs, Size: fi.Size(), ModTime: fi.ModTime().UTC().Format(time.RFC3339Nano)}, nil
}

// Given says which settings were chosen rather than defaulted: beside a
// device the CPU workers and the split default otherwise.
type Given struct {
	Workers, Split bool
}

// UsageError marks an error as the options' fault (settings that do not
// go together, a run directory already in use, a resume of another run)
// rather than a failure of the data, the devices or the run.
type UsageError struct{ Err error }

func (e UsageError) Error() string { return e.Err.Error() }
func (e UsageError) Unwrap() error { return e.Err }

func usagef(format string, args ...any) error {
	return UsageError{fmt.Errorf(format, args...)}
}

// DataConfig is where the run's data come from and how they are read,
// without progress reporting: two runs with equal ones train on the same
// data.
func (o *Options) DataConfig() train.DataConfig {
	c := o.Data
	c.Prep.Seed, c.Prep.Progress = o.Seed, nil
	return c
}

// Validate checks the options that depend on each other and settles the
// device's defaults (the messages name the command line's flags, which
// the options mirror).
func (o *Options) Validate(given Given) error {
	// A NaN passes the comparisons of a range check, so it is refused
	// first, even beside --dev.
	if f := o.Data.DevFraction; math.IsNaN(f) || math.IsInf(f, 0) || (o.Data.Dev == "" && (f <= 0 || f >= 1)) {
		return usagef("train: --dev-fraction %g: want in (0, 1) when --dev is not given", f)
	}
	switch {
	case o.Data.Prep.Train == "" && !o.Resume:
		return usagef("train: --train FILE is required")
	case o.Out == "":
		return usagef("train: --out DIR is required")
	case o.Epochs < 1:
		return usagef("train: --epochs must be at least 1, got %d", o.Epochs)
	case o.Workers < 0 || (o.Workers == 0 && o.Device == "cpu"):
		return usagef("train: --cpu-workers must be at least 1 (0 only beside a GPU), got %d", o.Workers)
	case o.Patience < 0 || o.CheckpointEvery < 0:
		return usagef("train: --patience and --checkpoint-every must be >= 0")
	}
	if err := o.Schedule.Validate(); err != nil {
		return usagef("train: %v", err)
	}
	if err := o.checkDevice(given); err != nil {
		return err
	}
	return o.checkPipeline()
}

// checkPipeline validates the pipeline stages against the model and the
// workers that must hold whole pipelines.
func (o *Options) checkPipeline() error {
	stages := o.Pipeline.Stages
	switch {
	case stages <= 1:
		return nil
	case stages > len(train.PipelineUnits(o.Model)):
		units := train.PipelineUnits(o.Model)
		return usagef("train: --pipeline-stages %d: a model of %d LSTM layers splits into at most %d stages (%s)",
			stages, o.Model.Layers, len(units), strings.Join(units, ", "))
	case o.Device != "cpu":
		return usagef("train: --pipeline-stages runs on CPU workers; it does not combine with --device %s", o.Device)
	case o.Split == SplitHybrid:
		return usagef("train: --pipeline-stages does not combine with --schedule hybrid")
	case o.Workers < stages || o.Workers%stages != 0:
		return usagef("train: --cpu-workers %d must be a multiple of --pipeline-stages %d (each pipeline needs one worker per stage)",
			o.Workers, stages)
	}
	return nil
}

// checkDevice validates the device with the settings that depend on it:
// AMP and streams need a GPU, and a GPU with CPU workers is always
// scheduled by throughput.
func (o *Options) checkDevice(given Given) error {
	switch o.AMP {
	case AMPAuto, AMPOff, AMPFP16, AMPBF16:
	default:
		return usagef("train: --amp %q: want auto, fp16, bf16 or off", o.AMP)
	}
	switch o.Split {
	case SplitEven, SplitHybrid:
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
		if o.AMP == AMPAuto {
			o.AMP = AMPOff // CPU math is fp32, and a CPU run's settings say so
		}
		if o.AMP != AMPOff {
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
		return UsageError{fmt.Errorf("train: --device: %w", err)}
	}
	o.Device = spec.String()
	o.deviceDefaults(given)
	if o.Workers > 0 {
		if given.Split && o.Split == SplitEven {
			return usagef("train: --schedule even: a GPU and %d CPU workers differ too much in speed; GPU + CPU runs use --schedule hybrid", o.Workers)
		}
		o.Split = SplitHybrid
	} else {
		o.Split = SplitEven
	}
	return nil
}

// deviceDefaults are the defaults a GPU changes: it trains alone unless
// CPU workers are asked for.
func (o *Options) deviceDefaults(given Given) {
	if !given.Workers {
		o.Workers = 0
	}
}
