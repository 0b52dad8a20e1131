package data

import (
	"math/rand/v2"
	"reflect"
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
