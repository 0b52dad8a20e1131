package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"trainer/train"
)

// runSummary is the closing table of a training run, with the reference
// system's columns (CPUs used, approach, accuracy, loss, training time) and
// the throughput that explains the time.
type runSummary struct {
	CPUs       int
	Approach   string // e.g. "DDP x2 (CPU)"
	Accuracy   float64
	Loss       float64
	Training   time.Duration // training only, evaluation excluded
	TokensPerS float64
	Epochs     int
	BestEpoch  int
	Evaluated  string // which set Accuracy and Loss come from: dev or test
	ModelPath  string
}

// runShape is how a run uses its devices, for its approach label.
type runShape struct {
	Device   string // cpu or cuda:N
	Workers  int    // CPU replicas per rank (0: the GPU alone)
	AMP      string // off, fp16 or bf16
	Streams  int    // GPU streams
	Schedule string // even or hybrid
	Ranks    int    // MPI ranks (1: a single process)
	Stages   int    // pipeline stages per replica (1: no model parallelism)
}

// approachName describes how a run used its devices, in the reference's
// words: "DDP x2 (CPU)", "AMP fp16 cuda:0 + 2 CPU (hybrid)",
// "DDP x2 (CPU) x 2 ranks".
func approachName(s runShape) string {
	var name string
	switch {
	case s.Device == "" || s.Device == "cpu":
		switch {
		case s.Stages > 1:
			name = fmt.Sprintf("DDP x%d + model parallel, %d stages (CPU)", s.Workers/s.Stages, s.Stages)
		case s.Schedule == scheduleHybrid:
			name = fmt.Sprintf("DDP x%d (CPU, hybrid)", s.Workers)
		case s.Workers == 1 && s.Ranks <= 1:
			name = "single worker (CPU)"
		default:
			name = fmt.Sprintf("DDP x%d (CPU)", s.Workers)
		}
	default:
		name = s.Device
		if s.AMP != "" && s.AMP != ampOff {
			name = "AMP " + s.AMP + " " + name
		}
		if s.Streams > 1 {
			name += fmt.Sprintf(" x%d streams", s.Streams)
		}
		if s.Workers > 0 {
			name += fmt.Sprintf(" + %d CPU (hybrid)", s.Workers)
		}
	}
	if s.Ranks > 1 {
		name += fmt.Sprintf(" x %d ranks", s.Ranks)
	}
	return name
}

// write prints the summary as an aligned table.
func (s runSummary) write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "CPUs used\tapproach\taccuracy (%s)\tloss\ttraining time\ttokens/s\tepochs\tbest epoch\n", s.Evaluated)
	fmt.Fprintf(tw, "%d\t%s\t%.2f%%\t%.4f\t%s\t%.0f\t%d\t%d\n", s.CPUs, s.Approach, 100*s.Accuracy, s.Loss,
		s.Training.Round(100*time.Millisecond), s.TokensPerS, s.Epochs, s.BestEpoch)
	if err := tw.Flush(); err != nil {
		return err
	}
	if s.ModelPath != "" {
		_, err := fmt.Fprintf(w, "model: %s\n", s.ModelPath)
		return err
	}
	return nil
}

// epochProgress shows one progress meter per epoch (loss, accuracy, real
// tokens/s and ETA) and a status line with the evaluation after it.
type epochProgress struct {
	log     *logger
	epochs  int
	m       *meter
	cur     int
	tokens  int64
	loss    float64
	rows    int
	correct int
}

func newEpochProgress(log *logger, epochs, batches int) *epochProgress {
	return &epochProgress{log: log, epochs: epochs, cur: -1}
}

func (p *epochProgress) step(epoch, batch, batches int, st train.StepStats) {
	if p.m == nil || p.cur != epoch {
		p.m.Finish()
		p.cur, p.tokens, p.loss, p.rows, p.correct = epoch, 0, 0, 0, 0
		p.m = p.log.Meter(fmt.Sprintf("epoch %d/%d", epoch+1, p.epochs), int64(batches), false, "tokens")
	}
	p.tokens += int64(st.Tokens)
	p.loss += st.Loss
	p.rows += st.Rows
	p.correct += st.Correct
	p.m.stage = fmt.Sprintf("epoch %d/%d loss %.4f acc %.4f", epoch+1, p.epochs, p.loss/float64(p.rows), float64(p.correct)/float64(p.rows))
	p.m.Update(int64(batch), p.tokens)
}

func (p *epochProgress) epoch(rec train.EpochRecord) {
	p.stop()
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

func (p *epochProgress) stop() {
	p.m.Finish()
	p.m = nil
}
