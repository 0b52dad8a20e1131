//go:build !cuda

// The comparison runs in the CPU build only: gorgonia's own cuda tag would
// pull in cuDNN headers that the CUDA build does not need.

package model

import (
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
	"trainer/data"
)

// gorgoniaNet is the same network built symbolically in gorgonia, in
// float64, unrolled per row over that row's real tokens (so padding cannot
// enter it at all).
type gorgoniaNet struct {
	g      *G.ExprGraph
	params []*G.Node // one node per Layout view, in Layout order
	loss   *G.Node
}

func toTensor(v View, params []float32) tensor.Tensor {
	back := make([]float64, v.Len)
	for i, x := range v.Slice(params) {
		back[i] = float64(x)
	}
	shape := v.Shape
	if v.Name == "head.w" {
		shape = []int{v.Len}
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(back))
}

func must(n *G.Node, err error) *G.Node {
	if err != nil {
		panic(err)
	}
	return n
}

func buildGorgonia(c Config, params []float32, b data.Batch) *gorgoniaNet {
	g := G.NewGraph()
	lay := NewLayout(c)
	net := &gorgoniaNet{g: g}
	byName := map[string]*G.Node{}
	for _, v := range lay.Views() {
		t := toTensor(v, params)
		var n *G.Node
		switch {
		case v.Name == "head.b":
			n = G.NewScalar(g, tensor.Float64, G.WithName(v.Name), G.WithValue(t.Data().([]float64)[0]))
		case len(t.Shape()) == 1:
			n = G.NewVector(g, tensor.Float64, G.WithName(v.Name), G.WithShape(t.Shape()...), G.WithValue(t))
		default:
			n = G.NewMatrix(g, tensor.Float64, G.WithName(v.Name), G.WithShape(t.Shape()...), G.WithValue(t))
		}
		byName[v.Name] = n
		net.params = append(net.params, n)
	}
	h := c.Hidden
	var total *G.Node
	for r := 0; r < b.Size; r++ {
		row := b.Row(r)
		T := len(row)
		seq := make([]*G.Node, T)
		for s, id := range row {
			seq[s] = must(G.Slice(byName["embed"], G.S(int(id))))
		}
		var finals []*G.Node
		for l := 0; l < c.Layers; l++ {
			outs := make([][]*G.Node, c.Dirs())
			finals = finals[:0]
			for d := 0; d < c.Dirs(); d++ {
				p := "lstm." + string(rune('0'+l)) + "." + DirName(d) + "."
				wih, whh, bias := byName[p+"w_ih"], byName[p+"w_hh"], byName[p+"b"]
				outs[d] = make([]*G.Node, T)
				var hPrev, cPrev *G.Node
				for k := 0; k < T; k++ {
					s := k
					if d == 1 {
						s = T - 1 - k
					}
					a := must(G.Add(must(G.Mul(wih, seq[s])), bias))
					if hPrev != nil {
						a = must(G.Add(a, must(G.Mul(whh, hPrev))))
					}
					i := must(G.Sigmoid(must(G.Slice(a, G.S(0, h)))))
					f := must(G.Sigmoid(must(G.Slice(a, G.S(h, 2*h)))))
					gg := must(G.Tanh(must(G.Slice(a, G.S(2*h, 3*h)))))
					o := must(G.Sigmoid(must(G.Slice(a, G.S(3*h, 4*h)))))
					cNew := must(G.HadamardProd(i, gg))
					if cPrev != nil {
						cNew = must(G.Add(cNew, must(G.HadamardProd(f, cPrev))))
					}
					hNew := must(G.HadamardProd(o, must(G.Tanh(cNew))))
					outs[d][s] = hNew
					hPrev, cPrev = hNew, cNew
				}
				finals = append(finals, hPrev)
			}
			for s := range seq {
				if c.Dirs() == 1 {
					seq[s] = outs[0][s]
				} else {
					seq[s] = must(G.Concat(0, outs[0][s], outs[1][s]))
				}
			}
		}
		var pooled *G.Node
		switch c.pool() {
		case PoolLast:
			pooled = finals[0]
			if c.Dirs() == 2 {
				pooled = must(G.Concat(0, finals[0], finals[1]))
			}
		case PoolMean:
			pooled = seq[0]
			for _, x := range seq[1:] {
				pooled = must(G.Add(pooled, x))
			}
			pooled = must(G.Div(pooled, G.NewConstant(float64(T))))
		case PoolMax:
			// Stack the steps as rows of a [T, D] matrix and reduce over time.
			rows := make([]*G.Node, T)
			for s, x := range seq {
				rows[s] = must(G.Reshape(x, tensor.Shape{1, c.OutDim()}))
			}
			stacked := rows[0]
			if T > 1 {
				stacked = must(G.Concat(0, rows...))
			}
			pooled = must(G.Max(stacked, 0))
		}
		z := must(G.Add(must(G.Mul(byName["head.w"], pooled)), byName["head.b"]))
		y := G.NewConstant(float64(b.Labels[r]))
		lr := must(G.Sub(must(G.Softplus(z)), must(G.Mul(z, y))))
		if total == nil {
			total = lr
		} else {
			total = must(G.Add(total, lr))
		}
	}
	net.loss = total
	return net
}

// TestGradientsMatchGorgonia compares loss and every parameter gradient
// with gorgonia's symbolic differentiation of the same network in float64.
func TestGradientsMatchGorgonia(t *testing.T) {
	for _, c := range smallConfigs() {
		t.Run(configName(c), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(5, 8))
			b := randomBatch(rng, c.VocabSize, []int{3, 1, 4, 2}, 5, 0)
			params := initSmall(c, 13)
			ws := NewWorkspace(c)
			grad := make([]float32, len(params))
			loss, _ := ws.LossGrad(params, b, grad)

			net := buildGorgonia(c, params, b)
			if _, err := G.Grad(net.loss, net.params...); err != nil {
				t.Fatalf("gorgonia Grad: %v", err)
			}
			vm := G.NewTapeMachine(net.g, G.BindDualValues(net.params...))
			defer vm.Close()
			if err := vm.RunAll(); err != nil {
				t.Fatalf("gorgonia run: %v", err)
			}
			gl := net.loss.Value().Data().(float64)
			if math.Abs(gl-loss) > 1e-5*math.Abs(gl) {
				t.Errorf("loss %.9g, gorgonia %.9g", loss, gl)
			}
			worst := 0.0
			for k, v := range NewLayout(c).Views() {
				gv, err := net.params[k].Grad()
				if err != nil {
					t.Fatalf("%s: no gorgonia gradient: %v", v.Name, err)
				}
				var want []float64
				switch d := gv.Data().(type) {
				case []float64:
					want = d
				case float64:
					want = []float64{d}
				}
				got := v.Slice(grad)
				if len(want) != len(got) {
					t.Fatalf("%s: gorgonia gradient has %d values, want %d", v.Name, len(want), len(got))
				}
				for i := range got {
					diff := math.Abs(float64(got[i]) - want[i])
					if diff > 1e-5+1e-4*math.Abs(want[i]) {
						t.Errorf("%s[%d]: %.7g, gorgonia %.7g", v.Name, i, got[i], want[i])
					}
					worst = math.Max(worst, diff)
				}
			}
			t.Logf("loss %.7g (gorgonia %.7g), worst gradient difference %.3g", loss, gl, worst)
		})
	}
}
