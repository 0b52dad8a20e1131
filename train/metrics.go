package train

import "math"

// Confusion counts binary predictions against labels (positive = 1).
type Confusion struct {
	TP int `json:"tp"`
	FP int `json:"fp"`
	TN int `json:"tn"`
	FN int `json:"fn"`
}

// Add counts one prediction.
func (c *Confusion) Add(predPositive, labelPositive bool) {
	switch {
	case predPositive && labelPositive:
		c.TP++
	case predPositive:
		c.FP++
	case labelPositive:
		c.FN++
	default:
		c.TN++
	}
}

// Merge adds another confusion matrix into c.
func (c *Confusion) Merge(o Confusion) {
	c.TP += o.TP
	c.FP += o.FP
	c.TN += o.TN
	c.FN += o.FN
}

// N is the number of predictions counted.
func (c Confusion) N() int { return c.TP + c.FP + c.TN + c.FN }

// Metrics is the evaluation of a model on a labelled set.
type Metrics struct {
	N                int       `json:"n"`
	Loss             float64   `json:"loss"` // mean binary cross-entropy
	Accuracy         float64   `json:"accuracy"`
	Precision        float64   `json:"precision"`
	Recall           float64   `json:"recall"`
	F1               float64   `json:"f1"`
	BalancedAccuracy float64   `json:"balanced_accuracy"`
	Confusion        Confusion `json:"confusion"`
}

// ratio is a/b, or 0 when b is 0, which is the convention of scikit-learn's
// zero_division=0 and keeps JSON free of NaN.
func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// NewMetrics derives every metric from a confusion matrix and a loss sum.
func NewMetrics(c Confusion, lossSum float64) Metrics {
	m := Metrics{N: c.N(), Confusion: c}
	if m.N == 0 {
		return m
	}
	m.Loss = lossSum / float64(m.N)
	m.Accuracy = ratio(c.TP+c.TN, m.N)
	m.Precision = ratio(c.TP, c.TP+c.FP)
	m.Recall = ratio(c.TP, c.TP+c.FN)
	if m.Precision+m.Recall > 0 {
		m.F1 = 2 * m.Precision * m.Recall / (m.Precision + m.Recall)
	}
	specificity := ratio(c.TN, c.TN+c.FP)
	switch {
	case c.TP+c.FN == 0:
		m.BalancedAccuracy = specificity
	case c.TN+c.FP == 0:
		m.BalancedAccuracy = m.Recall
	default:
		m.BalancedAccuracy = (m.Recall + specificity) / 2
	}
	return m
}

// Tally accumulates loss and confusion over logits, one batch at a time.
type Tally struct {
	Confusion Confusion
	LossSum   float64
}

// Add scores logits against 0/1 labels: a review is predicted positive when
// its logit is > 0 (probability > 0.5).
func (t *Tally) Add(logits, labels []float32) {
	for i, z := range logits {
		y := labels[i]
		t.LossSum += BCEWithLogits(float64(z), float64(y))
		t.Confusion.Add(z > 0, y > 0.5)
	}
}

// Merge adds another tally into t.
func (t *Tally) Merge(o Tally) {
	t.Confusion.Merge(o.Confusion)
	t.LossSum += o.LossSum
}

// Metrics derives the metrics of everything tallied.
func (t Tally) Metrics() Metrics { return NewMetrics(t.Confusion, t.LossSum) }

// BCEWithLogits is the binary cross-entropy of label y given logit z, in the
// overflow-free form max(z,0) - z*y + log(1+exp(-|z|)).
func BCEWithLogits(z, y float64) float64 {
	return math.Max(z, 0) - z*y + math.Log1p(math.Exp(-math.Abs(z)))
}

// Sigmoid is the probability of the positive class for logit z.
func Sigmoid(z float64) float64 {
	if z >= 0 {
		return 1 / (1 + math.Exp(-z))
	}
	e := math.Exp(z)
	return e / (1 + e)
}
