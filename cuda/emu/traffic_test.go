//go:build cgo

package emu

import (
	"testing"

	"trainer/cuda"
	"trainer/model"
	"trainer/train/device"
)

// TestGPUTraffic holds the default model's device-resident step (two
// directions, max pooling), alone and with the wide bigram path, and the
// earlier unidirectional default to the GPU step budget: per step the
// batch goes up and 16 bytes come back, one host wait, and the launch
// count does not grow with the sequence length. The n-gram path costs
// three launches (features, forward, backward) and no upload: the features
// are computed on the device. The reverse direction costs its own GEMMs
// and recurrences plus a few sequence copies, each one launch whatever T
// is.
func TestGPUTraffic(t *testing.T) {
	const rows = 128
	bigrams := DefaultModel()
	lstmOnly := bigrams
	lstmOnly.Ngrams, lstmOnly.Buckets = 0, 0
	for _, prec := range []string{"fp32", "bf16", "fp16"} {
		t.Run(prec, func(t *testing.T) {
			lstm, wide := testTraffic(t, lstmOnly, prec, rows), testTraffic(t, bigrams, prec, rows)
			if wide != lstm+3 {
				t.Errorf("%d launches with the bigram path, %d without; want 3 more", wide, lstm)
			}
			uni := testTraffic(t, UnidirectionalModel(), prec, rows)
			t.Logf("%d launches a step bidirectional with max pooling, %d unidirectional with mean pooling", lstm, uni)
		})
	}
}

// testTraffic checks the step budget of cfg at T=64 and T=256 and returns
// the launches of a step at T=64.
func testTraffic(t *testing.T, cfg model.Config, prec string, rows int) int64 {
	t.Helper()
	var launches [2]int64
	for i, T := range []int{64, 256} {
		tr, err := MeasureStep(cfg, prec, rows, T, true)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%+v", tr)
		if tr.Precision != prec {
			t.Errorf("ran %s, asked for %s", tr.Precision, prec)
		}
		if tr.H2DBytes > 2*tr.BatchBytes+64<<10 {
			t.Errorf("T=%d: %d bytes up, budget 2 x %d + 64 KiB", T, tr.H2DBytes, tr.BatchBytes)
		}
		if tr.D2HBytes > 64<<10 {
			t.Errorf("T=%d: %d bytes down, budget 64 KiB", T, tr.D2HBytes)
		}
		if tr.Syncs > 1 {
			t.Errorf("T=%d: %d host synchronisations, budget 1", T, tr.Syncs)
		}
		launches[i] = tr.Launches
	}
	if d := launches[1] - launches[0]; d > 8 {
		t.Errorf("launches grow with T: %d at T=64, %d at T=256", launches[0], launches[1])
	}
	return launches[0]
}

// TestOpenSetPrecision: "auto" runs bf16 on compute capability 8.0 and
// newer and fp32 before; the set carries what runs, never "auto".
func TestOpenSetPrecision(t *testing.T) {
	cfg := model.Config{VocabSize: 20, EmbedDim: 4, Hidden: 4, Layers: 1, Pool: model.PoolLast}
	cases := []struct {
		amp          string
		major, minor int
		want         string
		streams      int
		scalers      int
	}{
		{"auto", 9, 0, "bf16", 1, 0},
		{"auto", 8, 0, "bf16", 2, 0},
		{"auto", 7, 5, "fp32", 1, 0},
		{"fp16", 9, 0, "fp16", 2, 2},
		{"fp32", 9, 0, "fp32", 1, 0},
	}
	for _, c := range cases {
		dev := NewWith(c.streams, Options{Major: c.major, Minor: c.minor})
		set, err := cuda.OpenSet(dev, device.Spec{Kind: "cuda"}, device.Request{Model: cfg, Precision: c.amp, Streams: c.streams})
		if err != nil {
			t.Fatalf("%s on %d.%d: %v", c.amp, c.major, c.minor, err)
		}
		if set.Precision != c.want || len(set.Replicas) != c.streams || len(set.Eval) != c.streams || len(set.Scalers) != c.scalers {
			t.Errorf("%s on %d.%d: %s with %d replicas, %d forwarders, %d scalers; want %s, %d, %d, %d",
				c.amp, c.major, c.minor, set.Precision, len(set.Replicas), len(set.Eval), len(set.Scalers),
				c.want, c.streams, c.streams, c.scalers)
		}
		if set.Resident != nil {
			t.Errorf("%s: a resident step without initial weights", c.amp)
		}
		if err := set.Close(); err != nil {
			t.Fatal(err)
		}
	}
	dev := NewWith(1, Options{Major: 7, Minor: 5})
	if _, err := cuda.OpenSet(dev, device.Spec{Kind: "cuda"}, device.Request{Model: cfg, Precision: "bf16", Streams: 1}); err == nil {
		t.Error("bf16 accepted on compute capability 7.5")
	}
	dev.Close()
}
