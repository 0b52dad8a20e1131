package model

import "math"

// BCEWithLogits returns the summed binary cross-entropy of logits against
// labels (0 or 1) and the number of rows whose prediction (logit > 0 means
// 1) matches; dlogits, when not nil, receives the gradient of the summed
// loss with respect to each logit, sigmoid(z) - y. It uses the stable form
// max(z, 0) - z*y + log(1 + e^-|z|).
func BCEWithLogits(logits, labels, dlogits []float32) (loss float64, correct int) {
	for k, zf := range logits {
		z, y := float64(zf), float64(labels[k])
		loss += math.Max(z, 0) - z*y + math.Log1p(math.Exp(-math.Abs(z)))
		if (z > 0) == (y > 0.5) {
			correct++
		}
		if dlogits != nil {
			var sig float64
			if z >= 0 {
				sig = 1 / (1 + math.Exp(-z))
			} else {
				e := math.Exp(z)
				sig = e / (1 + e)
			}
			dlogits[k] = float32(sig - y)
		}
	}
	return loss, correct
}
