package train

import (
	"fmt"

	"trainer/data"
	"trainer/model"
)

// CPUReplica is one CPU worker: a model workspace of its own, used from one
// goroutine at a time. It implements Replica and Forwarder.
type CPUReplica struct {
	name string
	ws   *model.Workspace
}

// NewCPUReplica returns replica number i for models of configuration c.
func NewCPUReplica(c model.Config, i int) (*CPUReplica, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &CPUReplica{name: fmt.Sprintf("cpu%d", i), ws: model.NewWorkspace(c)}, nil
}

// NewCPUReplicas returns n CPU replicas and limits BLAS to one thread, so
// that n workers use n cores rather than n times the BLAS pool.
func NewCPUReplicas(c model.Config, n int) ([]*CPUReplica, error) {
	if n < 1 {
		return nil, fmt.Errorf("cpu workers must be >= 1, got %d", n)
	}
	model.SetBLASThreads(1)
	out := make([]*CPUReplica, n)
	for i := range out {
		r, err := NewCPUReplica(c, i)
		if err != nil {
			return nil, err
		}
		out[i] = r
	}
	return out, nil
}

// Name identifies the replica in logs and schedules.
func (r *CPUReplica) Name() string { return r.name }

// Compute adds the gradient of b's summed loss to grad.
func (r *CPUReplica) Compute(params []float32, b data.Batch, grad []float32) (res Result, err error) {
	if b.Size == 0 {
		return Result{}, nil
	}
	defer func() {
		// A model bug must fail the run with a message, not kill a worker
		// goroutine and leave the engine waiting for it forever.
		if p := recover(); p != nil {
			err = fmt.Errorf("%s: %v", r.name, p)
		}
	}()
	loss, correct := r.ws.LossGrad(params, b, grad)
	return Result{Loss: loss, Correct: correct, Rows: b.Size, Tokens: b.RealTokens()}, nil
}

// Forward computes b's logits.
func (r *CPUReplica) Forward(params []float32, b data.Batch, logits []float32) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%s: %v", r.name, p)
		}
	}()
	r.ws.Forward(params, b, logits)
	return nil
}

// Replicas converts CPU replicas to the engine's interface.
func Replicas(rs []*CPUReplica) []Replica {
	out := make([]Replica, len(rs))
	for i, r := range rs {
		out[i] = r
	}
	return out
}

// Forwarders converts CPU replicas to evaluation workers.
func Forwarders(rs []*CPUReplica) []Forwarder {
	out := make([]Forwarder, len(rs))
	for i, r := range rs {
		out[i] = r
	}
	return out
}
