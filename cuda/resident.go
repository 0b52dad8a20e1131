package cuda

import (
	"errors"
	"fmt"
	"math"
	"unsafe"

	"trainer/data"
	"trainer/model"
	"trainer/train/device"
)

// Resident trains whole steps on one GPU (device.Resident): the fp32 master
// weights, their low-precision copy, the gradients, the AdamW moments and
// the lazy-update row marks live in device memory for the whole run. A
// step uploads the batch, queues forward, backward, the gradient sum of
// the device's streams, the overflow check, clipping and the update, reads
// back 16 bytes (loss, correct count, overflow flag, squared gradient norm)
// and waits once. Decisions that depend on the gradients (skip, clip,
// which rows of the embedding and the wide n-gram table to update) are
// taken on the device, so nothing waits for the host in between.
type Resident struct {
	be     Backend
	cfg    model.Config
	layout model.Layout
	prec   Precision
	opt    device.OptimConfig
	clip   float64
	scaler *device.LossScaler // FP16 only
	reps   []*Replica         // one per stream; reps[0]'s grad is the sum
	pool   *Pool
	name   string

	params, low Ptr // master weights and their GEMM copy, shared by reps
	m, v        Ptr // AdamW moments
	mask        Ptr // lookup-table rows the batch touches (lazy update): [V + WideRows] int32, the embedding's then the wide table's
	stats       Ptr // the step's report, [4] words (see kernels/step.cu)
	readback    unsafe.Pointer
	steps       int64
}

// NewResident places a resident trainer on every stream of be, starting
// from params. Only AdamW runs on the device.
func NewResident(be Backend, cfg model.Config, prec Precision, opt device.OptimConfig, clip float64, params []float32) (*Resident, error) {
	if opt.Kind != "" && opt.Kind != "adamw" && opt.Kind != "adam" {
		return nil, fmt.Errorf("%s: the device-resident step runs AdamW, not %q", be.Name(), opt.Kind)
	}
	layout := model.NewLayout(cfg)
	n := layout.Size()
	if len(params) != n {
		return nil, fmt.Errorf("%s: %d initial parameters, the model has %d", be.Name(), len(params), n)
	}
	t := &Resident{
		be: be, cfg: cfg, layout: layout, prec: prec, opt: opt, clip: clip, pool: NewPool(be),
		name: fmt.Sprintf("%s/resident/%s", be.Name(), prec),
	}
	if prec.NeedsLossScaling() {
		t.scaler = device.NewLossScaler()
	}
	for s := 0; s < be.Streams(); s++ {
		r, err := NewReplica(be, s, cfg, prec)
		if err != nil {
			return nil, err
		}
		r.shared = true
		t.reps = append(t.reps, r)
	}
	err := be.Do(func() error {
		get := func(bytes int) (Ptr, error) { return t.pool.Get(bytes) }
		var err error
		if t.params, err = get(4 * n); err != nil {
			return err
		}
		if prec != FP32 {
			if t.low, err = get(2 * n); err != nil {
				return err
			}
		}
		if t.m, err = get(4 * n); err != nil {
			return err
		}
		if t.v, err = get(4 * n); err != nil {
			return err
		}
		if t.mask, err = get(4 * t.maskRows()); err != nil {
			return err
		}
		if t.stats, err = get(16); err != nil {
			return err
		}
		if t.readback, err = be.HostAlloc(16); err != nil {
			return err
		}
		for _, r := range t.reps {
			r.params, r.low = t.params, t.low
			if r.grad, err = r.pool.Get(4 * n); err != nil {
				return err
			}
		}
		if err := be.Zero(t.m, 4*n, 0); err != nil {
			return err
		}
		if err := be.Zero(t.v, 4*n, 0); err != nil {
			return err
		}
		return t.writeParams(params)
	})
	if err != nil {
		_ = t.Close()
		return nil, fmt.Errorf("%s: %w", t.name, err)
	}
	return t, nil
}

// Name identifies the trainer in logs and metrics.
func (t *Resident) Name() string { return t.name }

// Counters reports the device's launches, copies and host waits so far,
// for metrics and for tests of the step budget.
func (t *Resident) Counters() Counters { return t.be.Counters() }

// Precision is the arithmetic the trainer runs.
func (t *Resident) Precision() Precision { return t.prec }

// Step trains on the global batch b, split over the device's streams.
func (t *Resident) Step(b data.Batch, lr float64) (out device.StepResult, err error) {
	if b.Size == 0 {
		return device.StepResult{}, fmt.Errorf("%s: empty batch", t.name)
	}
	err = t.be.Do(func() error {
		out, err = t.step(b, lr)
		return err
	})
	return out, err
}

func (t *Resident) step(b data.Batch, lr float64) (device.StepResult, error) {
	n := t.layout.Size()
	scale := float32(1)
	if t.scaler != nil {
		scale = t.scaler.Scale()
	}
	lazy := t.opt.LazyEmbedding
	if err := t.be.Zero(t.stats, 16, 0); err != nil {
		return device.StepResult{}, err
	}
	if lazy {
		if err := t.be.Zero(t.mask, 4*t.maskRows(), 0); err != nil {
			return device.StepResult{}, err
		}
	}
	// Every stream starts after stream 0's previous update and the zeroing.
	used := 0
	for k, r := range t.reps {
		lo, hi := data.ShardRange(b.Size, k, len(t.reps))
		if hi == lo {
			continue
		}
		used = k + 1
		shard := b.Rows(lo, hi)
		if k > 0 {
			if err := t.be.Join(0, k); err != nil {
				return device.StepResult{}, err
			}
		}
		if err := t.be.Zero(r.grad, 4*n, k); err != nil {
			return device.StepResult{}, err
		}
		var wideMarks Ptr
		if lazy && t.cfg.Ngrams > 0 {
			wideMarks = t.mask.Add(t.cfg.VocabSize, 4)
		}
		if err := r.enqueue(shard, true, scale, t.stats, wideMarks); err != nil {
			return device.StepResult{}, err
		}
		if lazy {
			ws := r.ws
			if err := r.launch1D("mark_rows", shard.Size*shard.MaxLen, ws.tokens, ws.lengths, shard.Size, shard.MaxLen,
				shard.MaxLen, t.cfg.VocabSize, t.mask); err != nil {
				return device.StepResult{}, err
			}
		}
	}
	main := t.reps[0]
	for k := 1; k < used; k++ {
		if err := t.be.Join(k, 0); err != nil {
			return device.StepResult{}, err
		}
		if err := main.launch1D("add_f32", n, int64(n), main.grad, t.reps[k].grad); err != nil {
			return device.StepResult{}, err
		}
	}
	if err := main.launch1D("grad_unscale_sumsq", n, int64(n), main.grad, 1/scale, t.stats); err != nil {
		return device.StepResult{}, err
	}
	// The update is queued as if the step were clean; the kernel itself
	// skips it when the stats say otherwise, and the count is only kept then.
	next := t.steps + 1
	c1 := 1 - math.Pow(t.opt.Beta1, float64(next))
	c2 := math.Sqrt(1 - math.Pow(t.opt.Beta2, float64(next)))
	var p16, pbf16, mask any = Ptr(0), Ptr(0), Ptr(0)
	switch t.prec {
	case FP16:
		p16 = t.low
	case BF16:
		pbf16 = t.low
	}
	if lazy {
		mask = t.mask
	}
	inv := 1 / float64(b.Size)
	emb := t.layout.View("embed")
	var wideLo int64
	if t.cfg.Ngrams > 0 {
		wideLo = int64(t.layout.View("wide").Offset)
	}
	err := main.launch1D("adamw_resident", n, int64(n), t.params, main.grad, t.m, t.v,
		float32(t.opt.Beta1), float32(t.opt.Beta2), float32(1-t.opt.Beta1), float32(1-t.opt.Beta2),
		float32(lr/c1), float32(c2), float32(t.opt.Eps), float32(1-lr*t.opt.WeightDecay),
		float32(inv), float32(t.clip), t.stats, mask, int64(emb.Offset), t.cfg.VocabSize, t.cfg.EmbedDim,
		wideLo, t.cfg.WideRows(), p16, pbf16)
	if err != nil {
		return device.StepResult{}, err
	}
	if err := t.be.CopyDtoH(t.readback, t.stats, 16, 0); err != nil {
		return device.StepResult{}, err
	}
	if err := t.be.Sync(0); err != nil {
		return device.StepResult{}, fmt.Errorf("%s: %w", t.name, err)
	}
	back := unsafe.Slice((*uint32)(t.readback), 4)
	out := device.StepResult{
		Result: device.Result{
			Loss: float64(math.Float32frombits(back[0])), Correct: int(int32(back[1])),
			Rows: b.Size, Tokens: b.RealTokens(),
		},
		LossScale: scale, ClipScale: 1,
	}
	sumsq := float64(math.Float32frombits(back[3]))
	found := back[2] != 0 || math.IsNaN(sumsq) || math.IsInf(sumsq, 0)
	if t.scaler != nil {
		t.scaler.Update(found)
	}
	if found {
		out.Skipped, out.GradNorm = true, math.NaN()
		if t.scaler == nil {
			return out, fmt.Errorf("%s: %w (loss %g)", t.name, device.ErrNonFinite, out.Loss)
		}
		return out, nil
	}
	t.steps = next
	// The same float32 arithmetic as the kernel, so the reported factor is
	// the one applied.
	norm := float32(math.Sqrt(float64(float32(sumsq)))) * float32(inv)
	out.GradNorm = float64(norm)
	if t.clip > 0 && norm > float32(t.clip) {
		out.ClipScale = float64(float32(t.clip) / (norm + 1e-6))
	}
	return out, nil
}

// maskRows is the number of lookup-table rows the lazy update marks: the
// embedding's, then the wide n-gram table's.
func (t *Resident) maskRows() int { return t.cfg.VocabSize + t.cfg.WideRows() }

// ReadParams copies the master weights into dst.
func (t *Resident) ReadParams(dst []float32) error {
	if len(dst) != t.layout.Size() {
		return fmt.Errorf("%s: room for %d parameters, the model has %d", t.name, len(dst), t.layout.Size())
	}
	return t.be.Do(func() error {
		if err := Download(t.be, dst, t.params, 0); err != nil {
			return err
		}
		return t.be.Sync(0)
	})
}

// WriteParams replaces the master weights and their low-precision copy.
func (t *Resident) WriteParams(src []float32) error {
	if len(src) != t.layout.Size() {
		return fmt.Errorf("%s: %d parameters, the model has %d", t.name, len(src), t.layout.Size())
	}
	return t.be.Do(func() error { return t.writeParams(src) })
}

func (t *Resident) writeParams(src []float32) error {
	if err := Upload(t.be, t.params, src, 0); err != nil {
		return err
	}
	if t.prec != FP32 {
		n := t.layout.Size()
		if err := t.reps[0].launch1D("cast_f32"+t.prec.suffix(), n, int64(n), t.params, t.low); err != nil {
			return err
		}
	}
	return t.be.Sync(0)
}

// OptimState reads the AdamW moments and step count back.
func (t *Resident) OptimState() (device.OptimState, error) {
	n := t.layout.Size()
	m, v := make([]float32, n), make([]float32, n)
	err := t.be.Do(func() error {
		if err := Download(t.be, m, t.m, 0); err != nil {
			return err
		}
		if err := Download(t.be, v, t.v, 0); err != nil {
			return err
		}
		return t.be.Sync(0)
	})
	if err != nil {
		return device.OptimState{}, fmt.Errorf("%s: read optimizer state: %w", t.name, err)
	}
	return device.OptimState{Kind: "adamw", Steps: t.steps, Slots: [][]float32{m, v}}, nil
}

// SetOptimState restores moments and step count saved by OptimState.
func (t *Resident) SetOptimState(s device.OptimState) error {
	n := t.layout.Size()
	if s.Kind != "adamw" || len(s.Slots) != 2 || len(s.Slots[0]) != n || len(s.Slots[1]) != n || s.Steps < 0 {
		return fmt.Errorf("%s: optimizer state is %s with %d slots at step %d, want adamw with 2 slots of %d",
			t.name, s.Kind, len(s.Slots), s.Steps, n)
	}
	err := t.be.Do(func() error {
		if err := Upload(t.be, t.m, s.Slots[0], 0); err != nil {
			return err
		}
		if err := Upload(t.be, t.v, s.Slots[1], 0); err != nil {
			return err
		}
		return t.be.Sync(0)
	})
	if err != nil {
		return fmt.Errorf("%s: restore optimizer state: %w", t.name, err)
	}
	t.steps = s.Steps
	return nil
}

// Scalers is the step's one loss scaler under FP16, nil otherwise.
func (t *Resident) Scalers() []*device.LossScaler {
	if t.scaler == nil {
		return nil
	}
	return []*device.LossScaler{t.scaler}
}

// Forwarders evaluate with the device's current weights, one per stream.
func (t *Resident) Forwarders() []device.Forwarder {
	out := make([]device.Forwarder, len(t.reps))
	for i, r := range t.reps {
		out[i] = r
	}
	return out
}

// Close releases the trainer's device and pinned memory.
func (t *Resident) Close() error {
	var errs []error
	for _, r := range t.reps {
		r.params, r.low = 0, 0 // the trainer's, freed below
		errs = append(errs, r.Close())
	}
	errs = append(errs, t.be.Do(func() error {
		if t.readback != nil {
			if err := t.be.HostFree(t.readback); err != nil {
				return err
			}
			t.readback = nil
		}
		return t.pool.Close()
	}))
	return errors.Join(errs...)
}

var _ device.Resident = (*Resident)(nil)
