package train

import "trainer/data"

// Result is what a replica reports for one micro-batch.
type Result struct {
	Loss    float64 // sum of per-review losses (not the mean)
	Correct int     // reviews whose predicted label equals the true one
	Rows    int     // reviews in the micro-batch
	Tokens  int     // real (non-padding) tokens in the micro-batch
}

// Add accumulates another result into r.
func (r *Result) Add(o Result) {
	r.Loss += o.Loss
	r.Correct += o.Correct
	r.Rows += o.Rows
	r.Tokens += o.Tokens
}

// Replica is one device's worker in data-parallel training: a CPU goroutine,
// a GPU stream or a remote rank. The engine does not care which.
//
// Compute adds to grad (laid out like params) the gradient of the summed,
// unnormalised loss over the micro-batch b, so that summing the grads of all
// replicas and dividing by the global batch size gives the mean gradient.
// An empty micro-batch (Size 0) returns a zero Result and leaves grad alone.
type Replica interface {
	Name() string
	Compute(params []float32, b data.Batch, grad []float32) (Result, error)
}
