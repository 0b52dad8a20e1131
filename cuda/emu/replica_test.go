//go:build cgo

package emu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"testing"

	"trainer/cuda"
	"trainer/data"
	"trainer/model"
	"trainer/train"
	"trainer/train/device"
)

// testBatch returns a batch of n reviews over vocabulary v, lengths 1..maxLen
// with row 0 the longest, and the shard of rows 1..n-1, which is narrower
// than its MaxLen (the case of a shard of a larger batch).
func testBatch(rng *rand.Rand, n, v, maxLen int) (full, shard data.Batch) {
	reviews := make([][]int32, n)
	labels := make([]uint8, n)
	for i := range reviews {
		l := 1 + rng.IntN(maxLen-1)
		if i == 0 {
			l = maxLen
		}
		reviews[i] = make([]int32, l)
		for j := range reviews[i] {
			reviews[i][j] = int32(2 + rng.IntN(v-2))
		}
		labels[i] = uint8(rng.IntN(2))
	}
	b := data.MakeBatch(reviews, labels, 0)
	return b, b.Rows(1, n)
}

// maxAbs is the largest magnitude in s.
func maxAbs(s []float32) float64 {
	m := 0.0
	for _, v := range s {
		m = max(m, math.Abs(float64(v)))
	}
	return m
}

// compareGrads validates every parameter view of got against ref. fp32
// allows for summation order (relative eps plus a floor scaled by the
// view's largest value); fp16/bf16 for the rounding of every GEMM input.
func compareGrads(t *testing.T, lay model.Layout, got, ref []float32, prec cuda.Precision) {
	t.Helper()
	for _, v := range lay.Views() {
		g, r := v.Slice(got), v.Slice(ref)
		scale := maxAbs(r)
		tol, eps := 1e-5*scale+1e-7, 1e-4
		if prec != cuda.FP32 {
			tol, eps = 2*epsHalf*scale+1e-6, 4*epsHalf
			if prec == cuda.BF16 {
				tol, eps = 8*epsHalf*scale+1e-6, 16*epsHalf // 3 fewer mantissa bits
			}
		}
		validate(t, "grad "+v.Name, g, r, tol, eps)
	}
}

// replicaConfig is a model shape and a batch size to check it with.
type replicaConfig struct {
	name string
	cfg  model.Config
	rows int
}

// replicaConfigs are small odd shapes; the last one spans several GEMM
// tiles in every dimension (4H = 100 columns, 16 rows x 9 steps = 144 rows).
var replicaConfigs = []replicaConfig{
	{"L1-last", model.Config{VocabSize: 23, EmbedDim: 6, Hidden: 5, Layers: 1, Pool: model.PoolLast}, 6},
	{"L2-mean", model.Config{VocabSize: 31, EmbedDim: 9, Hidden: 7, Layers: 2, Pool: model.PoolMean}, 6},
	{"L1-H25-last-big", model.Config{VocabSize: 60, EmbedDim: 70, Hidden: 25, Layers: 1, Pool: model.PoolLast}, 17},
	// 64 rows x up to 10 steps: the weight-gradient GEMMs split K.
	{"L1-splitK", model.Config{VocabSize: 40, EmbedDim: 8, Hidden: 8, Layers: 1, Pool: model.PoolMean}, 129},
}

// ngramConfigs add the wide n-gram path: bigrams into so few buckets that
// features collide, and trigrams over two layers.
var ngramConfigs = []replicaConfig{
	{"L1-mean-bigrams", model.Config{VocabSize: 37, EmbedDim: 6, Hidden: 5, Layers: 1, Pool: model.PoolMean, Ngrams: 2, Buckets: 11}, 9},
	{"L2-last-trigrams", model.Config{VocabSize: 29, EmbedDim: 7, Hidden: 6, Layers: 2, Pool: model.PoolLast, Ngrams: 3, Buckets: 40}, 7},
}

// bidiConfigs are bidirectional models (the reverse direction over each
// row's real steps, layer l+1 reading both directions' states) and max
// pooling, the first the default model's shape in small.
var bidiConfigs = []replicaConfig{
	{"L1-bidi-max-bigrams", model.Config{VocabSize: 37, EmbedDim: 6, Hidden: 5, Layers: 1, Bidirectional: true, Pool: model.PoolMax, Ngrams: 2, Buckets: 11}, 9},
	{"L2-bidi-last", model.Config{VocabSize: 31, EmbedDim: 9, Hidden: 7, Layers: 2, Bidirectional: true, Pool: model.PoolLast}, 6},
	{"L1-bidi-mean", model.Config{VocabSize: 23, EmbedDim: 6, Hidden: 5, Layers: 1, Bidirectional: true, Pool: model.PoolMean}, 7},
	{"L2-max", model.Config{VocabSize: 29, EmbedDim: 7, Hidden: 6, Layers: 2, Pool: model.PoolMax}, 6},
}

// initParams is model.InitParams with the wide table, which starts at
// zero, drawn at random too, so that the wide path's forward pass counts.
func initParams(cfg model.Config, seed uint64) []float32 {
	params := make([]float32, model.NewLayout(cfg).Size())
	model.InitParams(cfg, params, seed)
	rng := rand.New(rand.NewPCG(seed, 99))
	wide := model.NewLayout(cfg).Wide(params)
	for i := range wide {
		wide[i] = float32((2*rng.Float64() - 1) * 0.05)
	}
	return params
}

// TestReplicaMatchesCPU runs one forward and backward pass of the emulated
// GPU replica (embedding, LSTM, head, loss, backward) and compares loss,
// correct count and every gradient with the CPU replica, with and without
// the wide n-gram path, uni- and bidirectional, with every pooling.
func TestReplicaMatchesCPU(t *testing.T) {
	for _, c := range slices.Concat(replicaConfigs, ngramConfigs, bidiConfigs) {
		for _, prec := range []cuda.Precision{cuda.FP32, cuda.FP16, cuda.BF16} {
			t.Run(fmt.Sprintf("%s/%s", c.name, prec), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(21, uint64(prec)))
				lay := model.NewLayout(c.cfg)
				params := initParams(c.cfg, 5)
				_, b := testBatch(rng, c.rows, c.cfg.VocabSize, 10)

				cpu, err := train.NewCPUReplica(c.cfg, 0)
				if err != nil {
					t.Fatal(err)
				}
				refGrad := make([]float32, lay.Size())
				refRes, err := cpu.Compute(params, b, refGrad)
				if err != nil {
					t.Fatal(err)
				}

				r, err := cuda.NewReplica(testBackend(t), 0, c.cfg, prec)
				if err != nil {
					t.Fatal(err)
				}
				defer r.Close()
				if prec == cuda.FP16 {
					r.SetLossScale(1024) // exercised and divided out again
				}
				grad := make([]float32, lay.Size())
				grad[0] = 3 // Compute adds to what is there
				res, err := r.Compute(params, b, grad)
				if err != nil {
					t.Fatal(err)
				}
				grad[0] -= 3
				lossEps := 1e-5
				if prec != cuda.FP32 {
					lossEps = 4 * epsHalf
				}
				if math.Abs(res.Loss-refRes.Loss) > lossEps*math.Abs(refRes.Loss) {
					t.Errorf("loss %.7g, CPU %.7g", res.Loss, refRes.Loss)
				}
				if prec == cuda.FP32 && res.Correct != refRes.Correct {
					t.Errorf("correct %d, CPU %d", res.Correct, refRes.Correct)
				}
				if res.Rows != refRes.Rows || res.Tokens != refRes.Tokens {
					t.Errorf("rows/tokens %d/%d, CPU %d/%d", res.Rows, res.Tokens, refRes.Rows, refRes.Tokens)
				}
				compareGrads(t, lay, grad, refGrad, prec)

				// Forward alone gives the same logits as the CPU.
				logits := make([]float32, b.Size)
				if err := r.Forward(params, b, logits); err != nil {
					t.Fatal(err)
				}
				refLogits := make([]float32, b.Size)
				if err := cpu.Forward(params, b, refLogits); err != nil {
					t.Fatal(err)
				}
				eps := 1e-5
				if prec != cuda.FP32 {
					eps = 8 * epsHalf
				}
				validate(t, "logits", logits, refLogits, eps*maxAbs(refLogits), eps)
			})
		}
	}
}

// TestReplicaReusesWorkspace runs batches of growing and shrinking shapes
// through one replica: results must not depend on what ran before.
func TestReplicaReusesWorkspace(t *testing.T) {
	for _, c := range []replicaConfig{replicaConfigs[0], ngramConfigs[1]} {
		t.Run(c.name, func(t *testing.T) {
			cfg := c.cfg
			lay := model.NewLayout(cfg)
			params := initParams(cfg, 9)
			be := testBackend(t)
			r, err := cuda.NewReplica(be, 0, cfg, cuda.FP32)
			if err != nil {
				t.Fatal(err)
			}
			cpu, _ := train.NewCPUReplica(cfg, 0)
			rng := rand.New(rand.NewPCG(3, 3))
			for i, shape := range [][2]int{{3, 4}, {8, 9}, {2, 3}, {9, 12}} {
				b, _ := testBatch(rng, shape[0], cfg.VocabSize, shape[1])
				grad, ref := make([]float32, lay.Size()), make([]float32, lay.Size())
				if _, err := r.Compute(params, b, grad); err != nil {
					t.Fatal(err)
				}
				if _, err := cpu.Compute(params, b, ref); err != nil {
					t.Fatal(err)
				}
				t.Run(fmt.Sprint(i), func(t *testing.T) { compareGrads(t, lay, grad, ref, cuda.FP32) })
			}
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
			if dev, ok := be.(*Device); ok && dev.Live() != 0 {
				t.Fatalf("%d device allocations leaked after Close", dev.Live())
			}
		})
	}
}

func TestReplicaRejectsBadInput(t *testing.T) {
	cfg := replicaConfigs[0].cfg
	dev := testBackend(t)
	if _, err := cuda.NewReplica(dev, 0, model.Config{VocabSize: 23, EmbedDim: 4, Hidden: 4, Layers: 1, Pool: "median"}, cuda.FP32); err == nil {
		t.Error("unknown pooling accepted")
	}
	for _, c := range []replicaConfig{ngramConfigs[0], bidiConfigs[0]} {
		if _, err := cuda.NewReplica(dev, 0, c.cfg, cuda.FP32); err != nil {
			t.Errorf("%s refused: %v", c.name, err)
		}
	}
	if _, err := cuda.NewReplica(dev, 3, cfg, cuda.FP32); err == nil {
		t.Error("stream 3 of 1 accepted")
	}
	r, err := cuda.NewReplica(dev, 0, cfg, cuda.FP32)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	lay := model.NewLayout(cfg)
	params, grad := make([]float32, lay.Size()), make([]float32, lay.Size())
	b := data.MakeBatch([][]int32{{2, 3, 99}}, []uint8{1}, 0)
	if _, err := r.Compute(params, b, grad); err == nil {
		t.Error("token id 99 in a vocabulary of 23 accepted")
	}
	if res, err := r.Compute(params, data.Batch{}, grad); err != nil || res != (cuda.Result{}) {
		t.Errorf("empty batch: %+v, %v", res, err)
	}
}

// cpuStep is the CPU path of one training step: gradients from the CPU
// replica, mean over the batch, train's AdamW.
func cpuStep(t *testing.T, cfg model.Config, params []float32, b data.Batch, lr float64, oc device.OptimConfig) device.Result {
	t.Helper()
	cpu, err := train.NewCPUReplica(cfg, 0)
	if err != nil {
		t.Fatal(err)
	}
	grad := make([]float32, len(params))
	res, err := cpu.Compute(params, b, grad)
	if err != nil {
		t.Fatal(err)
	}
	inv := float32(1 / float64(b.Size))
	for i := range grad {
		grad[i] *= inv
	}
	opt, err := train.NewOptimizer(oc, len(params))
	if err != nil {
		t.Fatal(err)
	}
	opt.Begin()
	opt.Update(params, grad, lr, 0, len(params))
	return res
}

// TestTrainerStepMatchesCPU: one device-resident training step (forward,
// backward, unscale and finite check, AdamW on the device) leaves the same
// weights as the CPU replica plus train's AdamW, with and without the wide
// n-gram path.
func TestTrainerStepMatchesCPU(t *testing.T) {
	oc := device.DefaultOptimConfig()
	oc.WeightDecay = 0.01
	const lr = 1e-2
	for _, c := range slices.Concat(replicaConfigs[:2], ngramConfigs) {
		for _, prec := range []cuda.Precision{cuda.FP32, cuda.FP16, cuda.BF16} {
			t.Run(fmt.Sprintf("%s/%s", c.name, prec), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(33, uint64(prec)))
				lay := model.NewLayout(c.cfg)
				init := initParams(c.cfg, 11)
				b, _ := testBatch(rng, 5, c.cfg.VocabSize, 6)

				ref := append([]float32(nil), init...)
				refRes := cpuStep(t, c.cfg, ref, b, lr, oc)

				tr, err := cuda.NewResident(testBackend(t), c.cfg, prec, oc, 0, init)
				if err != nil {
					t.Fatal(err)
				}
				defer tr.Close()
				st, err := tr.Step(b, lr)
				if err != nil {
					t.Fatal(err)
				}
				if st.Skipped {
					t.Fatal("step skipped")
				}
				got := make([]float32, lay.Size())
				if err := tr.ReadParams(got); err != nil {
					t.Fatal(err)
				}
				lossEps := 1e-5
				if prec != cuda.FP32 {
					lossEps = 4 * epsHalf
				}
				if math.Abs(st.Loss-refRes.Loss) > lossEps*math.Abs(refRes.Loss) {
					t.Errorf("loss %.7g, CPU %.7g", st.Loss, refRes.Loss)
				}
				// The first Adam step moves each weight by about lr*sign(g),
				// so the updates are compared: weight change vs CPU change.
				for _, v := range lay.Views() {
					dg, dr := make([]float32, v.Len), make([]float32, v.Len)
					for i := range dg {
						dg[i] = v.Slice(got)[i] - v.Slice(init)[i]
						dr[i] = v.Slice(ref)[i] - v.Slice(init)[i]
					}
					tol, eps := 1e-6, 1e-3
					if prec != cuda.FP32 {
						// Tiny gradients can flip sign under fp16 rounding,
						// which moves a weight by up to 2*lr; count those.
						tol, eps = 2*lr, 0
					}
					validate(t, "update "+v.Name, dg, dr, tol, eps)
				}
			})
		}
	}
}

// TestLossScalerSkipsOverflow injects an overflow into an fp16 step (a loss
// scale so large that the fp16 gradients become infinite): the step must be
// skipped with weights and optimizer state untouched, the scale must halve,
// and the next step must then be exactly a first step.
func TestLossScalerSkipsOverflow(t *testing.T) {
	cfg := replicaConfigs[0].cfg
	lay := model.NewLayout(cfg)
	init := make([]float32, lay.Size())
	model.InitParams(cfg, init, 13)
	rng := rand.New(rand.NewPCG(44, 44))
	b, _ := testBatch(rng, 4, cfg.VocabSize, 5)
	opt := device.DefaultOptimConfig()

	run := func(initScale float32) (*cuda.Resident, *device.LossScaler, device.StepResult) {
		tr, err := cuda.NewResident(testBackend(t), cfg, cuda.FP16, opt, 0, init)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tr.Close() })
		sc := tr.Scalers()[0]
		if err := sc.SetState(device.LossScalerState{Scale: initScale}); err != nil {
			t.Fatal(err)
		}
		st, err := tr.Step(b, 1e-2)
		if err != nil {
			t.Fatal(err)
		}
		return tr, sc, st
	}

	const huge = 0x1p100
	tr, sc, st := run(huge)
	if !st.Skipped || st.LossScale != huge {
		t.Fatalf("overflowing step: skipped=%v scale=%g, want skipped at 2^100", st.Skipped, st.LossScale)
	}
	if sc.Scale() != huge/2 || sc.Skipped() != 1 {
		t.Fatalf("after overflow: scale %g skipped %d, want 2^99 and 1", sc.Scale(), sc.Skipped())
	}
	after := make([]float32, lay.Size())
	if err := tr.ReadParams(after); err != nil {
		t.Fatal(err)
	}
	for i := range after {
		if after[i] != init[i] {
			t.Fatalf("weight %d changed by a skipped step: %g -> %g", i, init[i], after[i])
		}
	}
	// Back off to a sane scale: the next step is the first real one, equal
	// to a fresh trainer's first step (moments and step count untouched).
	for sc.Scale() > 65536 {
		sc.Update(true)
	}
	st2, err := tr.Step(b, 1e-2)
	if err != nil || st2.Skipped {
		t.Fatalf("step after backing off: skipped=%v err=%v", st2.Skipped, err)
	}
	got := make([]float32, lay.Size())
	if err := tr.ReadParams(got); err != nil {
		t.Fatal(err)
	}
	fresh, _, st3 := run(65536)
	if st3.Skipped {
		t.Fatal("fresh step at 2^16 skipped")
	}
	want := make([]float32, lay.Size())
	if err := fresh.ReadParams(want); err != nil {
		t.Fatal(err)
	}
	// The emulator is deterministic: bit for bit. A GPU's atomics sum in
	// any order, so there the two runs agree to rounding.
	tol := 0.0
	if os.Getenv(deviceEnv) != "" {
		tol = 1e-5
	}
	validate(t, "params after skip then step", got, want, tol, tol)
}

// TestReplicaScalerRecomputes: under FP16 with a dynamic scaler, Compute
// backs off from an overflowing scale and still hands the engine finite
// gradients equal to the CPU's.
func TestReplicaScalerRecomputes(t *testing.T) {
	cfg := replicaConfigs[0].cfg
	lay := model.NewLayout(cfg)
	params := make([]float32, lay.Size())
	model.InitParams(cfg, params, 17)
	rng := rand.New(rand.NewPCG(5, 5))
	b, _ := testBatch(rng, 4, cfg.VocabSize, 6)
	r, err := cuda.NewReplica(testBackend(t), 0, cfg, cuda.FP16)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	sc, _ := device.NewLossScalerWith(0x1p40, 2, 0.5, 2000)
	r.SetScaler(sc)
	grad, ref := make([]float32, lay.Size()), make([]float32, lay.Size())
	if _, err := r.Compute(params, b, grad); err != nil {
		t.Fatal(err)
	}
	cpu, _ := train.NewCPUReplica(cfg, 0)
	if _, err := cpu.Compute(params, b, ref); err != nil {
		t.Fatal(err)
	}
	if sc.Skipped() == 0 || sc.Scale() >= 0x1p40 {
		t.Fatalf("scaler not backed off: scale %g skipped %d", sc.Scale(), sc.Skipped())
	}
	t.Logf("backed off to %g after %d overflows", sc.Scale(), sc.Skipped())
	compareGrads(t, lay, grad, ref, cuda.FP16)
}
