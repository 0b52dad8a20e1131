package model

import (
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"
	"trainer/data"
)

// InitParams fills params (Layout(c).Size() values) with a fresh
// initialisation, the same for the same seed on every machine:
//   - embedding rows N(0, 1) as PyTorch's nn.Embedding, the pad row zero;
//   - W_ih uniform in ±1/sqrt(H) as PyTorch's nn.LSTM;
//   - W_hh: each gate's [H, H] block a random orthogonal matrix, which keeps
//     the recurrence from exploding or vanishing at the start;
//   - biases zero except the forget gate's, one, so that cells remember by
//     default early in training;
//   - head weights uniform in ±1/sqrt(D), head bias zero;
//   - the wide n-gram table zero, so that training starts from the LSTM
//     alone and the wide path grows only where the data pushes it.
func InitParams(c Config, params []float32, seed uint64) {
	lay := NewLayout(c)
	if len(params) != lay.Size() {
		panic("model: InitParams: parameter buffer does not match the configuration")
	}
	rng := rand.New(rand.NewPCG(seed, 0x6c73746d696e6974)) // "lstminit"
	hid := c.Hidden

	embed := lay.View("embed").Slice(params)
	for i := range embed {
		embed[i] = float32(rng.NormFloat64())
	}
	clear(embed[int(data.PadID)*c.EmbedDim : (int(data.PadID)+1)*c.EmbedDim])

	k := 1 / math.Sqrt(float64(hid))
	for l := 0; l < c.Layers; l++ {
		for d := 0; d < c.Dirs(); d++ {
			w := lay.LSTM(params, l, d)
			for i := range w.Wih {
				w.Wih[i] = float32((2*rng.Float64() - 1) * k)
			}
			for g := 0; g < 4; g++ {
				orthogonal(w.Whh[g*hid*hid:(g+1)*hid*hid], hid, rng)
			}
			clear(w.B)
			for i := hid; i < 2*hid; i++ {
				w.B[i] = 1
			}
		}
	}
	hw := lay.View("head.w").Slice(params)
	kh := 1 / math.Sqrt(float64(c.OutDim()))
	for i := range hw {
		hw[i] = float32((2*rng.Float64() - 1) * kh)
	}
	params[lay.View("head.b").Offset] = 0
	clear(lay.Wide(params))
}

// orthogonal fills dst ([n, n], row-major) with a random orthogonal matrix:
// the Q of a Gaussian matrix's QR decomposition, with Q's columns signed by
// R's diagonal so that the distribution is uniform (Haar).
func orthogonal(dst []float32, n int, rng *rand.Rand) {
	a := mat.NewDense(n, n, nil)
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			a.Set(i, j, rng.NormFloat64())
		}
	}
	var qr mat.QR
	qr.Factorize(a)
	var q, r mat.Dense
	qr.QTo(&q)
	qr.RTo(&r)
	for j := 0; j < n; j++ {
		sign := 1.0
		if r.At(j, j) < 0 {
			sign = -1
		}
		for i := 0; i < n; i++ {
			dst[i*n+j] = float32(sign * q.At(i, j))
		}
	}
}
