package train

import (
	"fmt"
	"math"
)

// LRSchedule maps an optimizer step to a learning rate: a linear warmup from
// near zero to Base over Warmup steps, then Decay ("constant", "linear" or
// "cosine") from Base down to Base*MinRatio at step Total.
type LRSchedule struct {
	Base     float64 `json:"base"`
	Warmup   int     `json:"warmup"`
	Total    int     `json:"total"`
	Decay    string  `json:"decay"`
	MinRatio float64 `json:"min_ratio"`
}

// Validate reports a schedule that cannot produce sensible rates.
func (s LRSchedule) Validate() error {
	if !(s.Base > 0) || math.IsInf(s.Base, 0) {
		return fmt.Errorf("learning rate must be > 0, got %g", s.Base)
	}
	if s.Warmup < 0 {
		return fmt.Errorf("warmup must be >= 0 steps, got %d", s.Warmup)
	}
	if s.MinRatio < 0 || s.MinRatio > 1 {
		return fmt.Errorf("min lr ratio must be in [0,1], got %g", s.MinRatio)
	}
	switch s.Decay {
	case "", "constant", "linear", "cosine":
		return nil
	}
	return fmt.Errorf("unknown lr decay %q (want constant, linear or cosine)", s.Decay)
}

// LR is the learning rate of step (0-based).
func (s LRSchedule) LR(step int) float64 {
	if step < s.Warmup {
		return s.Base * float64(step+1) / float64(s.Warmup)
	}
	if s.Decay == "" || s.Decay == "constant" || s.Total <= s.Warmup {
		return s.Base
	}
	frac := float64(step-s.Warmup) / float64(s.Total-s.Warmup)
	frac = min(max(frac, 0), 1)
	lo := s.Base * s.MinRatio
	switch s.Decay {
	case "linear":
		return lo + (s.Base-lo)*(1-frac)
	case "cosine":
		return lo + (s.Base-lo)*0.5*(1+math.Cos(math.Pi*frac))
	}
	return s.Base
}
