package train

import (
	"fmt"

	"trainer/data"
	"trainer/model"
	"trainer/train/device"
)

// CPUReplica is one CPU worker: a model workspace of its own, used from one
// goroutine at a time. It implements Replica and Forwarder.
type CPUReplica struct {
	name  string
	ws    *model.Workspace
	share *model.RowShare // see ShareRows
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

// ShareRows makes the replicas split the first layer's work on the
// distinct tokens of each global batch between them (see model.RowShare):
// at the engine's default sizes a shard of 64 Amazon reviews has a third
// more distinct tokens per token than the whole batch, and each of them
// costs an input projection, a W_ih gradient and an embedding gradient.
// The replicas must then be stepped together, each Compute of a step
// running at the same time as the others' (an Engine over exactly these
// replicas does that), and no longer work under a scheduler that may leave
// one out. With fewer than two replicas it does nothing.
func ShareRows(rs []*CPUReplica) {
	if len(rs) < 2 {
		return
	}
	s := model.NewRowShare(rs[0].ws.Config(), len(rs))
	for i, r := range rs {
		r.share = s
		r.ws.SetShare(s, i)
	}
}

// Name identifies the replica in logs and schedules.
func (r *CPUReplica) Name() string { return r.name }

// Compute adds the gradient of b's summed loss to grad.
func (r *CPUReplica) Compute(params []float32, b data.Batch, grad []float32) (res device.Result, err error) {
	if b.Size == 0 && r.share == nil {
		return device.Result{}, nil // sharing replicas take part in every step
	}
	defer func() {
		// A model bug must fail the run with a message, not kill a worker
		// goroutine and leave the engine waiting for it forever; nor may
		// it leave the other workers of a share waiting.
		if p := recover(); p != nil {
			if r.share != nil {
				r.share.Abort()
			}
			if e, ok := p.(error); ok {
				err = fmt.Errorf("%s: %w", r.name, e)
				return
			}
			err = fmt.Errorf("%s: %v", r.name, p)
		}
	}()
	loss, correct := r.ws.LossGrad(params, b, grad)
	return device.Result{Loss: loss, Correct: correct, Rows: b.Size, Tokens: b.RealTokens()}, nil
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
func Replicas(rs []*CPUReplica) []device.Replica {
	out := make([]device.Replica, len(rs))
	for i, r := range rs {
		out[i] = r
	}
	return out
}

// Forwarders converts CPU replicas to evaluation workers.
func Forwarders(rs []*CPUReplica) []device.Forwarder {
	out := make([]device.Forwarder, len(rs))
	for i, r := range rs {
		out[i] = r
	}
	return out
}
