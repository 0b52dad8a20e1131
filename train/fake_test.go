package train

import (
	"math"
	"sync/atomic"

	"trainer/data"
	"trainer/train/device"
)

// bowReplica is a tiny stand-in model for engine and loop tests: logistic
// regression on the mean of per-token weights plus a bias, params[vocab].
// It has the exact Replica contract (adds the gradient of the summed loss).
type bowReplica struct {
	vocab int
	nanAt int           // Compute returns a NaN loss on this call number (0 = never)
	calls *atomic.Int64 // Compute calls so far, shared by a run's replicas
}

func newBowParams(vocab int) []float32 {
	p := make([]float32, vocab+1)
	for i := range p {
		p[i] = float32(math.Sin(float64(i)*1.7)) * 0.1
	}
	return p
}

func (r bowReplica) Name() string { return "bow" }

func (r bowReplica) logit(params []float32, row []int32) float64 {
	z := float64(params[r.vocab])
	for _, t := range row {
		z += float64(params[t]) / float64(len(row))
	}
	return z
}

func (r bowReplica) Compute(params []float32, b data.Batch, grad []float32) (device.Result, error) {
	var res device.Result
	call := int64(0)
	if r.calls != nil {
		call = r.calls.Add(1)
	}
	for i := 0; i < b.Size; i++ {
		row := b.Row(i)
		z := r.logit(params, row)
		y := float64(b.Labels[i])
		res.Loss += BCEWithLogits(z, y)
		if (z > 0) == (y > 0.5) {
			res.Correct++
		}
		d := Sigmoid(z) - y
		for _, t := range row {
			grad[t] += float32(d / float64(len(row)))
		}
		grad[r.vocab] += float32(d)
		res.Tokens += len(row)
	}
	res.Rows = b.Size
	if r.nanAt > 0 && call == int64(r.nanAt) {
		res.Loss = math.NaN()
	}
	return res, nil
}

func (r bowReplica) Forward(params []float32, b data.Batch, logits []float32) error {
	for i := 0; i < b.Size; i++ {
		logits[i] = float32(r.logit(params, b.Row(i)))
	}
	return nil
}

// synthDataset builds n labelled reviews over a vocabulary of vocab ids in
// which low ids lean negative and high ids positive, deterministically.
func synthDataset(n, vocab int, seed uint64) *data.Dataset {
	d := &data.Dataset{Offsets: []int64{0}}
	s := seed*2654435761 + 1
	rnd := func() uint64 { s ^= s << 13; s ^= s >> 7; s ^= s << 17; return s }
	for i := 0; i < n; i++ {
		label := uint8(rnd() & 1)
		l := 1 + int(rnd()%12)
		for j := 0; j < l; j++ {
			t := 2 + int(rnd()%uint64(vocab-2))
			if rnd()%3 != 0 { // mostly tokens from the label's half
				half := (vocab - 2) / 2
				t = 2 + int(rnd()%uint64(half))
				if label == 1 {
					t += half
				}
			}
			d.Tokens = append(d.Tokens, int32(t))
		}
		d.Offsets = append(d.Offsets, int64(len(d.Tokens)))
		d.Labels = append(d.Labels, label)
	}
	return d
}

// batchOf pads reviews [lo, hi) of d into one batch.
func batchOf(d *data.Dataset, lo, hi int) data.Batch {
	var rows [][]int32
	for i := lo; i < hi; i++ {
		rows = append(rows, d.Review(i))
	}
	return data.MakeBatch(rows, d.Labels[lo:hi], 0)
}

// scaledReplica is bowReplica computing its gradient the way an fp16 GPU
// replica does: scaled by its loss scaler's factor and kept on the grid
// that factor gives (values of at most 65504 in magnitude, rounded to
// integers, then unscaled); an overflow lowers the scale and retries. The
// weights it trains to therefore depend on the scale of every step.
type scaledReplica struct {
	bowReplica
	scaler *device.LossScaler
}

func (r scaledReplica) Compute(params []float32, b data.Batch, grad []float32) (device.Result, error) {
	tmp := make([]float32, len(grad))
	for {
		clear(tmp)
		res, err := r.bowReplica.Compute(params, b, tmp)
		if err != nil {
			return res, err
		}
		s := r.scaler.Scale()
		overflow := false
		for _, g := range tmp {
			overflow = overflow || math.Abs(float64(g*s)) > 65504
		}
		r.scaler.Update(overflow)
		if overflow {
			continue
		}
		for i, g := range tmp {
			grad[i] += float32(math.Round(float64(g*s))) / s
		}
		return res, nil
	}
}
