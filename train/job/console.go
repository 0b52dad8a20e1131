package job

import (
	"fmt"

	"trainer/data"
	"trainer/internal/console"
	"trainer/train"
)

// ConsoleReporter shows a job's progress on log: a meter per stage of
// reading the data, then one per epoch.
func ConsoleReporter(log *console.Logger) Reporter {
	return Reporter{Log: log,
		Reading: func() (func(data.ProgressEvent), func()) {
			progress, done := log.Stages()
			return progress, func() { done(true) }
		},
		Learning: func() (func(int64, int64), func()) {
			var m *console.Meter
			return func(done, total int64) {
				if m == nil {
					m = log.Meter("learn vectors", total, false, "tokens")
				}
				m.Update(done, done)
			}, func() { m.Finish() }
		},
		Training: func(epochs int) Progress { return newEpochProgress(log, epochs) },
	}
}

// epochProgress is a Progress: a meter per epoch (loss, accuracy, real
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
