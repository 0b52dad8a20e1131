package train

import (
	"math"
	"testing"
)

func TestNewMetricsHand(t *testing.T) {
	c := Confusion{TP: 3, FP: 1, TN: 2, FN: 4}
	m := NewMetrics(c, 5)
	want := Metrics{N: 10, Loss: 0.5, Accuracy: 0.5, Precision: 0.75, Recall: 3.0 / 7,
		F1: 6.0 / 11, BalancedAccuracy: 23.0 / 42, Confusion: c}
	got := []float64{m.Loss, m.Accuracy, m.Precision, m.Recall, m.F1, m.BalancedAccuracy}
	exp := []float64{want.Loss, want.Accuracy, want.Precision, want.Recall, want.F1, want.BalancedAccuracy}
	if m.N != 10 {
		t.Fatalf("N = %d", m.N)
	}
	for i := range got {
		if math.Abs(got[i]-exp[i]) > 1e-12 {
			t.Fatalf("metric %d = %g, want %g (%+v)", i, got[i], exp[i], m)
		}
	}
}

func TestMetricsDegenerate(t *testing.T) {
	cases := []struct {
		name string
		c    Confusion
		acc  float64
		bal  float64
		f1   float64
	}{
		{"empty", Confusion{}, 0, 0, 0},
		{"all negative, all right", Confusion{TN: 4}, 1, 1, 0},
		{"only positives, half found", Confusion{TP: 1, FN: 1}, 0.5, 0.5, 2.0 / 3},
		{"never predicts positive", Confusion{TN: 3, FN: 1}, 0.75, 0.5, 0},
	}
	for _, c := range cases {
		m := NewMetrics(c.c, 0)
		if m.Accuracy != c.acc || math.Abs(m.BalancedAccuracy-c.bal) > 1e-12 || math.Abs(m.F1-c.f1) > 1e-12 {
			t.Errorf("%s: %+v", c.name, m)
		}
	}
}

func TestTallyLogits(t *testing.T) {
	var a, b Tally
	a.Add([]float32{2, -1}, []float32{1, 1})
	b.Add([]float32{0.5, -3}, []float32{0, 0})
	a.Merge(b)
	m := a.Metrics()
	wantLoss := (math.Log1p(math.Exp(-2)) + math.Log1p(math.Exp(1)) + math.Log1p(math.Exp(0.5)) + math.Log1p(math.Exp(-3))) / 4
	if m.Confusion != (Confusion{TP: 1, FN: 1, FP: 1, TN: 1}) {
		t.Fatalf("confusion %+v", m.Confusion)
	}
	if math.Abs(m.Loss-wantLoss) > 1e-12 || math.Abs(m.Loss-0.6157135) > 1e-6 {
		t.Fatalf("loss %g, want %g", m.Loss, wantLoss)
	}
}

func TestBCEAndSigmoidExtremes(t *testing.T) {
	if v := BCEWithLogits(1000, 0); math.Abs(v-1000) > 1e-9 {
		t.Errorf("BCE(1000,0) = %g", v)
	}
	if v := BCEWithLogits(-1000, 0); v != 0 {
		t.Errorf("BCE(-1000,0) = %g", v)
	}
	if s := Sigmoid(-1000); s != 0 || math.IsNaN(s) {
		t.Errorf("Sigmoid(-1000) = %g", s)
	}
	if s := Sigmoid(0); s != 0.5 {
		t.Errorf("Sigmoid(0) = %g", s)
	}
}
