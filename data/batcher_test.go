package data

import (
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

// randomDataset builds n reviews with lengths 1..maxLen and random labels.
func randomDataset(n, maxLen int, seed uint64) *Dataset {
	r := rand.New(rand.NewPCG(seed, 1))
	d := &Dataset{Offsets: []int64{0}}
	for i := 0; i < n; i++ {
		l := 1 + r.IntN(maxLen)
		for k := 0; k < l; k++ {
			d.Tokens = append(d.Tokens, int32(2+r.IntN(100)))
		}
		d.Offsets = append(d.Offsets, int64(len(d.Tokens)))
		d.Labels = append(d.Labels, uint8(r.IntN(2)))
	}
	return d
}

func padRatio(bs []Batch) float64 {
	var real, total int
	for _, b := range bs {
		real += b.RealTokens()
		total += b.Size * b.MaxLen
	}
	return float64(total-real) / float64(total)
}

func TestBatcherCoverageAndDeterminism(t *testing.T) {
	d := randomDataset(1003, 60, 7)
	cases := []BatchOptions{
		{BatchSize: 32, Seed: 1, Shuffle: true, Bucket: true},
		{BatchSize: 32, Seed: 1, Shuffle: true},
		{BatchSize: 7, Seed: 2},
		{BatchSize: 64, MaxLen: 10, Seed: 3, Shuffle: true, Bucket: true},
	}
	for _, o := range cases {
		b := NewBatcher(d, o)
		for epoch := 0; epoch < 2; epoch++ {
			order := b.Order(epoch)
			if len(order) != b.NumBatches() {
				t.Fatalf("%+v: %d batches, want %d", o, len(order), b.NumBatches())
			}
			seen := make([]int, d.Len())
			for _, idx := range order {
				for _, i := range idx {
					seen[i]++
				}
			}
			for i, s := range seen {
				if s != 1 {
					t.Fatalf("%+v epoch %d: review %d seen %d times", o, epoch, i, s)
				}
			}
			if again := NewBatcher(d, o).Order(epoch); !reflect.DeepEqual(order, again) {
				t.Fatalf("%+v epoch %d: order not reproducible", o, epoch)
			}
		}
		if o.Shuffle && reflect.DeepEqual(b.Order(0), b.Order(1)) {
			t.Fatalf("%+v: epochs 0 and 1 have the same order", o)
		}
	}
	if reflect.DeepEqual(NewBatcher(d, cases[0]).Order(0), NewBatcher(d, BatchOptions{BatchSize: 32, Seed: 9, Shuffle: true, Bucket: true}).Order(0)) {
		t.Fatal("different seeds gave the same order")
	}
}

func TestBatcherBucketingCutsPadding(t *testing.T) {
	d := randomDataset(20000, 200, 3)
	random := padRatio(NewBatcher(d, BatchOptions{BatchSize: 64, Seed: 1, Shuffle: true}).Epoch(0))
	bucket := padRatio(NewBatcher(d, BatchOptions{BatchSize: 64, Seed: 1, Shuffle: true, Bucket: true}).Epoch(0))
	t.Logf("padding: random %.3f, bucketed %.3f", random, bucket)
	if bucket > random/10 || bucket > 0.05 {
		t.Fatalf("bucketed padding %.3f not far below random %.3f", bucket, random)
	}
}

func TestBatcherBatchesMatchDataset(t *testing.T) {
	d := randomDataset(300, 40, 5)
	b := NewBatcher(d, BatchOptions{BatchSize: 16, MaxLen: 12, Seed: 4, Shuffle: true, Bucket: true})
	order := b.Order(3)
	batches := b.Epoch(3)
	for k, bt := range batches {
		if bt.MaxLen > 12 {
			t.Fatalf("batch %d width %d exceeds max len", k, bt.MaxLen)
		}
		for r, i := range order[k] {
			want := d.Review(int(i))
			if len(want) > 12 {
				want = want[:12]
			}
			if !reflect.DeepEqual(bt.Row(r), want) || bt.Labels[r] != float32(d.Labels[i]) {
				t.Fatalf("batch %d row %d differs from review %d", k, r, i)
			}
			for c := int(bt.Lengths[r]); c < bt.MaxLen; c++ {
				if bt.Tokens[r*bt.MaxLen+c] != PadID {
					t.Fatalf("batch %d row %d not padded", k, r)
				}
			}
		}
	}
}

func TestSplitDevStratified(t *testing.T) {
	d := randomDataset(2000, 20, 11)
	train, dev := SplitDev(d, 0.1, 42)
	if train.Len()+dev.Len() != d.Len() {
		t.Fatalf("split lost reviews: %d + %d != %d", train.Len(), dev.Len(), d.Len())
	}
	var pos, devPos int
	for _, l := range d.Labels {
		pos += int(l)
	}
	for _, l := range dev.Labels {
		devPos += int(l)
	}
	wantDev := int(float64(pos)*0.1+0.5) + int(float64(d.Len()-pos)*0.1+0.5)
	if dev.Len() != wantDev || devPos != int(float64(pos)*0.1+0.5) {
		t.Fatalf("dev has %d reviews (%d positive), want %d (%d positive)", dev.Len(), devPos, wantDev, int(float64(pos)*0.1+0.5))
	}
	_, dev2 := SplitDev(d, 0.1, 42)
	if !reflect.DeepEqual(dev, dev2) {
		t.Fatal("SplitDev not deterministic")
	}
	_, dev3 := SplitDev(d, 0.1, 43)
	if reflect.DeepEqual(dev, dev3) {
		t.Fatal("seed ignored")
	}
	if _, empty := SplitDev(d, 0, 1); empty.Len() != 0 || len(empty.Offsets) != 1 {
		t.Fatal("fraction 0 must give an empty dev set")
	}
}

func TestBalance(t *testing.T) {
	cases := []struct {
		name     string
		labels   []uint8
		wantDrop int64
	}{
		{"majority positive", []uint8{1, 1, 1, 1, 0, 1, 0}, 3},
		{"majority negative", []uint8{0, 0, 0, 1}, 2},
		{"balanced", []uint8{0, 1, 1, 0}, 0},
		{"one class", []uint8{1, 1}, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := &Dataset{Offsets: []int64{0}}
			for i, l := range c.labels {
				d.Tokens = append(d.Tokens, int32(i+2))
				d.Offsets = append(d.Offsets, int64(len(d.Tokens)))
				d.Labels = append(d.Labels, l)
			}
			got, n := Balance(d, 1)
			if n != c.wantDrop || int64(got.Len()) != int64(d.Len())-n {
				t.Fatalf("dropped %d (kept %d), want %d", n, got.Len(), c.wantDrop)
			}
			var pos int
			for _, l := range got.Labels {
				pos += int(l)
			}
			if 2*pos != got.Len() {
				t.Fatalf("not balanced: %d positive of %d", pos, got.Len())
			}
			again, _ := Balance(d, 1)
			if !reflect.DeepEqual(got, again) {
				t.Fatal("not deterministic")
			}
		})
	}
}

// droppedPositions returns, per review index, the positions the batches of
// one epoch replaced by UnkID (the dataset has no UnkID of its own).
func droppedPositions(t *testing.T, d *Dataset, o BatchOptions, epoch int) map[int32][]int {
	t.Helper()
	b := NewBatcher(d, o)
	got := map[int32][]int{}
	for _, idx := range b.Order(epoch) {
		batch := b.Build(epoch, idx)
		for k, i := range idx {
			row, want := batch.Row(k), d.Review(int(i))
			if o.MaxLen > 0 && len(want) > o.MaxLen {
				want = want[:o.MaxLen]
			}
			if len(row) != len(want) {
				t.Fatalf("review %d: %d tokens in the batch, %d in the data", i, len(row), len(want))
			}
			for pos, id := range row {
				switch {
				case id == UnkID:
					got[i] = append(got[i], pos)
				case id != want[pos]:
					t.Fatalf("review %d position %d: token %d, the data has %d", i, pos, id, want[pos])
				}
			}
		}
	}
	return got
}

func TestWordDropout(t *testing.T) {
	d := randomDataset(2000, 80, 11)
	before := append([]int32(nil), d.Tokens...)
	total := 0
	for i := 0; i < d.Len(); i++ {
		total += len(d.Review(i))
	}
	base := BatchOptions{BatchSize: 32, Seed: 5, Shuffle: true, Bucket: true}
	for _, p := range []float64{0, 0.05, 0.2, 0.5} {
		o := base
		o.WordDropout = p
		dropped := droppedPositions(t, d, o, 0)
		n := 0
		for _, pos := range dropped {
			n += len(pos)
		}
		// Binomial: 5 standard deviations either side.
		mean := p * float64(total)
		sd := math.Sqrt(float64(total) * p * (1 - p))
		if math.Abs(float64(n)-mean) > 5*sd+0.5 {
			t.Errorf("p=%g: %d of %d tokens dropped, want about %.0f", p, n, total, mean)
		}
	}
	if !slices.Equal(d.Tokens, before) {
		t.Fatal("word dropout changed the dataset's own tokens")
	}

	// The masks depend on (seed, epoch, review, position) only: not on
	// the batch size, bucketing or order that put the review in a batch.
	o := base
	o.WordDropout = 0.2
	ref := droppedPositions(t, d, o, 3)
	for _, other := range []BatchOptions{
		{BatchSize: 7, Seed: 5, WordDropout: 0.2},
		{BatchSize: 128, Seed: 5, Shuffle: true, WordDropout: 0.2},
	} {
		if got := droppedPositions(t, d, other, 3); !reflect.DeepEqual(got, ref) {
			t.Errorf("%+v: dropped positions differ from the bucketed batches' of the same seed and epoch", other)
		}
	}
	if got := droppedPositions(t, d, o, 4); reflect.DeepEqual(got, ref) {
		t.Error("epochs 3 and 4 dropped the same positions")
	}
	o.Seed = 6
	if got := droppedPositions(t, d, o, 3); reflect.DeepEqual(got, ref) {
		t.Error("seeds 5 and 6 dropped the same positions")
	}
}

func TestDropThreshold(t *testing.T) {
	cases := []struct {
		p    float64
		want uint64
	}{
		{0, 0},
		{-1, 0},
		{0.5, 1 << 63},
		{0.25, 1 << 62},
		{1 - 0x1p-53, math.MaxUint64 - (1<<11 - 1)},
	}
	for _, c := range cases {
		if got := dropThreshold(c.p); got != c.want {
			t.Errorf("dropThreshold(%g) = %#x, want %#x", c.p, got, c.want)
		}
	}
}
