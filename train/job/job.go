package job

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"trainer/data"
	"trainer/internal/runlock"
	"trainer/train"
	"trainer/train/mpi"
)

// mpiTimeout bounds every collective of a multi-process run: far above
// the slowest step or evaluation, so it fires only on a lost rank.
const mpiTimeout = 10 * time.Minute

// Log takes a job's status lines; the command line's logger is one.
type Log interface {
	Infof(format string, args ...any)
	Warnf(format string, args ...any)
}

// Progress follows a run step by step; the command line draws a progress
// bar per epoch with it.
type Progress interface {
	Step(epoch, batch, batches int, st train.StepStats)
	// Epoch follows an epoch's evaluation.
	Epoch(rec train.EpochRecord)
	// Stop ends the display when the run ends, finished or not.
	Stop()
}

// Reporter is what a job tells how it goes. Log is required; without the
// others nothing shows the progress.
type Reporter struct {
	Log Log
	// Reading starts the display of one reading of the data: progress
	// gets every event but the warnings, which go to Log, and done ends
	// the display however the reading ended.
	Reading func() (progress func(data.ProgressEvent), done func())
	// Learning starts the display of the word vectors' learning:
	// progress gets the tokens read so far and the total to read, and
	// done ends the display however the learning ended.
	Learning func() (progress func(done, total int64), done func())
	// Training starts the display of a run of epochs.
	Training func(epochs int) Progress
}

// Result is how a run went, for its closing summary.
type Result struct {
	train.Summary
	Approach  string // how the run used its devices, e.g. "DDP x2 (CPU)"
	CPUs      int    // CPU workers over all ranks
	ModelPath string
	// Root is whether this process wrote the run (rank 0, or the only
	// process); the other ranks have nothing to report.
	Root bool
}

// Run is a whole training job: it opens and locks the run directory,
// reads the data and trains.
func Run(ctx context.Context, o *Options, rep Reporter) (Result, error) {
	for _, n := range o.Notes {
		rep.Log.Infof("%s", n)
	}
	resume, err := o.OpenRunDir()
	if err != nil {
		return Result{}, err
	}
	// One run per directory (under mpirun, rank 0 alone writes it).
	if rank := os.Getenv("OMPI_COMM_WORLD_RANK"); rank == "" || rank == "0" {
		lock, err := runlock.Acquire(o.Out)
		if err != nil {
			return Result{}, fmt.Errorf("train: %w", err)
		}
		defer lock.Release()
	}
	td, err := LoadData(ctx, o, rep)
	if err != nil {
		return Result{}, err
	}
	defer td.Close()
	for _, line := range td.DroppedLines {
		rep.Log.Warnf("%s", line)
	}
	return Train(ctx, o, td, resume, rep)
}

// LoadData reads the inputs as o's DataConfig says. The caller must Close
// the data.
func LoadData(ctx context.Context, o *Options, rep Reporter) (*train.Data, error) {
	cfg := o.DataConfig()
	progress := func(data.ProgressEvent) {}
	if rep.Reading != nil {
		var done func()
		progress, done = rep.Reading()
		defer done()
	}
	cfg.Prep.Progress = func(ev data.ProgressEvent) {
		if ev.Warning != "" {
			rep.Log.Warnf("%s", ev.Warning)
			return
		}
		progress(ev)
	}
	td, err := train.LoadData(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	return td, nil
}

// Train trains o on data already read, resuming from resume if set (from
// OpenRunDir): Run's training, apart so that a search can train many runs
// on data it read once. Under mpirun it starts the MPI job, and a rank that
// fails stops the others.
func Train(ctx context.Context, o *Options, td *train.Data, resume *train.Checkpoint, rep Reporter) (Result, error) {
	o.Model.VocabSize = td.Vocab.Size()
	if err := o.Model.Validate(); err != nil {
		return Result{}, usagef("train: %v", err)
	}
	settings := o.settings()
	if resume != nil {
		if err := o.checkResume(resume, settings, td); err != nil {
			return Result{}, err
		}
	}
	var vecs *train.Vectors
	if resume == nil {
		var err error
		switch {
		case o.Vectors.Path != "":
			vecs, err = o.loadVectors(td, rep.Log)
		case o.Vectors.Learn > 0:
			vecs, err = o.learnVectors(ctx, td, rep)
		}
		if err != nil {
			return Result{}, err
		}
	}
	lines, err := mpi.SettingsLines(settings)
	if err != nil {
		return Result{}, fmt.Errorf("train: %w", err)
	}
	// Under mpirun every rank has read the same data by now; the start-up
	// check compares binaries and settings before any rank trains.
	dist, err := mpi.Start(false, lines, td.Train.Len(), mpiTimeout)
	if err != nil {
		return Result{}, fmt.Errorf("train: %w", err)
	}
	defer dist.Close()
	r := rank{o: o, td: td, vecs: vecs, settings: settings, resume: resume, dist: dist}
	res, err := r.train(ctx, rep)
	if err != nil && !errors.Is(err, train.ErrInterrupted) {
		// Every rank stops with this rank's error rather than waiting in
		// a collective it will never enter.
		return res, dist.Fail(err)
	}
	return res, err
}

// quiet is the log of a rank other than 0, whose lines would repeat rank
// 0's, and the progress of a run nothing displays.
type quiet struct{}

func (quiet) Infof(string, ...any)                {}
func (quiet) Warnf(string, ...any)                {}
func (quiet) Step(int, int, int, train.StepStats) {}
func (quiet) Epoch(train.EpochRecord)             {}
func (quiet) Stop()                               {}

// progress starts the display of a run of epochs, if anything shows it.
func (r Reporter) progress(epochs int) Progress {
	if r.Training == nil {
		return quiet{}
	}
	return r.Training(epochs)
}
