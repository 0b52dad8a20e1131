package train

import (
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"testing"

	"trainer/data"
	"trainer/train/device"
)

// bowRun is one training run of the bag-of-words stand-in (see runBow).
type bowRun struct {
	workers      int
	clip         float64
	optim        device.OptimConfig // zero: AdamW with weight decay 0.01
	sparse, lazy bool               // tell the engine the token table (see Engine.SetSparsity)
	freeze       bool               // and leave it out of the step (see Engine.FreezeRows)
}

// runBow trains the bag-of-words stand-in on batches at rate 0.05 and
// returns its weights and optimizer state.
func runBow(t *testing.T, r bowRun, batches []data.Batch) ([]float32, device.OptimState) {
	t.Helper()
	const vocab = 40
	params := newBowParams(vocab)
	reps := make([]device.Replica, r.workers)
	for i := range reps {
		reps[i] = bowReplica{vocab: vocab}
	}
	if r.optim.Kind == "" {
		r.optim = device.OptimConfig{Kind: "adamw", Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01}
	}
	opt, err := NewOptimizer(r.optim, len(params))
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEngine(params, reps, opt, r.clip)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if r.sparse {
		if err := e.SetSparsity(RowSparsity{Offset: 0, Rows: vocab, Dim: 1}, r.lazy); err != nil {
			t.Fatal(err)
		}
	}
	if r.freeze {
		if err := e.FreezeRows(); err != nil {
			t.Fatal(err)
		}
	}
	for _, b := range batches {
		st, err := e.Step(b, 0.05)
		if err != nil {
			t.Fatal(err)
		}
		if st.Rows != b.Size || st.Tokens != b.RealTokens() {
			t.Fatalf("step saw %d rows %d tokens, batch has %d, %d", st.Rows, st.Tokens, b.Size, b.RealTokens())
		}
	}
	return params, opt.State()
}

// runSteps is runBow with the default optimizer, returning the weights.
func runSteps(t *testing.T, workers int, batches []data.Batch, clip float64) []float32 {
	t.Helper()
	p, _ := runBow(t, bowRun{workers: workers, clip: clip}, batches)
	return p
}

// TestEngineWorkersAgree is the DDP contract: W replicas on a global batch
// give the update of one replica on it, up to summation order.
func TestEngineWorkersAgree(t *testing.T) {
	d := synthDataset(40, 40, 3)
	batches := []data.Batch{batchOf(d, 0, 7), batchOf(d, 7, 18), batchOf(d, 18, 20), batchOf(d, 20, 40)}
	for _, clip := range []float64{0, 0.05} {
		ref := runSteps(t, 1, batches, clip)
		for _, w := range []int{2, 3, 5} { // 5 > 2 rows: an empty shard
			got := runSteps(t, w, batches, clip)
			for i := range ref {
				if d := math.Abs(float64(got[i] - ref[i])); d > 1e-6+1e-5*math.Abs(float64(ref[i])) {
					t.Fatalf("clip %g, %d workers: param %d = %.9g, 1 worker %.9g", clip, w, i, got[i], ref[i])
				}
			}
		}
	}
}

func TestEngineDeterministic(t *testing.T) {
	d := synthDataset(30, 40, 5)
	batches := []data.Batch{batchOf(d, 0, 13), batchOf(d, 13, 30)}
	a := runSteps(t, 2, batches, 0.1)
	b := runSteps(t, 2, batches, 0.1)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("two identical runs differ at %d: %v vs %v", i, a[i], b[i])
		}
	}
}

func TestEngineNaNKeepsWeights(t *testing.T) {
	const vocab = 20
	params := newBowParams(vocab)
	var calls atomic.Int64
	opt, _ := NewOptimizer(device.DefaultOptimConfig(), len(params))
	e, err := NewEngine(params, []device.Replica{bowReplica{vocab: vocab, nanAt: 2, calls: &calls}}, opt, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	b := batchOf(synthDataset(8, vocab, 1), 0, 8)
	if _, err := e.Step(b, 0.1); err != nil {
		t.Fatal(err)
	}
	before := append([]float32(nil), params...)
	steps := opt.State().Steps
	if _, err := e.Step(b, 0.1); !errors.Is(err, device.ErrNonFinite) {
		t.Fatalf("NaN step returned %v", err)
	}
	for i := range params {
		if params[i] != before[i] {
			t.Fatal("NaN step changed the weights")
		}
	}
	if opt.State().Steps != steps {
		t.Fatal("NaN step advanced the optimizer")
	}
}

func TestReduceSliceCovers(t *testing.T) {
	for _, n := range []int{1, 15, 16, 17, 1000, 4099} {
		for _, w := range []int{1, 2, 3, 7} {
			next := 0
			for i := 0; i < w; i++ {
				lo, hi := reduceSlice(n, i, w)
				if lo != next || hi < lo || (lo%reduceAlign != 0 && lo != n) {
					t.Fatalf("n %d w %d worker %d: [%d,%d) after %d", n, w, i, lo, hi, next)
				}
				next = hi
			}
			if next != n {
				t.Fatalf("n %d w %d: covers %d", n, w, next)
			}
		}
	}
}

func TestReduceRange(t *testing.T) {
	bufs := [][]float32{{1, 2, 3, 4, 5}, {10, 20, 30, 40, 50}, {100, 200, 300, 400, 500}}
	sq := reduceRange(bufs, 0, 5, 0.5)
	want := []float32{55.5, 111, 166.5, 222, 277.5}
	var wsq float64
	for i, w := range want {
		if bufs[0][i] != w {
			t.Fatalf("reduced %v, want %v", bufs[0], want)
		}
		wsq += float64(w * w)
	}
	if math.Abs(sq-wsq) > 1e-9 {
		t.Fatalf("sum of squares %g, want %g", sq, wsq)
	}
}

// A range over several of reduceRange's chunks, starting and ending inside
// one, is summed and scaled everywhere in it and nowhere outside it.
func TestReduceRangeChunks(t *testing.T) {
	n := 2*reduceChunk + 37
	for _, r := range []struct{ lo, hi int }{{0, n}, {5, n - 3}, {reduceChunk - 1, reduceChunk + 1}, {7, 7}} {
		bufs := [][]float32{make([]float32, n), make([]float32, n)}
		for i := range n {
			bufs[0][i], bufs[1][i] = float32(i%13), float32(i%7)
		}
		sq := reduceRange(bufs, r.lo, r.hi, 0.25)
		var wsq float64
		for i := range n {
			want := float32(i % 13)
			if i >= r.lo && i < r.hi {
				want = (float32(i%13) + float32(i%7)) * 0.25
				wsq += float64(want) * float64(want)
			}
			if bufs[0][i] != want {
				t.Fatalf("range [%d, %d): element %d is %v, want %v", r.lo, r.hi, i, bufs[0][i], want)
			}
		}
		if math.Abs(sq-wsq) > 1e-9*max(1, wsq) {
			t.Fatalf("range [%d, %d): sum of squares %g, want %g", r.lo, r.hi, sq, wsq)
		}
	}
}

func TestEvaluateParallel(t *testing.T) {
	const vocab = 30
	d := synthDataset(50, vocab, 9)
	params := newBowParams(vocab)
	batches := []data.Batch{batchOf(d, 0, 17), batchOf(d, 17, 33), batchOf(d, 33, 50)}
	one, err := Evaluate([]device.Forwarder{bowReplica{vocab: vocab}}, params, batches)
	if err != nil {
		t.Fatal(err)
	}
	three, err := Evaluate([]device.Forwarder{bowReplica{vocab: vocab}, bowReplica{vocab: vocab}, bowReplica{vocab: vocab}}, params, batches)
	if err != nil {
		t.Fatal(err)
	}
	if one != three || one.N != 50 {
		t.Fatalf("1 worker %+v, 3 workers %+v", one, three)
	}
}

func TestBalancedBounds(t *testing.T) {
	mk := func(lengths ...int32) data.Batch {
		return data.Batch{Lengths: lengths, Size: len(lengths)}
	}
	cases := []struct {
		b    data.Batch
		n    int
		want []int
	}{
		{mk(1, 1, 1, 1), 2, []int{0, 2, 4}},
		{mk(1, 1, 1, 1, 1, 1, 10, 10), 2, []int{0, 7, 8}}, // 16 of 26 vs 10: the closest cut
		{mk(2, 2, 2, 2, 8), 2, []int{0, 4, 5}},
		{mk(5, 5, 5), 3, []int{0, 1, 2, 3}},
		{mk(3), 3, []int{0, 0, 1, 1}}, // one row: some replicas get none
		{mk(), 2, []int{0, 0, 0}},
	}
	for _, c := range cases {
		got := BalancedBounds(c.b, c.n)
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("lengths %v over %d: %v, want %v", c.b.Lengths, c.n, got, c.want)
		}
	}
}
