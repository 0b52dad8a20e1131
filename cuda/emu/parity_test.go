//go:build cgo

package emu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"trainer/cuda"
	"trainer/model"
	"trainer/train"
	"trainer/train/device"
)

// refAdamW is the CPU oracle's optimizer: torch.optim.AdamW's arithmetic in
// float64, on the mean gradient, with the lazy embedding update skipping
// the rows of tokens absent from the batch (moments included).
type refAdamW struct {
	oc    device.OptimConfig
	m, v  []float64
	steps int
}

func (a *refAdamW) step(params, grad []float32, lr float64, skip func(i int) bool) {
	a.steps++
	c1 := 1 - math.Pow(a.oc.Beta1, float64(a.steps))
	c2 := math.Sqrt(1 - math.Pow(a.oc.Beta2, float64(a.steps)))
	for i, g := range grad {
		if skip != nil && skip(i) {
			continue
		}
		gi := float64(g)
		a.m[i] = a.oc.Beta1*a.m[i] + (1-a.oc.Beta1)*gi
		a.v[i] = a.oc.Beta2*a.v[i] + (1-a.oc.Beta2)*gi*gi
		p := float64(params[i]) * (1 - lr*a.oc.WeightDecay)
		params[i] = float32(p - lr/c1*a.m[i]/(math.Sqrt(a.v[i])/c2+a.oc.Eps))
	}
}

// TestResidentParity trains 20 steps on the emulated device and on the CPU
// oracle (the CPU replica's gradients, the reference AdamW, clipping) from
// the same weights on the same batches, at the default model's sizes (lazy
// embedding update), at E128/H256, and with the wide n-gram path (lazy
// update of both tables), and compares the loss of every step and the
// final weights with tolerances fit for each precision.
func TestResidentParity(t *testing.T) {
	if testing.Short() {
		t.Skip("20 emulated steps of full-size models")
	}
	configs := []struct {
		name string
		cfg  model.Config
		lazy bool
	}{
		{"default", DefaultModel(), true}, // V=20000, E512, bidirectional H64, max pooling, bigrams
		{"E128-H256", model.Config{VocabSize: 300, EmbedDim: 128, Hidden: 256, Layers: 1, Pool: model.PoolLast}, false},
		{"bigrams", model.Config{VocabSize: 300, EmbedDim: 32, Hidden: 32, Layers: 1, Pool: model.PoolMean, Ngrams: 2, Buckets: 1000}, true},
	}
	const (
		steps = 20
		rows  = 4
		lr    = 1e-3
		clip  = 0.5 // small enough that the steps clip
	)
	for _, c := range configs {
		for _, prec := range []cuda.Precision{cuda.FP32, cuda.BF16, cuda.FP16} {
			t.Run(fmt.Sprintf("%s/%s", c.name, prec), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(71, uint64(prec)))
				lay := model.NewLayout(c.cfg)
				n := lay.Size()
				init := initParams(c.cfg, 29)
				oc := device.DefaultOptimConfig()
				oc.WeightDecay = 0.01
				oc.LazyEmbedding = c.lazy

				tr, err := cuda.NewResident(testBackend(t), c.cfg, prec, oc, clip, init)
				if err != nil {
					t.Fatal(err)
				}
				defer tr.Close()
				cpu, err := train.NewCPUReplica(c.cfg, 0)
				if err != nil {
					t.Fatal(err)
				}
				ref := append([]float32(nil), init...)
				opt := &refAdamW{oc: oc, m: make([]float64, n), v: make([]float64, n)}
				emb := lay.View("embed")
				wideLo := -1
				if c.cfg.Ngrams > 0 {
					wideLo = lay.View("wide").Offset
				}
				grad := make([]float32, n)
				lossTol := 1e-4
				if prec != cuda.FP32 {
					lossTol = 2e-2
				}
				clipped := 0
				start := time.Now()
				for s := 0; s < steps; s++ {
					b, _ := testBatch(rng, rows, c.cfg.VocabSize, 2+rng.IntN(7))
					clear(grad)
					want, err := cpu.Compute(ref, b, grad)
					if err != nil {
						t.Fatal(err)
					}
					sumsq := 0.0
					for i := range grad {
						grad[i] /= float32(b.Size)
						sumsq += float64(grad[i]) * float64(grad[i])
					}
					norm := math.Sqrt(sumsq)
					if scale := train.ClipScale(norm, clip); scale != 1 {
						clipped++
						for i := range grad {
							grad[i] *= float32(scale)
						}
					}
					var skip func(int) bool
					if c.lazy {
						touched, features := map[int]bool{}, map[int]bool{}
						for r := 0; r < b.Size; r++ {
							for _, id := range b.Row(r) {
								touched[int(id)] = true
							}
							for _, f := range model.NgramFeatures(b.Row(r), c.cfg, nil) {
								features[int(f)] = true
							}
						}
						skip = func(i int) bool {
							if i >= emb.Offset && i < emb.Offset+emb.Len {
								return !touched[(i-emb.Offset)/c.cfg.EmbedDim]
							}
							return wideLo >= 0 && i >= wideLo && !features[i-wideLo]
						}
					}
					opt.step(ref, grad, lr, skip)

					got, err := tr.Step(b, lr)
					if err != nil {
						t.Fatal(err)
					}
					if got.Skipped {
						t.Fatalf("step %d skipped at loss scale %g", s, got.LossScale)
					}
					if d := math.Abs(got.Loss-want.Loss) / want.Loss; d > lossTol {
						t.Errorf("step %d: loss %.6g, CPU %.6g (relative %.2g > %.2g)", s, got.Loss, want.Loss, d, lossTol)
					}
					if d := math.Abs(got.GradNorm-norm) / norm; d > 5*lossTol {
						t.Errorf("step %d: gradient norm %.6g, CPU %.6g", s, got.GradNorm, norm)
					}
				}
				t.Logf("%d steps in %v, %d clipped", steps, time.Since(start).Round(time.Second), clipped)
				final := make([]float32, n)
				if err := tr.ReadParams(final); err != nil {
					t.Fatal(err)
				}
				compareTrained(t, lay, final, ref, init, prec, steps*lr)
				st, err := tr.OptimState()
				if err != nil {
					t.Fatal(err)
				}
				if st.Steps != steps || len(st.Slots) != 2 {
					t.Errorf("optimizer state at step %d with %d slots, want %d and 2", st.Steps, len(st.Slots), steps)
				}
			})
		}
	}
}

// compareTrained compares final weights per view. A weight whose gradients
// are near rounding noise can take Adam steps of either sign (each up to
// lr), so low precision is held to a bound on the typical difference (the
// RMS over the view, relative to the RMS of the CPU's total update) and on
// the largest (the total distance Adam can move a weight, maxMove); fp32 is
// held to a tight bound everywhere. Under max pooling in low precision the
// embedding's RMS bound is doubled: where two steps' values of a feature
// lie within the rounding, the device and the CPU can pool different
// steps, and the gradient then reaches other tokens' rows, each of which
// an Adam step moves by up to lr (measured on the default model in bf16:
// 0.14, against 0.07 for the same model with mean pooling).
func compareTrained(t *testing.T, lay model.Layout, got, ref, init []float32, prec cuda.Precision, maxMove float64) {
	t.Helper()
	for _, v := range lay.Views() {
		rmsTol, maxTol := 1e-3, 1e-2*maxMove
		if prec != cuda.FP32 {
			rmsTol, maxTol = 0.1, maxMove
			if v.Name == "embed" && lay.Config().Pool == model.PoolMax {
				rmsTol = 0.2
			}
		}
		if os.Getenv(deviceEnv) != "" {
			rmsTol *= 2
		}
		g, r, i0 := v.Slice(got), v.Slice(ref), v.Slice(init)
		var diff2, move2, worst float64
		for i := range g {
			d := math.Abs(float64(g[i]) - float64(r[i]))
			diff2 += d * d
			m := float64(r[i]) - float64(i0[i])
			move2 += m * m
			worst = max(worst, d)
		}
		if move2 == 0 {
			if diff2 != 0 {
				t.Errorf("%s: the CPU left it unchanged, the device moved it (max %.3g)", v.Name, worst)
			}
			continue
		}
		rel := math.Sqrt(diff2 / move2)
		if rel > rmsTol || worst > maxTol {
			t.Errorf("%s: RMS difference %.3g of the update (limit %.3g), largest %.3g (limit %.3g)", v.Name, rel, rmsTol, worst, maxTol)
		} else {
			t.Logf("%s: RMS difference %.3g of the update, largest %.3g", v.Name, rel, worst)
		}
	}
}

// TestResidentStreams: a resident trainer over two streams (each computing
// half the batch, the gradients summed on the device, each marking its
// rows for the lazy update) takes the same step as over one, up to
// summation order, and still waits once per step.
func TestResidentStreams(t *testing.T) {
	for _, cfg := range []model.Config{
		{VocabSize: 40, EmbedDim: 8, Hidden: 6, Layers: 2, Pool: model.PoolMean},
		{VocabSize: 40, EmbedDim: 8, Hidden: 6, Layers: 1, Pool: model.PoolMean, Ngrams: 3, Buckets: 50},
	} {
		t.Run(fmt.Sprintf("ngrams%d", cfg.Ngrams), func(t *testing.T) {
			lay := model.NewLayout(cfg)
			init := initParams(cfg, 41)
			rng := rand.New(rand.NewPCG(8, 9))
			b, _ := testBatch(rng, 7, cfg.VocabSize, 6)
			oc := device.DefaultOptimConfig()
			oc.LazyEmbedding = true
			var weights [2][]float32
			for i, streams := range []int{1, 2} {
				dev := New(streams)
				tr, err := cuda.NewResident(dev, cfg, cuda.FP32, oc, 1, init)
				if err != nil {
					t.Fatal(err)
				}
				before := dev.Counters()
				st, err := tr.Step(b, 1e-2)
				if err != nil {
					t.Fatal(err)
				}
				if d := dev.Counters().Sub(before); d.Syncs != 1 || d.D2HBytes != 16 {
					t.Errorf("%d streams: %d waits, %d bytes down; want 1 and 16", streams, d.Syncs, d.D2HBytes)
				}
				if st.Rows != b.Size {
					t.Errorf("%d streams: %d rows, want %d", streams, st.Rows, b.Size)
				}
				weights[i] = make([]float32, lay.Size())
				if err := tr.ReadParams(weights[i]); err != nil {
					t.Fatal(err)
				}
				if err := tr.Close(); err != nil {
					t.Fatal(err)
				}
				if n := dev.Live(); n != 0 {
					t.Errorf("%d streams: %d device allocations left after Close", streams, n)
				}
				dev.Close()
			}
			validate(t, "weights, 2 streams vs 1", weights[1], weights[0], 1e-6, 1e-5)
		})
	}
}

// TestResidentForwarders: the resident trainer's forwarders score with the
// device's current weights (ignoring the params argument), and so agree
// with a host-gradient replica given the weights read back, in every
// precision, after WriteParams as after a step.
func TestResidentForwarders(t *testing.T) {
	cfg := model.Config{VocabSize: 30, EmbedDim: 6, Hidden: 5, Layers: 1, Pool: model.PoolLast}
	lay := model.NewLayout(cfg)
	init := make([]float32, lay.Size())
	model.InitParams(cfg, init, 43)
	rng := rand.New(rand.NewPCG(10, 11))
	b, _ := testBatch(rng, 5, cfg.VocabSize, 7)
	for _, prec := range []cuda.Precision{cuda.FP32, cuda.BF16, cuda.FP16} {
		t.Run(prec.String(), func(t *testing.T) {
			be := testBackend(t)
			tr, err := cuda.NewResident(be, cfg, prec, device.DefaultOptimConfig(), 0, init)
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Close()
			host, err := cuda.NewReplica(be, 0, cfg, prec)
			if err != nil {
				t.Fatal(err)
			}
			defer host.Close()
			check := func(when string) {
				w := make([]float32, lay.Size())
				if err := tr.ReadParams(w); err != nil {
					t.Fatal(err)
				}
				got, want := make([]float32, b.Size), make([]float32, b.Size)
				if err := tr.Forwarders()[0].Forward(nil, b, got); err != nil {
					t.Fatal(err)
				}
				if err := host.Forward(w, b, want); err != nil {
					t.Fatal(err)
				}
				validate(t, "logits "+when, got, want, 1e-6, 1e-6)
			}
			check("at the start")
			if _, err := tr.Step(b, 5e-2); err != nil {
				t.Fatal(err)
			}
			check("after a step")
			moved := append([]float32(nil), init...)
			for i := range moved {
				moved[i] *= 0.5
			}
			if err := tr.WriteParams(moved); err != nil {
				t.Fatal(err)
			}
			check("after WriteParams")
		})
	}
}
