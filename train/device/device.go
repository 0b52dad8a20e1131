// Package device is the contract between the training engine and the
// places a model replica runs: CPU worker goroutines, GPU streams, other
// processes. It sits below both package train (which assembles runs and
// steps the engine) and the backends (package cuda, which imports this
// package and never train), so that neither knows the other's types.
//
// A backend offers one or both of two shapes:
//
//   - Replica: given the master weights and a micro-batch, add the gradient
//     of the micro-batch's summed loss to a host buffer laid out like the
//     parameters. The engine owns the weights, sums the buffers and runs
//     the optimizer. CPU workers, pipelines, the hybrid scheduler and MPI
//     ranks are replicas.
//   - Resident: a replica that owns its optimizer step. Master weights,
//     gradients, optimizer moments and loss-scaler state stay on its own
//     device for the whole run; per step only the batch goes in and the
//     loss and correct count come out. A GPU training alone is resident.
//
// Backends register an Opener under a device kind ("cuda") from an init
// function in a file of their own build tag, so the command line names a
// device ("cuda:0") and never a package.
package device

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"trainer/data"
	"trainer/model"
)

// ErrNonFinite reports a loss or gradient that became NaN or infinite. The
// step that produced it is not applied, so the weights stay the last good
// ones.
var ErrNonFinite = errors.New("loss or gradient is not finite (NaN or Inf)")

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

// Forwarder computes logits (one per row) for a batch without gradients.
// Evaluation and prediction use it. A forwarder that keeps its own copy of
// the weights (an inference table, a device) may ignore params.
type Forwarder interface {
	Forward(params []float32, b data.Batch, logits []float32) error
}

// StepResult is what one whole training step did on a resident replica.
type StepResult struct {
	Result            // over the global batch
	GradNorm  float64 // global L2 norm of the mean gradient before clipping (NaN when skipped)
	ClipScale float64 // factor clipping applied (1: not clipped)
	LossScale float32 // the loss scale the step ran at (1 outside fp16)
	Skipped   bool    // fp16 overflow: no update, the scale backed off
}

// Resident is a replica that owns its optimizer step: it keeps the fp32
// master weights, the low-precision working copy, gradients, optimizer
// moments and the loss scaler's state on its own device for the whole run.
// The host reads them back only when it writes a checkpoint or a model
// file. A Resident is used from one goroutine at a time.
type Resident interface {
	Name() string
	// Step trains on the global batch b with learning rate lr: forward,
	// backward, unscale and finite check, clipping, the optimizer update.
	// Non-finite gradients outside fp16 return ErrNonFinite with the
	// weights of the last good step kept.
	Step(b data.Batch, lr float64) (StepResult, error)
	// ReadParams copies the master weights into dst (len = the layout's size).
	ReadParams(dst []float32) error
	// WriteParams replaces the master weights (a resumed run, a broadcast).
	WriteParams(src []float32) error
	// OptimState reads the optimizer's state back; SetOptimState restores it.
	OptimState() (OptimState, error)
	SetOptimState(OptimState) error
	// Scalers are the dynamic loss scalers of the device's streams (fp16),
	// in a fixed order, so checkpoints can carry their state; nil otherwise.
	Scalers() []*LossScaler
	// Forwarders evaluate with the device's current weights (ignoring the
	// params argument of Forward).
	Forwarders() []Forwarder
	Close() error
}

// OptimConfig selects and tunes an optimizer.
type OptimConfig struct {
	Kind        string  `json:"kind"`         // "adamw" (default) or "sgd"
	Beta1       float64 `json:"beta1"`        // Adam first-moment decay (0.9)
	Beta2       float64 `json:"beta2"`        // Adam second-moment decay (0.999)
	Eps         float64 `json:"eps"`          // Adam denominator floor (1e-8)
	WeightDecay float64 `json:"weight_decay"` // decoupled decay; 0 makes AdamW plain Adam
	Momentum    float64 `json:"momentum"`     // SGD momentum (0.9)
	// LazyEmbedding leaves the embedding rows of tokens absent from a
	// batch out of its step; false is the dense update of every parameter.
	LazyEmbedding bool `json:"lazy_embedding,omitempty"`
	// FreezeEmbedding keeps the embedding table as initialised (pretrained
	// vectors): no step changes it, and its gradient is left out of the
	// norm clipping reads. A backend whose own step cannot leave the table
	// alone must refuse it.
	FreezeEmbedding bool `json:"freeze_embedding,omitempty"`
}

// DefaultOptimConfig is AdamW with PyTorch's default moments and no decay.
func DefaultOptimConfig() OptimConfig {
	return OptimConfig{Kind: "adamw", Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, Momentum: 0.9}
}

// OptimState is an optimizer's resumable state: the step count and one
// slot buffer per moment, each laid out like the parameters.
type OptimState struct {
	Kind  string      `json:"kind"`
	Steps int64       `json:"steps"`
	Slots [][]float32 `json:"-"`
}

// Spec is a device as the command line names it: "cpu", "cuda" (= cuda:0)
// or "cuda:N".
type Spec struct {
	Kind    string // "cpu", "cuda", or another registered kind
	Ordinal int
}

// String is the command-line spelling of s.
func (s Spec) String() string {
	if s.Kind == "cpu" {
		return "cpu"
	}
	return s.Kind + ":" + strconv.Itoa(s.Ordinal)
}

// CPU reports whether s is the host's CPUs.
func (s Spec) CPU() bool { return s.Kind == "cpu" }

// ParseSpec reads a --device value.
func ParseSpec(v string) (Spec, error) {
	if v == "cpu" {
		return Spec{Kind: "cpu"}, nil
	}
	kind, num, found := strings.Cut(v, ":")
	if kind == "" || strings.ContainsAny(kind, " \t") {
		return Spec{}, fmt.Errorf("device %q: want cpu or KIND:N, e.g. cuda:0", v)
	}
	if !found {
		return Spec{Kind: kind}, nil
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 0 {
		return Spec{}, fmt.Errorf("device %q: want %s:N with N a device number (0, 1, ...)", v, kind)
	}
	return Spec{Kind: kind, Ordinal: n}, nil
}

// Request is what a run asks a backend to open.
type Request struct {
	Model model.Config
	// Precision is "auto" (the backend's best: bf16 on GPUs of compute
	// capability 8.0 and newer), "fp32", "fp16" (dynamic loss scaling) or
	// "bf16".
	Precision string
	Streams   int         // independent queues, one replica each (>= 1)
	Optim     OptimConfig // the optimizer a resident replica runs
	Clip      float64     // maximum global gradient norm (0: off)
	Params    []float32   // initial master weights for a resident replica
}

// Set is what a backend opened for a run.
type Set struct {
	Name      string // e.g. "cuda:0 NVIDIA H100 (sm_90)"
	Precision string // what runs: "fp32", "fp16" or "bf16" (never "auto")
	// Replicas compute on host buffers, one per stream: the shape the
	// hybrid scheduler and MPI ranks need.
	Replicas []Replica
	// Eval scores with the weights passed to Forward.
	Eval []Forwarder
	// Scalers are the replicas' dynamic loss scalers (fp16), in stream
	// order; nil otherwise.
	Scalers []*LossScaler
	// Resident, when the backend has one, trains whole steps on the device
	// (used when the device trains alone); nil otherwise.
	Resident Resident
	// Close releases the device.
	Close func() error
}

// Opener opens ordinal spec.Ordinal of a backend's kind for a run.
type Opener func(spec Spec, req Request) (*Set, error)

// registry maps device kinds to the backends built into this binary.
// Backends add themselves from init functions, before main runs, and
// nothing removes them, so it is written only during initialisation.
var registry = struct {
	sync.Mutex
	open map[string]Opener
}{open: map[string]Opener{}}

// Register makes a backend available under kind. It panics on a kind
// registered twice, a programming error.
func Register(kind string, open Opener) {
	registry.Lock()
	defer registry.Unlock()
	if _, dup := registry.open[kind]; dup || kind == "cpu" {
		panic("device: backend " + kind + " registered twice")
	}
	registry.open[kind] = open
}

// Kinds lists the registered device kinds, sorted.
func Kinds() []string {
	registry.Lock()
	defer registry.Unlock()
	kinds := make([]string, 0, len(registry.open))
	for k := range registry.open {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	return kinds
}

// Available reports whether this binary can open devices of kind.
func Available(kind string) bool {
	registry.Lock()
	defer registry.Unlock()
	_, ok := registry.open[kind]
	return ok
}

// Open opens the device spec names for req. A kind this binary was not
// built with is reported with how to get a binary that has it.
func Open(spec Spec, req Request) (*Set, error) {
	registry.Lock()
	open, ok := registry.open[spec.Kind]
	registry.Unlock()
	if !ok {
		if spec.Kind == "cuda" {
			return nil, fmt.Errorf("device %s: this trainer binary was built without CUDA support; "+
				"build one with `make cuda` (go build -tags cuda, needs cuda.h and libcuda from nvidia-cuda-dev) "+
				"and run bin/trainer-cuda, or use --device cpu", spec)
		}
		return nil, fmt.Errorf("device %s: unknown device kind %q (this binary has: cpu%s)", spec, spec.Kind, listed(Kinds()))
	}
	if req.Streams < 1 {
		req.Streams = 1
	}
	return open(spec, req)
}

func listed(kinds []string) string {
	if len(kinds) == 0 {
		return ""
	}
	return ", " + strings.Join(kinds, ", ")
}
