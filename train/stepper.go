package train

import (
	"errors"
	"fmt"
	"time"

	"trainer/data"
	"trainer/train/device"
)

// Stepper is what the training loop steps: the host Engine, which sums the
// replicas' gradients and runs the optimizer on the host, or a resident
// replica (a GPU training alone) that keeps weights and optimizer state on
// its device. The loop reads the weights back only to evaluate, save the
// best model and checkpoint.
type Stepper interface {
	// Step trains on one global batch with learning rate lr. On an error
	// the weights and optimizer state are those of the last good step.
	Step(b data.Batch, lr float64) (StepStats, error)
	// Weights returns the master weights; the slice may be the stepper's
	// own and is valid until the next Step or SetWeights.
	Weights() ([]float32, error)
	// SetWeights replaces the master weights (a resumed run).
	SetWeights(w []float32) error
	// OptimState reads the optimizer's state; SetOptimState restores it.
	OptimState() (device.OptimState, error)
	SetOptimState(device.OptimState) error
	// Workers is the number of replicas the stepper splits a batch over.
	Workers() int
	Close()
}

// Weights returns the master weights themselves, not a copy.
func (e *Engine) Weights() ([]float32, error) { return e.params, nil }

// SetWeights copies w into the master weights.
func (e *Engine) SetWeights(w []float32) error {
	if len(w) != len(e.params) {
		return fmt.Errorf("engine: %d weights given, the model has %d", len(w), len(e.params))
	}
	copy(e.params, w)
	return nil
}

// OptimState is the host optimizer's state.
func (e *Engine) OptimState() (device.OptimState, error) { return e.opt.State(), nil }

// SetOptimState restores the host optimizer's state.
func (e *Engine) SetOptimState(s device.OptimState) error { return e.opt.SetState(s) }

// ResidentStepper steps a device.Resident: the device runs the whole step,
// so the host sends the batch and receives the loss, and reads the weights
// back only when the loop asks for them.
type ResidentStepper struct {
	r    device.Resident
	host []float32 // read-back buffer for Weights
}

// NewResidentStepper drives r, whose model has n parameters.
func NewResidentStepper(r device.Resident, n int) (*ResidentStepper, error) {
	if r == nil {
		return nil, errors.New("resident stepper: no resident replica")
	}
	if n < 1 {
		return nil, errors.New("resident stepper: no parameters")
	}
	return &ResidentStepper{r: r, host: make([]float32, n)}, nil
}

// Step runs one whole step on the device.
func (s *ResidentStepper) Step(b data.Batch, lr float64) (StepStats, error) {
	if b.Size == 0 {
		return StepStats{}, errors.New("resident stepper: empty batch")
	}
	t0 := time.Now()
	sr, err := s.r.Step(b, lr)
	secs := time.Since(t0).Seconds()
	st := StepStats{Result: sr.Result, GradNorm: sr.GradNorm, ClipScale: sr.ClipScale, LR: lr,
		Seconds: secs, Compute: []float64{secs}, LossScale: sr.LossScale, Skipped: sr.Skipped}
	if err != nil {
		return st, fmt.Errorf("%s: %w", s.r.Name(), err)
	}
	return st, nil
}

// Weights reads the device's master weights back into a host buffer.
func (s *ResidentStepper) Weights() ([]float32, error) {
	if err := s.r.ReadParams(s.host); err != nil {
		return nil, fmt.Errorf("%s: read weights: %w", s.r.Name(), err)
	}
	return s.host, nil
}

// SetWeights writes w to the device's master weights.
func (s *ResidentStepper) SetWeights(w []float32) error {
	if len(w) != len(s.host) {
		return fmt.Errorf("%s: %d weights given, the model has %d", s.r.Name(), len(w), len(s.host))
	}
	return s.r.WriteParams(w)
}

// OptimState reads the device's optimizer state back.
func (s *ResidentStepper) OptimState() (device.OptimState, error) { return s.r.OptimState() }

// SetOptimState restores the device's optimizer state.
func (s *ResidentStepper) SetOptimState(st device.OptimState) error { return s.r.SetOptimState(st) }

// Workers is 1: the device is one replica.
func (s *ResidentStepper) Workers() int { return 1 }

// Scalers are the device's dynamic loss scalers, for checkpoints.
func (s *ResidentStepper) Scalers() []*device.LossScaler { return s.r.Scalers() }

// Forwarders evaluate with the device's weights.
func (s *ResidentStepper) Forwarders() []device.Forwarder { return s.r.Forwarders() }

// Close releases the resident replica.
func (s *ResidentStepper) Close() { s.r.Close() }
