package train

import (
	"fmt"
	"math"

	"trainer/internal/vecmath"
	"trainer/train/device"
)

// Optimizer updates fp32 master weights from the mean gradient. A step is
// Begin once, then Update over disjoint ranges that together cover the
// parameters; the ranges may run concurrently, which is how the engine
// spreads the update over its workers.
type Optimizer interface {
	Begin()
	Update(params, grad []float32, lr float64, lo, hi int)
	State() device.OptimState
	SetState(device.OptimState) error
}

// NewOptimizer builds the optimizer cfg names for n parameters.
func NewOptimizer(cfg device.OptimConfig, n int) (Optimizer, error) {
	switch cfg.Kind {
	case "", "adamw", "adam":
		if cfg.Beta1 < 0 || cfg.Beta1 >= 1 || cfg.Beta2 < 0 || cfg.Beta2 >= 1 {
			return nil, fmt.Errorf("optimizer adamw: betas must be in [0,1), got %g, %g", cfg.Beta1, cfg.Beta2)
		}
		if cfg.Eps <= 0 {
			return nil, fmt.Errorf("optimizer adamw: eps must be > 0, got %g", cfg.Eps)
		}
		if cfg.WeightDecay < 0 {
			return nil, fmt.Errorf("optimizer adamw: weight decay must be >= 0, got %g", cfg.WeightDecay)
		}
		return &adamW{cfg: cfg, m: make([]float32, n), v: make([]float32, n)}, nil
	case "sgd":
		if cfg.Momentum < 0 || cfg.Momentum >= 1 {
			return nil, fmt.Errorf("optimizer sgd: momentum must be in [0,1), got %g", cfg.Momentum)
		}
		if cfg.WeightDecay < 0 {
			return nil, fmt.Errorf("optimizer sgd: weight decay must be >= 0, got %g", cfg.WeightDecay)
		}
		return &sgd{cfg: cfg, buf: make([]float32, n)}, nil
	}
	return nil, fmt.Errorf("unknown optimizer %q (want adamw or sgd)", cfg.Kind)
}

// adamW is Adam with decoupled weight decay (Loshchilov & Hutter), written
// to match torch.optim.AdamW step for step.
type adamW struct {
	cfg   device.OptimConfig
	m, v  []float32
	steps int64
	// Per-step constants computed once in Begin so that Update ranges agree.
	c1, c2 float64
}

func (a *adamW) Begin() {
	a.steps++
	a.c1 = 1 - math.Pow(a.cfg.Beta1, float64(a.steps))
	a.c2 = math.Sqrt(1 - math.Pow(a.cfg.Beta2, float64(a.steps)))
}

func (a *adamW) Update(params, grad []float32, lr float64, lo, hi int) {
	k := vecmath.AdamW{
		B1: float32(a.cfg.Beta1), B2: float32(a.cfg.Beta2),
		// 1-beta in float64 first: float32(1)-float32(0.999) is off by 1e-5 relative.
		OB1: float32(1 - a.cfg.Beta1), OB2: float32(1 - a.cfg.Beta2),
		StepSize: float32(lr / a.c1),
		C2:       float32(a.c2),
		Eps:      float32(a.cfg.Eps),
		Decay:    float32(1 - lr*a.cfg.WeightDecay),
	}
	vecmath.AdamWUpdate(&k, params[lo:hi], grad[lo:hi], a.m[lo:hi], a.v[lo:hi])
}

func (a *adamW) State() device.OptimState {
	return device.OptimState{Kind: "adamw", Steps: a.steps, Slots: [][]float32{a.m, a.v}}
}

func (a *adamW) SetState(s device.OptimState) error {
	if s.Kind != "adamw" || len(s.Slots) != 2 || len(s.Slots[0]) != len(a.m) || len(s.Slots[1]) != len(a.v) {
		return fmt.Errorf("optimizer state is %s with %d slots, want adamw with 2 slots of %d", s.Kind, len(s.Slots), len(a.m))
	}
	copy(a.m, s.Slots[0])
	copy(a.v, s.Slots[1])
	a.steps = s.Steps
	return nil
}

// sgd is SGD with heavy-ball momentum and L2 weight decay, as torch.optim.SGD
// (dampening 0, no Nesterov): buf = mu*buf + g + wd*p; p -= lr*buf.
type sgd struct {
	cfg   device.OptimConfig
	buf   []float32
	steps int64
}

func (s *sgd) Begin() { s.steps++ }

func (s *sgd) Update(params, grad []float32, lr float64, lo, hi int) {
	mu, wd, eta := float32(s.cfg.Momentum), float32(s.cfg.WeightDecay), float32(lr)
	p, g, b := params[lo:hi], grad[lo:hi], s.buf[lo:hi]
	first := s.steps == 1 // torch initialises the buffer with the first gradient
	for i := range p {
		gi := g[i] + wd*p[i]
		if first {
			b[i] = gi
		} else {
			b[i] = mu*b[i] + gi
		}
		p[i] -= eta * b[i]
	}
}

func (s *sgd) State() device.OptimState {
	return device.OptimState{Kind: "sgd", Steps: s.steps, Slots: [][]float32{s.buf}}
}

func (s *sgd) SetState(st device.OptimState) error {
	if st.Kind != "sgd" || len(st.Slots) != 1 || len(st.Slots[0]) != len(s.buf) {
		return fmt.Errorf("optimizer state is %s with %d slots, want sgd with 1 slot of %d", st.Kind, len(st.Slots), len(s.buf))
	}
	copy(s.buf, st.Slots[0])
	s.steps = st.Steps
	return nil
}

// ClipScale is the factor that brings a gradient of the given global L2 norm
// down to maxNorm (1 when it is already within, or when clipping is off).
func ClipScale(norm, maxNorm float64) float64 {
	if maxNorm <= 0 || norm <= maxNorm {
		return 1
	}
	return maxNorm / (norm + 1e-6)
}
