package device

import (
	"fmt"
	"math"
)

// Dynamic loss scaling defaults, PyTorch GradScaler's.
const (
	DefaultInitScale      = 65536 // 2^16
	DefaultGrowthFactor   = 2
	DefaultBackoffFactor  = 0.5
	DefaultGrowthInterval = 2000
)

// LossScaler is dynamic loss scaling for fp16 training, with the semantics
// of PyTorch's GradScaler: the loss gradient is multiplied by Scale before
// the backward pass so that small gradients survive fp16; after the
// gradients are unscaled, Update is told whether any was infinite or NaN.
// On overflow the optimizer step is skipped and the scale halves; after
// GrowthInterval consecutive clean steps it doubles.
type LossScaler struct {
	scale          float32
	growthFactor   float32
	backoffFactor  float32
	growthInterval int
	goodSteps      int   // clean steps since the last change
	skipped        int64 // steps skipped for overflow, in total
}

// NewLossScaler returns a scaler with GradScaler's defaults: scale 2^16,
// x2 after 2000 clean steps, x0.5 on overflow.
func NewLossScaler() *LossScaler {
	return &LossScaler{
		scale: DefaultInitScale, growthFactor: DefaultGrowthFactor,
		backoffFactor: DefaultBackoffFactor, growthInterval: DefaultGrowthInterval,
	}
}

// NewLossScalerWith returns a scaler with explicit settings.
func NewLossScalerWith(initScale, growthFactor, backoffFactor float32, growthInterval int) (*LossScaler, error) {
	switch {
	case !(initScale > 0) || math.IsInf(float64(initScale), 0):
		return nil, fmt.Errorf("loss scaler: initial scale must be positive and finite, got %g", initScale)
	case !(growthFactor > 1):
		return nil, fmt.Errorf("loss scaler: growth factor must be > 1, got %g", growthFactor)
	case !(backoffFactor > 0 && backoffFactor < 1):
		return nil, fmt.Errorf("loss scaler: backoff factor must be in (0, 1), got %g", backoffFactor)
	case growthInterval < 1:
		return nil, fmt.Errorf("loss scaler: growth interval must be >= 1, got %d", growthInterval)
	}
	return &LossScaler{scale: initScale, growthFactor: growthFactor, backoffFactor: backoffFactor, growthInterval: growthInterval}, nil
}

// Scale is the factor to multiply the loss (or its gradient) by.
func (s *LossScaler) Scale() float32 { return s.scale }

// Skipped is the number of steps skipped for overflow so far.
func (s *LossScaler) Skipped() int64 { return s.skipped }

// Update records the outcome of a step whose gradients were computed at
// Scale: with foundInf the caller skips the optimizer step and the scale
// backs off; otherwise the step counts towards growth. As in GradScaler, a
// growth that would make the scale infinite is not applied.
func (s *LossScaler) Update(foundInf bool) {
	if foundInf {
		s.scale *= s.backoffFactor
		s.goodSteps = 0
		s.skipped++
		return
	}
	s.goodSteps++
	if s.goodSteps >= s.growthInterval {
		if g := s.scale * s.growthFactor; !math.IsInf(float64(g), 0) {
			s.scale = g
		}
		s.goodSteps = 0
	}
}

// Unscale divides grad by the current scale in place and reports whether
// any result is infinite or NaN, the host-side counterpart of the device's
// unscale_check kernel for gradients that were all-reduced on the CPU.
func (s *LossScaler) Unscale(grad []float32) (foundInf bool) {
	inv := 1 / s.scale
	for i, g := range grad {
		v := g * inv
		grad[i] = v
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			foundInf = true
		}
	}
	return foundInf
}

// LossScalerState is the scaler's resumable state, for checkpoints.
type LossScalerState struct {
	Scale     float32 `json:"scale"`
	GoodSteps int     `json:"good_steps"`
	Skipped   int64   `json:"skipped"`
}

// State returns the resumable state.
func (s *LossScaler) State() LossScalerState {
	return LossScalerState{Scale: s.scale, GoodSteps: s.goodSteps, Skipped: s.skipped}
}

// SetState restores a state saved by State.
func (s *LossScaler) SetState(st LossScalerState) error {
	if !(st.Scale > 0) || math.IsInf(float64(st.Scale), 0) || st.GoodSteps < 0 || st.Skipped < 0 {
		return fmt.Errorf("loss scaler state: invalid scale %g, good steps %d, skipped %d", st.Scale, st.GoodSteps, st.Skipped)
	}
	s.scale, s.goodSteps, s.skipped = st.Scale, st.GoodSteps, st.Skipped
	return nil
}
