package train

import (
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"trainer/data"
	"trainer/model"
	"trainer/train/device"
)

func TestSupportSet(t *testing.T) {
	rows := func(r ...[]int32) data.Batch { return data.MakeBatch(r, make([]uint8, len(r)), 0) }
	cases := []struct {
		name string
		sp   RowSparsity
		b    data.Batch
		n    int
		want []span
	}{
		{"no sparsity: everything", RowSparsity{}, rows([]int32{1}), 10, []span{{0, 10}}},
		{"table at the start, bias after", RowSparsity{Offset: 0, Rows: 5, Dim: 2}, rows([]int32{3, 1}, []int32{3}), 12,
			[]span{{2, 4}, {6, 8}, {10, 12}}},
		{"adjacent rows merge with the dense part", RowSparsity{Offset: 4, Rows: 4, Dim: 3}, rows([]int32{0, 1}, []int32{3}), 20,
			[]span{{0, 10}, {13, 20}}},
		{"every row", RowSparsity{Offset: 0, Rows: 3, Dim: 1}, rows([]int32{2, 0, 1}), 3, []span{{0, 3}}},
		{"padding is not a token", RowSparsity{Offset: 0, Rows: 6, Dim: 1}, rows([]int32{5}, []int32{4, 4, 4}), 6, []span{{4, 6}}},
		// Vocabulary 5, 3 buckets: the bigrams (3, 1) and (1, 3) both hash
		// to wide row 6.
		// Embedding [0, 5), a dense value at 5, the wide rows [6, 14), a
		// dense value after.
		{"wide rows of unigrams and bigrams", RowSparsity{Offset: 0, Rows: 5, Dim: 1, WideOffset: 6, Wide: model.Config{VocabSize: 5, Ngrams: 2, Buckets: 3}},
			rows([]int32{3, 1}), 15, []span{{1, 2}, {3, 4}, {5, 6}, {7, 8}, {9, 10}, {12, 13}, {14, 15}}},
		{"a repeated n-gram is one row", RowSparsity{Offset: 0, Rows: 5, Dim: 1, WideOffset: 6, Wide: model.Config{VocabSize: 5, Ngrams: 2, Buckets: 3}},
			rows([]int32{1, 3, 1}, []int32{3, 1}), 14, []span{{1, 2}, {3, 4}, {5, 6}, {7, 8}, {9, 10}, {12, 13}}},
		{"unigrams only", RowSparsity{Offset: 2, Rows: 5, Dim: 2, WideOffset: 12, Wide: model.Config{VocabSize: 5, Ngrams: 1}},
			rows([]int32{4}), 17, []span{{0, 2}, {10, 12}, {16, 17}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var s Support
			s.Set(RowSparsity{}, c.b, c.n) // reuse must not leak the old ranges
			s.Set(c.sp, c.b, c.n)
			if !reflect.DeepEqual(s.spans, c.want) {
				t.Fatalf("spans %v, want %v", s.spans, c.want)
			}
			size := 0
			for _, r := range c.want {
				size += r.hi - r.lo
			}
			if s.Len() != size {
				t.Fatalf("Len %d, want %d", s.Len(), size)
			}
		})
	}
}

func TestSupportSetRejectsForeignToken(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("token 7 of a 5-row table: no panic")
		}
	}()
	var s Support
	s.Set(RowSparsity{Rows: 5, Dim: 1}, data.MakeBatch([][]int32{{7}}, []uint8{0}, 0), 6)
}

// TestSupportParts: the workers' shares cover the support exactly once, in
// order, and cut it only at cache-line multiples of the covered elements.
func TestSupportParts(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 9))
	for trial := 0; trial < 50; trial++ {
		vocab, dim := 1+rng.IntN(60), 1+rng.IntN(40)
		sp := RowSparsity{Offset: rng.IntN(30), Rows: vocab, Dim: dim}
		n := sp.Offset + vocab*dim + rng.IntN(30)
		var toks [][]int32
		for r := 0; r < 1+rng.IntN(5); r++ {
			row := make([]int32, 1+rng.IntN(8))
			for i := range row {
				row[i] = int32(rng.IntN(vocab))
			}
			toks = append(toks, row)
		}
		var s Support
		s.Set(sp, data.MakeBatch(toks, make([]uint8, len(toks)), 0), n)
		var flat []int
		for _, r := range s.spans {
			for j := r.lo; j < r.hi; j++ {
				flat = append(flat, j)
			}
		}
		for w := 1; w <= 5; w++ {
			var got []int
			for i := 0; i < w; i++ {
				start := len(got)
				for _, r := range s.part(i, w, nil) {
					if r.hi <= r.lo {
						t.Fatalf("trial %d: empty range %v", trial, r)
					}
					for j := r.lo; j < r.hi; j++ {
						got = append(got, j)
					}
				}
				if start%reduceAlign != 0 && len(got) > start {
					t.Fatalf("trial %d, %d workers: share %d starts at covered element %d", trial, w, i, start)
				}
			}
			if !reflect.DeepEqual(got, flat) {
				t.Fatalf("trial %d, %d workers: shares cover %v, support is %v", trial, w, got, flat)
			}
		}
	}
}

func TestSupportGatherScatterAdd(t *testing.T) {
	var s Support
	s.Set(RowSparsity{Offset: 1, Rows: 4, Dim: 2}, data.MakeBatch([][]int32{{2}, {0}}, []uint8{0, 1}, 0), 11)
	buf := []float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}
	packed := s.Gather(nil, buf)
	if want := []float32{1, 2, 3, 6, 7, 10, 11}; !reflect.DeepEqual(packed, want) {
		t.Fatalf("Gather %v, want %v", packed, want)
	}
	s.ScatterAdd(buf, packed)
	if want := []float32{2, 4, 6, 4, 5, 12, 14, 8, 9, 20, 22}; !reflect.DeepEqual(buf, want) {
		t.Fatalf("ScatterAdd left %v, want %v", buf, want)
	}
}

// runSparse trains the bag-of-words stand-in with plain Adam (no weight
// decay, so that untouched rows stay put under a dense step from zero
// moments) and, with sparse, the engine told which params are its token
// table.
func runSparse(t *testing.T, workers int, batches []data.Batch, clip float64, sparse, lazy bool) ([]float32, device.OptimState) {
	t.Helper()
	return runBow(t, bowRun{workers: workers, clip: clip, optim: device.DefaultOptimConfig(), sparse: sparse, lazy: lazy}, batches)
}

// TestEngineSparseDenseUpdate: summing only the support changes nothing
// when the update stays dense.
func TestEngineSparseDenseUpdate(t *testing.T) {
	d := synthDataset(40, 40, 3)
	batches := []data.Batch{batchOf(d, 0, 7), batchOf(d, 7, 18), batchOf(d, 18, 20), batchOf(d, 20, 40)}
	for _, clip := range []float64{0, 0.05} {
		ref, _ := runSparse(t, 1, batches, clip, false, false)
		for _, w := range []int{1, 3} {
			got, _ := runSparse(t, w, batches, clip, true, false)
			for i := range ref {
				if d := math.Abs(float64(got[i] - ref[i])); d > 1e-6+1e-5*math.Abs(float64(ref[i])) {
					t.Fatalf("clip %g, %d workers: param %d = %.9g, without sparsity %.9g", clip, w, i, got[i], ref[i])
				}
			}
		}
	}
}

// TestEngineLazyRows: a lazy step leaves the rows of absent tokens, and
// their moments, exactly as they were; the first step, from zero moments,
// is the dense one; and workers agree.
func TestEngineLazyRows(t *testing.T) {
	d := synthDataset(40, 40, 3)
	first := batchOf(d, 0, 7)
	second := batchOf(d, 7, 12)
	inFirst, inSecond := map[int32]bool{}, map[int32]bool{}
	for r := 0; r < first.Size; r++ {
		for _, id := range first.Row(r) {
			inFirst[id] = true
		}
	}
	for r := 0; r < second.Size; r++ {
		for _, id := range second.Row(r) {
			inSecond[id] = true
		}
	}
	init := newBowParams(40)

	dense1, _ := runSparse(t, 1, []data.Batch{first}, 0, false, false)
	lazy1, _ := runSparse(t, 1, []data.Batch{first}, 0, true, true)
	for i := range dense1 {
		if lazy1[i] != dense1[i] {
			t.Fatalf("first step: param %d lazy %g, dense %g", i, lazy1[i], dense1[i])
		}
	}

	lazy2, st := runSparse(t, 1, []data.Batch{first, second}, 0, true, true)
	dense2, _ := runSparse(t, 1, []data.Batch{first, second}, 0, false, false)
	moved := 0
	for id := int32(0); id < 40; id++ {
		switch {
		case !inFirst[id] && !inSecond[id]:
			if lazy2[id] != init[id] || st.Slots[0][id] != 0 || st.Slots[1][id] != 0 {
				t.Errorf("token %d in neither batch: param %g (was %g), moments %g %g", id, lazy2[id], init[id], st.Slots[0][id], st.Slots[1][id])
			}
		case inFirst[id] && !inSecond[id]:
			if lazy2[id] != lazy1[id] {
				t.Errorf("token %d absent from the second batch: param moved %g -> %g", id, lazy1[id], lazy2[id])
			}
			if dense2[id] != lazy1[id] {
				moved++
			}
		}
	}
	if moved == 0 {
		t.Fatal("the dense update moved no row absent from the second batch: the test shows nothing")
	}
	if lazy2[40] == lazy1[40] {
		t.Error("the bias, outside the table, was not updated")
	}

	for _, w := range []int{2, 5} {
		got, _ := runSparse(t, w, []data.Batch{first, second}, 0.05, true, true)
		ref, _ := runSparse(t, 1, []data.Batch{first, second}, 0.05, true, true)
		for i := range ref {
			if d := math.Abs(float64(got[i] - ref[i])); d > 1e-6+1e-5*math.Abs(float64(ref[i])) {
				t.Fatalf("lazy, %d workers: param %d = %.9g, 1 worker %.9g", w, i, got[i], ref[i])
			}
		}
	}
}

func TestSetSparsityRejectsBadBlock(t *testing.T) {
	params := newBowParams(10)
	opt, _ := NewOptimizer(device.DefaultOptimConfig(), len(params))
	e, err := NewEngine(params, []device.Replica{bowReplica{vocab: 10}}, opt, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if err := e.SetSparsity(RowSparsity{Offset: 5, Rows: 10, Dim: 1}, true); err == nil {
		t.Fatal("a 10-row table at offset 5 of 11 parameters was accepted")
	}
	wide := model.Config{VocabSize: 3, Ngrams: 2, Buckets: 2} // 5 wide rows
	for _, sp := range []RowSparsity{
		{Offset: 0, Rows: 3, Dim: 1, WideOffset: 2, Wide: wide},                                              // overlaps the embedding
		{Offset: 0, Rows: 3, Dim: 1, WideOffset: 7, Wide: wide},                                              // runs past the end
		{Offset: 0, Rows: 4, Dim: 1, WideOffset: 4, Wide: model.Config{VocabSize: 3, Ngrams: 2, Buckets: 2}}, // another vocabulary
	} {
		if err := e.SetSparsity(sp, true); err == nil {
			t.Errorf("wide block %+v in 11 parameters was accepted", sp)
		}
	}
	if err := e.SetSparsity(RowSparsity{Offset: 0, Rows: 3, Dim: 1, WideOffset: 6, Wide: wide}, true); err != nil {
		t.Errorf("a wide block that fits was refused: %v", err)
	}
}

// TestHybridSparseSteps: over steps whose batches touch different rows,
// a hybrid scheduler that clears and sums only the support still hands
// back exactly the gradient of one replica on the whole batch: nothing
// stale survives in its buffers, whichever replica took which rows.
func TestHybridSparseSteps(t *testing.T) {
	const vocab = 40
	d := synthDataset(60, vocab, 7)
	params := newBowParams(vocab)
	reps := []device.Replica{bowReplica{vocab: vocab}, bowReplica{vocab: vocab}, bowReplica{vocab: vocab}}
	h, err := NewHybrid(reps, HybridOptions{Prior: []float64{1, 1000, 1000}, Sparsity: RowSparsity{Rows: vocab, Dim: 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	for k, rng := range [][2]int{{0, 12}, {12, 15}, {15, 40}, {40, 41}, {41, 60}} {
		b := batchOf(d, rng[0], rng[1])
		want := make([]float32, len(params))
		if _, err := (bowReplica{vocab: vocab}).Compute(params, b, want); err != nil {
			t.Fatal(err)
		}
		got := make([]float32, len(params))
		if _, _, err := h.Step(params, b, got); err != nil {
			t.Fatal(err)
		}
		for j := range want {
			if d := math.Abs(float64(got[j] - want[j])); d > 1e-6 {
				t.Fatalf("step %d: grad[%d] = %g, one replica %g (split %v)", k, j, got[j], want[j], hybridRows(h.Last()))
			}
		}
	}
}

// TestStepSupportsNext: each step's previous support is exactly the
// support the step before made current, so a buffer written then is
// cleared whole, and nothing of an older step leaks in.
func TestStepSupportsNext(t *testing.T) {
	rows := func(r ...[]int32) data.Batch { return data.MakeBatch(r, make([]uint8, len(r)), 0) }
	sp := RowSparsity{Offset: 0, Rows: 6, Dim: 1}
	steps := []struct {
		b    data.Batch
		want []span // the step's support
	}{
		{rows([]int32{1}), []span{{1, 2}, {6, 8}}},
		{rows([]int32{4, 5}), []span{{4, 8}}},
		{rows([]int32{0}), []span{{0, 1}, {6, 8}}},
	}
	var s StepSupports
	buf := make([]float32, 8)
	var before []span
	for i, st := range steps {
		cur, prev := s.Next(sp, st.b, len(buf))
		if i > 0 && !reflect.DeepEqual(prev.spans, before) {
			t.Fatalf("step %d: previous support %v, want %v", i, prev.spans, before)
		}
		if !reflect.DeepEqual(cur.spans, st.want) {
			t.Fatalf("step %d: support %v, want %v", i, cur.spans, st.want)
		}
		prev.Clear(buf)
		for j := range buf {
			if buf[j] != 0 {
				t.Fatalf("step %d: buf[%d] = %v after clearing the previous support", i, j, buf[j])
			}
		}
		for _, r := range cur.spans { // what a replica writes
			for j := r.lo; j < r.hi; j++ {
				buf[j] = 1
			}
		}
		before = append([]span(nil), cur.spans...)
	}
}
