package cuda

import (
	"fmt"
	"math"
	"unsafe"

	"trainer/data"
)

// AdamW configures the device optimizer; the fields mean what they mean
// in train.OptimConfig, and Clip is the global gradient-norm limit (0: off).
type AdamW struct {
	Beta1, Beta2, Eps, WeightDecay float64
	Clip                           float64
}

// Scaler is the dynamic loss scaler the trainer consults under FP16
// (train.LossScaler satisfies it): Scale is the current factor, Update
// records whether the step's gradients overflowed.
type Scaler interface {
	Scale() float32
	Update(foundInf bool)
}

// StepResult is what one device-resident training step did.
type StepResult struct {
	Result
	GradNorm  float64 // global L2 norm of the mean gradient (NaN when skipped)
	ClipScale float64 // factor applied by clipping
	LossScale float32 // loss scale the step ran with (1 outside FP16)
	Skipped   bool    // the gradients overflowed and the update was skipped
}

// Trainer keeps the master weights and AdamW state on the device and runs
// whole training steps there: forward, backward, unscale and finite check,
// clipping and the update, so that only the batch crosses the bus.
type Trainer struct {
	*Replica
	opt    AdamW
	scaler Scaler
	m, v   Ptr
	steps  int64
}

// NewTrainer uploads params as the initial master weights. scaler may be
// nil outside FP16.
func NewTrainer(r *Replica, params []float32, opt AdamW, scaler Scaler) (*Trainer, error) {
	n := r.layout.Size()
	if len(params) != n {
		return nil, fmt.Errorf("%s: %d initial parameters, the model has %d", r.name, len(params), n)
	}
	if r.prec.NeedsLossScaling() && scaler == nil {
		return nil, fmt.Errorf("%s: fp16 training needs a loss scaler", r.name)
	}
	t := &Trainer{Replica: r, opt: opt, scaler: scaler}
	err := r.be.Do(func() error {
		var err error
		if t.m, err = r.pool.Get(4 * n); err != nil {
			return err
		}
		if t.v, err = r.pool.Get(4 * n); err != nil {
			return err
		}
		if err := r.be.Zero(t.m, 4*n, r.stream); err != nil {
			return err
		}
		if err := r.be.Zero(t.v, 4*n, r.stream); err != nil {
			return err
		}
		if err := Upload(r.be, r.params, params, r.stream); err != nil {
			return err
		}
		if err := r.castWeights(); err != nil {
			return err
		}
		return r.be.Sync(r.stream)
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r.name, err)
	}
	return t, nil
}

// Params downloads the master weights into dst.
func (t *Trainer) Params(dst []float32) error {
	if len(dst) != t.layout.Size() {
		return fmt.Errorf("%s: room for %d parameters, the model has %d", t.name, len(dst), t.layout.Size())
	}
	return t.be.Do(func() error {
		if err := Download(t.be, dst, t.params, t.stream); err != nil {
			return err
		}
		return t.be.Sync(t.stream)
	})
}

// Step trains on batch b with learning rate lr. Under FP16 an overflow
// skips the update (weights and moments untouched) and lets the scaler
// halve its scale, as PyTorch's GradScaler does.
func (t *Trainer) Step(b data.Batch, lr float64) (out StepResult, err error) {
	if b.Size == 0 {
		return StepResult{}, fmt.Errorf("%s: empty batch", t.name)
	}
	err = t.be.Do(func() error {
		out, err = t.step(b, lr)
		return err
	})
	return out, err
}

func (t *Trainer) step(b data.Batch, lr float64) (StepResult, error) {
	n := t.layout.Size()
	s := t.stream
	scale := float32(1)
	if t.prec.NeedsLossScaling() {
		scale = t.scaler.Scale()
	}
	t.lossScale = scale
	if err := t.be.Zero(t.grad, 4*n, s); err != nil {
		return StepResult{}, err
	}
	res, err := t.forwardBackward(b, true)
	if err != nil {
		return StepResult{}, err
	}
	out := StepResult{Result: res, LossScale: scale, ClipScale: 1}
	// Unscale and check in one pass, then the squared norm for clipping.
	flag := t.ws.scalars // reuse: the loss has been read back already
	if err := t.be.Zero(flag, 8, s); err != nil {
		return out, err
	}
	if err := t.launch1D("unscale_check_f32", n, int64(n), t.grad, 1/scale, flag); err != nil {
		return out, err
	}
	if err := t.launch1D("sumsq_f32", n, int64(n), t.grad, flag.Add(1, 4)); err != nil {
		return out, err
	}
	if err := t.be.CopyDtoH(t.ws.readback, flag, 8, s); err != nil {
		return out, err
	}
	if err := t.be.Sync(s); err != nil {
		return out, err
	}
	back := unsafe.Slice((*uint32)(t.ws.readback), 2)
	found := back[0] != 0
	sumsq := float64(math.Float32frombits(back[1]))
	if t.prec.NeedsLossScaling() {
		t.scaler.Update(found)
	}
	if found || math.IsNaN(sumsq) || math.IsInf(sumsq, 0) {
		out.Skipped = true
		out.GradNorm = math.NaN()
		if !t.prec.NeedsLossScaling() {
			return out, fmt.Errorf("%s: non-finite gradient (loss %g) without loss scaling", t.name, res.Loss)
		}
		return out, nil
	}
	inv := 1 / float64(b.Size)
	out.GradNorm = math.Sqrt(sumsq) * inv
	if t.opt.Clip > 0 && out.GradNorm > t.opt.Clip {
		out.ClipScale = t.opt.Clip / (out.GradNorm + 1e-6)
	}
	t.steps++
	c1 := 1 - math.Pow(t.opt.Beta1, float64(t.steps))
	c2 := math.Sqrt(1 - math.Pow(t.opt.Beta2, float64(t.steps)))
	var p16, pbf16 any = Ptr(0), Ptr(0)
	if t.prec == FP16 {
		p16 = t.low
	} else if t.prec == BF16 {
		pbf16 = t.low
	}
	gscale := float32(inv * out.ClipScale)
	err = t.launch1D("adamw_step", n, int64(n), t.params, t.grad, t.m, t.v,
		float32(t.opt.Beta1), float32(t.opt.Beta2), float32(1-t.opt.Beta1), float32(1-t.opt.Beta2),
		float32(lr/c1), float32(c2), float32(t.opt.Eps), float32(1-lr*t.opt.WeightDecay), gscale, p16, pbf16)
	if err != nil {
		return out, err
	}
	return out, t.be.Sync(s)
}
