package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"trainer/data"
	"trainer/train/device"
)

// ErrInterrupted reports a run stopped by its context (SIGINT, SIGTERM)
// after it wrote a checkpoint to resume from.
var ErrInterrupted = errors.New("training interrupted")

// BatchSource cuts the training set into batches, deterministically for a
// given epoch; *data.Batcher is one.
type BatchSource interface {
	NumBatches() int
	Order(epoch int) [][]int32
	Build(epoch int, idx []int32) data.Batch
}

// LoopConfig is what the training loop needs beyond the engine.
type LoopConfig struct {
	Epochs          int
	Seed            uint64
	Patience        int // epochs without a better dev accuracy before stopping; 0 = never
	CheckpointEvery int // steps between checkpoints; 0 = only at epoch ends and interrupts
	Dir             string
	Schedule        LRSchedule
	MetricsPath     string          // JSON lines, one object per epoch; "" = Dir/metrics.jsonl
	Model           json.RawMessage // stored in checkpoints
	Run             json.RawMessage // stored in checkpoints, compared on resume by the caller
	// Scalers are the replicas' dynamic loss scalers (fp16 GPU replicas),
	// in a fixed order: checkpoints carry their state, so that a resumed
	// run scales its losses as the uninterrupted one would.
	Scalers []*device.LossScaler
	// Inputs are the digests of the run's data, stored in checkpoints
	// with Epochs for CheckResume.
	Inputs []InputDigest
	// Dropped counts the records the data left out, by role and reason;
	// the first epoch's line carries it.
	Dropped map[string]map[string]int64
	// Observer, when set, sees every step and completes every epoch's
	// record before it is written (schedule shares, pipeline bubble, loss
	// scale); the run assembly sets it.
	Observer EpochObserver
	// NoFiles keeps the run in memory: no checkpoints and no metrics log
	// (benchmarks).
	NoFiles bool
}

// EpochObserver adds what the loop does not see itself to the metrics of
// an epoch.
type EpochObserver interface {
	// Step records the step that just ended.
	Step(st StepStats)
	// Epoch completes rec with the epoch's figures and starts the next.
	Epoch(rec *EpochRecord)
}

// LoopHooks connects the loop to the data, the model file and the user.
type LoopHooks struct {
	Train     BatchSource
	Dev, Test []data.Batch       // evaluated after every epoch; Dev picks the best model
	Eval      []device.Forwarder // workers for evaluation
	// SaveBest writes the model file when the dev accuracy improves; it
	// must replace the old file atomically.
	SaveBest func(params []float32, rec EpochRecord) error
	// OnStep is called after every step (progress display).
	OnStep func(epoch, batch, batches int, st StepStats)
	// OnEpoch is called after every epoch's evaluation.
	OnEpoch func(rec EpochRecord)
	// Stop, when set, is asked after every step whether the run is done
	// (a benchmark's budget); a true answer ends the run without a
	// checkpoint, its Summary marked Budget.
	Stop func(st StepStats) (bool, error)
}

// EpochRecord is one line of the metrics log.
type EpochRecord struct {
	Epoch         int     `json:"epoch"` // 1-based
	Steps         int64   `json:"steps"` // optimizer steps so far
	TrainLoss     float64 `json:"train_loss"`
	TrainAccuracy float64 `json:"train_accuracy"`
	Seconds       float64 `json:"seconds"` // training time of this epoch, evaluation excluded
	EvalSeconds   float64 `json:"eval_seconds"`
	Tokens        int64   `json:"tokens"`       // real tokens trained on
	TokensPerS    float64 `json:"tokens_per_s"` // real tokens per second of training
	ReviewsPerS   float64 `json:"reviews_per_s"`
	LR            float64 `json:"lr"` // at the end of the epoch
	Workers       int     `json:"workers"`
	// Ranks is the number of processes of a multi-process job; it is also
	// written when the engine steps one scheduler over Workers replicas.
	Ranks int `json:"ranks,omitempty"`
	// Schedule is the hybrid scheduler's split of the epoch.
	Schedule *EpochSchedule `json:"schedule,omitempty"`
	// Pipeline is the pipeline stages' use of the epoch.
	Pipeline *EpochPipeline `json:"pipeline,omitempty"`
	// LossScale is the smallest fp16 loss scale over the replicas at the
	// epoch's end, SkippedSteps the overflows so far; both only under fp16.
	LossScale    float32 `json:"loss_scale,omitempty"`
	SkippedSteps *int64  `json:"skipped_steps,omitempty"`
	// Arithmetic is the arithmetic of the device's replicas ("fp32",
	// "bf16", "fp16"); absent on CPUs alone.
	Arithmetic string `json:"arithmetic,omitempty"`
	// Dropped is what --skip-bad and the label map left out, by role and
	// reason; only in the first epoch's line.
	Dropped map[string]map[string]int64 `json:"dropped,omitempty"`
	Dev     *Metrics                    `json:"-"`
	Test    *Metrics                    `json:"-"`
	Best    bool                        `json:"best"` // model.bin was written after this epoch
}

// MarshalJSON flattens dev metrics to the top level (accuracy, loss as
// dev_loss, ...) and test metrics with a test_ prefix, so that the log is
// easy to read with jq or pandas.
func (r EpochRecord) MarshalJSON() ([]byte, error) {
	type plain EpochRecord
	b, err := json.Marshal(plain(r))
	if err != nil {
		return nil, err
	}
	m := map[string]any{}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	add := func(prefix string, mt *Metrics) {
		if mt == nil {
			return
		}
		m[prefix+"accuracy"] = mt.Accuracy
		m[prefix+"precision"] = mt.Precision
		m[prefix+"recall"] = mt.Recall
		m[prefix+"f1"] = mt.F1
		m[prefix+"balanced_accuracy"] = mt.BalancedAccuracy
		m[prefix+"n"] = mt.N
		m[prefix+"confusion"] = mt.Confusion
	}
	add("", r.Dev)
	add("test_", r.Test)
	if r.Dev != nil {
		m["dev_loss"] = r.Dev.Loss
	}
	if r.Test != nil {
		m["test_loss"] = r.Test.Loss
	}
	return json.Marshal(m)
}

// Summary is the outcome of a whole run.
type Summary struct {
	Epochs       int // epochs completed
	Steps        int64
	BestEpoch    int
	BestAccuracy float64
	Last         EpochRecord
	BestRecord   EpochRecord
	Seconds      float64 // training time, evaluation excluded, across resumes
	EarlyStopped bool
	Budget       bool // LoopHooks.Stop ended the run
}

// Loop trains a Stepper for cfg.Epochs, resuming from a checkpoint.
type Loop struct {
	e   Stepper
	cfg LoopConfig
	h   LoopHooks
	st  LoopState
	pos Checkpoint // epoch, batch, step of the next step
}

// NewLoop prepares a run; resume (may be nil) restores the weights,
// optimizer state and position of an interrupted one.
func NewLoop(e Stepper, cfg LoopConfig, h LoopHooks, resume *Checkpoint) (*Loop, error) {
	if cfg.Epochs < 1 {
		return nil, fmt.Errorf("epochs must be >= 1, got %d", cfg.Epochs)
	}
	if h.Train == nil || h.Train.NumBatches() == 0 {
		return nil, errors.New("training set is empty")
	}
	if err := cfg.Schedule.Validate(); err != nil {
		return nil, err
	}
	if cfg.MetricsPath == "" && !cfg.NoFiles {
		cfg.MetricsPath = filepath.Join(cfg.Dir, "metrics.jsonl")
	}
	l := &Loop{e: e, cfg: cfg, h: h}
	if resume != nil {
		w, err := e.Weights()
		if err != nil {
			return nil, fmt.Errorf("resume: %w", err)
		}
		if len(resume.Params) != len(w) {
			return nil, fmt.Errorf("resume: checkpoint has %d parameters, model has %d", len(resume.Params), len(w))
		}
		if resume.Seed != cfg.Seed {
			return nil, fmt.Errorf("resume: checkpoint was trained with seed %d, this run has %d", resume.Seed, cfg.Seed)
		}
		if err := e.SetOptimState(resume.Optim); err != nil {
			return nil, fmt.Errorf("resume: %w", err)
		}
		if len(resume.Scalers) != len(cfg.Scalers) {
			return nil, fmt.Errorf("resume: checkpoint has the state of %d loss scalers, this run has %d", len(resume.Scalers), len(cfg.Scalers))
		}
		for i, sc := range cfg.Scalers {
			if err := sc.SetState(resume.Scalers[i]); err != nil {
				return nil, fmt.Errorf("resume: replica %d: %w", i, err)
			}
		}
		if err := e.SetWeights(resume.Params); err != nil {
			return nil, fmt.Errorf("resume: %w", err)
		}
		l.st = resume.Loop
		l.pos = Checkpoint{Step: resume.Step, Epoch: resume.Epoch, Batch: resume.Batch}
	}
	return l, nil
}

// CheckpointPath is where the loop writes its checkpoint.
func (l *Loop) CheckpointPath() string { return filepath.Join(l.cfg.Dir, CheckpointName) }

func (l *Loop) checkpoint() error {
	if l.cfg.NoFiles {
		return nil
	}
	params, err := l.e.Weights()
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	optim, err := l.e.OptimState()
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	c := &Checkpoint{
		Step: l.pos.Step, Epoch: l.pos.Epoch, Batch: l.pos.Batch,
		Seed: l.cfg.Seed, Workers: l.e.Workers(),
		Model: l.cfg.Model, Run: l.cfg.Run, Loop: l.st,
		Optim: optim, Params: params,
		Epochs: l.cfg.Epochs, Inputs: l.cfg.Inputs,
	}
	for _, sc := range l.cfg.Scalers {
		c.Scalers = append(c.Scalers, sc.State())
	}
	return SaveCheckpoint(l.CheckpointPath(), c)
}

// Run trains until the last epoch, early stopping, an error or ctx's end.
// On ctx's end it writes a checkpoint of the last applied step and returns
// an error wrapping ErrInterrupted.
func (l *Loop) Run(ctx context.Context) (Summary, error) {
	var log *metricsLog
	if !l.cfg.NoFiles {
		// A resumed run keeps the lines of the epochs its checkpoint
		// completed and drops any written after it, which the run is
		// about to write again.
		var err error
		if log, err = openMetricsLog(l.cfg.MetricsPath, l.pos.Epoch); err != nil {
			return Summary{}, err
		}
		defer log.Close()
	}
	sum := Summary{BestEpoch: l.st.BestEpoch, BestAccuracy: l.st.BestAccuracy, Steps: l.pos.Step}
	nb := l.h.Train.NumBatches()
	for l.pos.Epoch < l.cfg.Epochs && !l.st.Stopped {
		epoch := l.pos.Epoch
		order := l.h.Train.Order(epoch)
		if len(order) != nb {
			return sum, fmt.Errorf("epoch %d: %d batches, expected %d", epoch+1, len(order), nb)
		}
		for l.pos.Batch < nb {
			if ctx.Err() != nil {
				return sum, l.interrupted(ctx)
			}
			st, err := l.step(epoch, order[l.pos.Batch], nb)
			if err != nil {
				return sum, err
			}
			if l.h.Stop != nil {
				done, err := l.h.Stop(st)
				if err != nil {
					return sum, err
				}
				if done {
					l.finish(&sum)
					sum.Budget = true
					return sum, nil
				}
			}
			if l.cfg.CheckpointEvery > 0 && l.pos.Step%int64(l.cfg.CheckpointEvery) == 0 && l.pos.Batch < nb {
				if err := l.checkpoint(); err != nil {
					return sum, err
				}
			}
		}
		rec, err := l.endEpoch(epoch)
		if err != nil {
			return sum, err
		}
		if log != nil {
			if err := log.Write(rec); err != nil {
				return sum, err
			}
		}
		if l.h.OnEpoch != nil {
			l.h.OnEpoch(rec)
		}
		sum.Last = rec
		sum.Epochs = epoch + 1
		l.pos.Epoch++
		l.pos.Batch = 0
		if err := l.checkpoint(); err != nil {
			return sum, err
		}
	}
	l.finish(&sum)
	return sum, nil
}

// step applies the batch at idx and updates the epoch's running totals.
func (l *Loop) step(epoch int, idx []int32, nb int) (StepStats, error) {
	b := l.h.Train.Build(epoch, idx)
	lr := l.cfg.Schedule.LR(int(l.pos.Step))
	st, err := l.e.Step(b, lr)
	if err != nil {
		if errors.Is(err, device.ErrNonFinite) {
			return st, fmt.Errorf("epoch %d step %d (batch %d of %d): %w; stopped with the weights of the last good step, %s",
				epoch+1, l.pos.Step+1, l.pos.Batch+1, nb, err, l.keptFiles())
		}
		return st, fmt.Errorf("epoch %d batch %d: %w", epoch+1, l.pos.Batch+1, err)
	}
	l.pos.Batch++
	l.pos.Step++
	l.st.EpochLoss += st.Loss
	l.st.EpochRows += st.Rows
	l.st.EpochCorrect += st.Correct
	l.st.EpochTokens += int64(st.Tokens)
	l.st.EpochSeconds += st.Seconds
	l.st.TotalSeconds += st.Seconds
	if l.cfg.Observer != nil {
		l.cfg.Observer.Step(st)
	}
	if l.h.OnStep != nil {
		l.h.OnStep(epoch, l.pos.Batch, nb, st)
	}
	return st, nil
}

// finish fills the run's totals into sum.
func (l *Loop) finish(sum *Summary) {
	sum.Steps = l.pos.Step
	sum.BestEpoch, sum.BestAccuracy = l.st.BestEpoch, l.st.BestAccuracy
	// The best epoch may predate a resume: the checkpoint remembers its
	// evaluation.
	sum.BestRecord = EpochRecord{Epoch: l.st.BestEpoch, Dev: l.st.BestDev, Test: l.st.BestTest, Best: true}
	sum.Seconds = l.st.TotalSeconds
	sum.EarlyStopped = l.st.Stopped
	if sum.Epochs == 0 {
		sum.Epochs = l.pos.Epoch
	}
}

// endEpoch evaluates, keeps the best model and updates early stopping.
func (l *Loop) endEpoch(epoch int) (EpochRecord, error) {
	s := &l.st
	rec := EpochRecord{
		Epoch: epoch + 1, Steps: l.pos.Step, Seconds: s.EpochSeconds, Tokens: s.EpochTokens,
		LR: l.cfg.Schedule.LR(int(l.pos.Step) - 1), Workers: l.e.Workers(),
	}
	if epoch == 0 && len(l.cfg.Dropped) > 0 {
		rec.Dropped = l.cfg.Dropped
	}
	if l.cfg.Observer != nil {
		l.cfg.Observer.Epoch(&rec)
	}
	params, err := l.e.Weights()
	if err != nil {
		return rec, fmt.Errorf("epoch %d: %w", epoch+1, err)
	}
	if s.EpochRows > 0 {
		rec.TrainLoss = s.EpochLoss / float64(s.EpochRows)
		rec.TrainAccuracy = float64(s.EpochCorrect) / float64(s.EpochRows)
	}
	if s.EpochSeconds > 0 {
		rec.TokensPerS = float64(s.EpochTokens) / s.EpochSeconds
		rec.ReviewsPerS = float64(s.EpochRows) / s.EpochSeconds
	}
	t := time.Now()
	if len(l.h.Dev) > 0 {
		m, err := Evaluate(l.h.Eval, params, l.h.Dev)
		if err != nil {
			return rec, fmt.Errorf("epoch %d: dev evaluation: %w", epoch+1, err)
		}
		rec.Dev = &m
	}
	if len(l.h.Test) > 0 {
		m, err := Evaluate(l.h.Eval, params, l.h.Test)
		if err != nil {
			return rec, fmt.Errorf("epoch %d: test evaluation: %w", epoch+1, err)
		}
		rec.Test = &m
	}
	rec.EvalSeconds = time.Since(t).Seconds()
	// Without a dev set the latest model is the best one we know of.
	acc := -1.0
	if rec.Dev != nil {
		acc = rec.Dev.Accuracy
	}
	if s.BestEpoch == 0 || acc > s.BestAccuracy || rec.Dev == nil {
		rec.Best = true
		if l.h.SaveBest != nil {
			if err := l.h.SaveBest(params, rec); err != nil {
				return rec, fmt.Errorf("epoch %d: save best model: %w", epoch+1, err)
			}
		}
		s.BestAccuracy, s.BestEpoch, s.BadEpochs = acc, epoch+1, 0
		s.BestDev, s.BestTest = rec.Dev, rec.Test
	} else {
		s.BadEpochs++
		if l.cfg.Patience > 0 && s.BadEpochs >= l.cfg.Patience {
			s.Stopped = true
		}
	}
	s.EpochLoss, s.EpochRows, s.EpochCorrect, s.EpochTokens, s.EpochSeconds = 0, 0, 0, 0, 0
	return rec, nil
}

func (l *Loop) interrupted(ctx context.Context) error {
	if err := l.checkpoint(); err != nil {
		return fmt.Errorf("%w (%v), and the checkpoint failed: %v", ErrInterrupted, context.Cause(ctx), err)
	}
	return fmt.Errorf("%w (%v) at epoch %d batch %d; resume with --resume %s", ErrInterrupted, context.Cause(ctx), l.pos.Epoch+1, l.pos.Batch, l.cfg.Dir)
}

// keptFiles names what a failed run leaves behind to resume or use.
func (l *Loop) keptFiles() string {
	var kept []string
	if _, err := os.Stat(l.CheckpointPath()); err == nil {
		kept = append(kept, "last checkpoint "+l.CheckpointPath())
	}
	if l.st.BestEpoch > 0 {
		kept = append(kept, fmt.Sprintf("best model of epoch %d", l.st.BestEpoch))
	}
	if len(kept) == 0 {
		return "nothing saved yet"
	}
	return "kept: " + strings.Join(kept, ", ")
}
