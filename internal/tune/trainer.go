package tune

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"

	"trainer/train"
	"trainer/train/job"
)

// Trainer trains trials in this process on data read once: its Run is
// the search's Runner.
type Trainer struct {
	// Base are the training flags every trial shares. Parse reads a train
	// command line (without the command name) into options as `trainer
	// train` would; the command line provides it, as it alone knows
	// train's flags.
	Base   []string
	Parse  func(args []string) (*job.Options, error)
	Report job.Reporter
	td     *train.Data
	key    train.DataConfig // how td was read
	// vectors are the learned embedding starts, which trials of the same
	// data, embedding size and seed share.
	vectors job.VectorCache
}

// options are a trial's training options: the shared flags, the trial's
// directory and epochs, then its point.
func (r *Trainer) options(p Point, epochs int, dir string) (*job.Options, error) {
	args := append(slices.Clone(r.Base), "--out", dir, "--epochs", strconv.Itoa(epochs))
	o, err := r.Parse(append(args, p.Args()...))
	if err != nil {
		return nil, err
	}
	o.Vectors.Cache = &r.vectors
	return o, nil
}

// Run trains a trial. An interrupted trial's checkpoint is resumed when
// it belongs to this trial; otherwise the trial starts afresh.
func (r *Trainer) Run(ctx context.Context, t Trial, dir string) (Result, error) {
	o, resume, err := r.open(t, dir)
	if err != nil {
		return Result{}, err
	}
	td, err := r.Data(ctx, o)
	if err != nil {
		return Result{}, err
	}
	res, err := job.Train(ctx, o, td, resume, r.Report)
	if resume != nil && errors.As(err, new(job.UsageError)) {
		// The checkpoint is not this trial's after all: start afresh.
		o.Resume = false
		res, err = job.Train(ctx, o, td, nil, r.Report)
	}
	if err != nil {
		return Result{}, err
	}
	// The checkpoint (weights and optimizer moments) is the largest file
	// of a trial and of no use once it is done.
	if err := os.Remove(filepath.Join(dir, train.CheckpointName)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return Result{}, fmt.Errorf("trial %d: %w", t.ID, err)
	}
	return Result{DevAccuracy: res.BestAccuracy, Epochs: res.Epochs, Model: res.ModelPath}, nil
}

// open reads a trial's options and prepares its directory, with the
// checkpoint of an earlier attempt when there is a usable one.
func (r *Trainer) open(t Trial, dir string) (*job.Options, *train.Checkpoint, error) {
	if _, err := os.Stat(filepath.Join(dir, train.CheckpointName)); err == nil {
		o, err := r.options(t.Point, t.Epochs, dir)
		if err != nil {
			return nil, nil, err
		}
		o.Resume = true
		if ck, err := o.OpenRunDir(); err == nil {
			return o, ck, nil
		}
	}
	o, err := r.options(t.Point, t.Epochs, dir)
	if err != nil {
		return nil, nil, err
	}
	o.Overwrite = true
	_, err = o.OpenRunDir()
	return o, nil, err
}

// Data are the data of a trial's options: those already read unless a
// dimension of the space changes how they are read (the encoded cache
// keeps that cheap).
func (r *Trainer) Data(ctx context.Context, o *job.Options) (*train.Data, error) {
	key := o.DataConfig()
	if r.td != nil && reflect.DeepEqual(key, r.key) {
		return r.td, nil
	}
	r.release()
	td, err := job.LoadData(ctx, o, r.Report)
	if err != nil {
		return nil, err
	}
	r.td, r.key = td, key
	return td, nil
}

// Close releases the data.
func (r *Trainer) Close() {
	r.release()
	r.vectors = job.VectorCache{}
}

// release releases the data; the vectors learned from them stay, for a
// later trial that reads the same data again.
func (r *Trainer) release() {
	if r.td != nil {
		r.td.Close()
		r.td = nil
	}
}
