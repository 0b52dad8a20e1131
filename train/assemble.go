package train

import (
	"context"
	"errors"
	"fmt"

	"trainer/model"
	"trainer/train/device"
)

// Ranks is a run's place in a multi-process job: train/mpi provides one
// under mpirun. A nil Ranks is a single process.
type Ranks interface {
	Rank() int
	Size() int
	// Wrap turns this rank's local replica into the job's replica: each
	// global batch is split by rank and gradients are summed over ranks.
	Wrap(local device.Replica, sparse RowSparsity) device.Replica
	// SyncParams gives every rank rank 0's weights.
	SyncParams(params []float32) error
	// RootDecides returns rank 0's answer on every rank.
	RootDecides(yes bool) (bool, error)
}

// Devices says where a run computes.
type Devices struct {
	Device device.Spec // cpu, or a device a backend registered (cuda:N)
	// CPUWorkers is the number of CPU replicas (per rank); beside a
	// device, 0 trains on the device alone.
	CPUWorkers int
	// Precision of a device: "fp32", "fp16" or "bf16" (see device.Request).
	Precision string
	Streams   int  // device streams, one replica each
	Hybrid    bool // split batches by measured throughput (always with a device and CPU workers)
	// Pipeline splits each CPU replica's model over Pipeline.Stages
	// workers (Stages <= 1: no model parallelism).
	Pipeline PipelineOptions
}

// RunConfig is everything a training run is made of.
type RunConfig struct {
	Model   model.Config
	Seed    uint64 // initial weights (and, through the loop, batch order)
	Optim   device.OptimConfig
	Clip    float64
	Devices Devices
	Ranks   Ranks // nil: a single process
	Loop    LoopConfig
	// Hooks connect the loop to the data and the user; Hooks.Eval is
	// filled in with the run's evaluation workers when nil.
	Hooks  LoopHooks
	Resume *Checkpoint // nil: a fresh run
	// Vectors, when set, replace the initial embedding rows of the words
	// they hold (pretrained vectors). A resumed run ignores them: its
	// checkpoint holds the weights they started.
	Vectors *Vectors
}

// Run is an assembled training run: replicas, scheduler, ranks, engine
// (or a resident device) and the loop over them.
type Run struct {
	Loop      *Loop
	Stepper   Stepper
	Eval      []device.Forwarder
	Scalers   []*device.LossScaler // fp16 loss scalers, checkpointed
	Workers   int                  // local replicas: device streams, CPU workers or pipelines
	Hybrid    *Hybrid              // the scheduler, when batches are split by throughput
	Pipelines []*Pipeline
	Device    *device.Set // the opened device, nil on CPUs alone
	ranks     Ranks
	stopErr   error
	closers   []func()
}

// Assemble builds the run cfg describes. Close releases it.
func Assemble(cfg RunConfig) (run *Run, err error) {
	if err := cfg.Model.Validate(); err != nil {
		return nil, err
	}
	r := &Run{ranks: cfg.Ranks}
	if r.ranks == nil {
		r.ranks = singleProcess{}
	}
	defer func() {
		if err != nil {
			r.Close()
		}
	}()
	params := make([]float32, model.NewLayout(cfg.Model).Size())
	model.InitParams(cfg.Model, params, cfg.Seed)
	if cfg.Vectors != nil && cfg.Resume == nil {
		if err := initEmbedding(cfg.Model, params, cfg.Vectors); err != nil {
			return nil, err
		}
	}
	replicas, err := r.replicas(cfg, params)
	if err != nil {
		return nil, err
	}
	if r.Stepper == nil {
		if r.Stepper, err = r.engine(cfg, params, replicas); err != nil {
			return nil, err
		}
	}
	if cfg.Hooks.Eval == nil {
		cfg.Hooks.Eval = r.Eval
	}
	cfg.Loop.Scalers = r.Scalers
	cfg.Loop.Observer = &runObserver{hybrid: scheduleTracker{h: r.Hybrid}, pipes: pipelineTracker{ps: r.Pipelines},
		scalers: r.Scalers, workers: r.Workers, ranks: r.ranks.Size(), wrapped: r.Workers != r.Stepper.Workers() || r.ranks.Size() > 1}
	if r.Device != nil {
		// --amp auto resolves on the device (bf16 on compute capability
		// 8.0 and later): the log says what ran.
		cfg.Loop.Observer.(*runObserver).precision = r.Device.Precision
	}
	r.Loop, err = NewLoop(r.Stepper, cfg.Loop, r.stopping(cfg.Hooks), cfg.Resume)
	if err != nil {
		return nil, err
	}
	// Rank 0's weights, fresh or resumed, are every rank's starting point.
	if r.ranks.Size() > 1 {
		w, err := r.Stepper.Weights()
		if err != nil {
			return nil, err
		}
		if err := r.ranks.SyncParams(w); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// replicas opens the device and makes the CPU replicas, the scheduler and
// the rank wrapper over them; it sets r.Stepper instead when a resident
// device trains alone.
func (r *Run) replicas(cfg RunConfig, params []float32) ([]device.Replica, error) {
	d := cfg.Devices
	sparse := TableRows(cfg.Model)
	var replicas []device.Replica
	if !d.Device.CPU() {
		set, err := device.Open(d.Device, device.Request{Model: cfg.Model, Precision: d.Precision, Streams: d.Streams,
			Optim: cfg.Optim, Clip: cfg.Clip, Params: params})
		if err != nil {
			return nil, err
		}
		r.Device = set
		if set.Close != nil {
			r.closers = append(r.closers, func() { set.Close() })
		}
		if set.Resident != nil && d.CPUWorkers == 0 && r.ranks.Size() == 1 {
			if cfg.Optim.FreezeEmbedding {
				// Its step runs on the device over every weight; training
				// on would quietly fine-tune what was asked to stay.
				return nil, fmt.Errorf("%s trains alone with its own optimizer step, which cannot freeze the embedding: add CPU workers (the host then steps the weights) or fine-tune the vectors", set.Name)
			}
			rs, err := NewResidentStepper(set.Resident, len(params))
			if err != nil {
				return nil, err
			}
			r.Stepper, r.Eval, r.Scalers, r.Workers = rs, rs.Forwarders(), rs.Scalers(), 1
			return nil, nil
		}
		// The device evaluates alone: mixing its low-precision logits
		// with the CPU's fp32 ones would make the scores depend on who
		// took which batch.
		replicas, r.Eval, r.Scalers = set.Replicas, set.Eval, set.Scalers
	}
	var cpu []*CPUReplica
	if d.CPUWorkers > 0 {
		var err error
		if cpu, err = NewCPUReplicas(cfg.Model, d.CPUWorkers); err != nil {
			return nil, err
		}
		if d.Pipeline.Stages > 1 {
			ps, err := NewPipelines(cfg.Model, d.CPUWorkers, d.Pipeline)
			if err != nil {
				return nil, err
			}
			r.Pipelines = ps
			for _, p := range ps {
				replicas = append(replicas, p)
			}
		} else {
			replicas = append(replicas, Replicas(cpu)...)
		}
		if r.Eval == nil {
			r.Eval = Forwarders(cpu)
		}
	}
	if len(replicas) == 0 {
		return nil, errors.New("run: no replicas: give CPU workers or a device")
	}
	r.Workers = len(replicas)
	hybrid := d.Hybrid || (!d.Device.CPU() && d.CPUWorkers > 0)
	if r.ranks.Size() == 1 && !hybrid && len(r.Pipelines) == 0 {
		// The engine steps every CPU replica in every step.
		ShareRows(cpu)
	}
	// A rank is one replica of the job: its local replicas become one
	// scheduler under the rank wrapper, which takes the rank's share of
	// every global batch and sums gradients over ranks.
	if hybrid || (r.ranks.Size() > 1 && len(replicas) > 1) {
		h, err := NewHybrid(replicas, HybridOptions{Sparsity: sparse})
		if err != nil {
			return nil, err
		}
		r.closers = append(r.closers, h.Close)
		r.Hybrid = h
		replicas = []device.Replica{h}
	}
	if r.ranks.Size() > 1 {
		replicas = []device.Replica{r.ranks.Wrap(replicas[0], sparse)}
	}
	return replicas, nil
}

// engine makes the optimizer and the data-parallel engine over replicas,
// told where the lookup tables' rows of the parameters are.
func (r *Run) engine(cfg RunConfig, params []float32, replicas []device.Replica) (*Engine, error) {
	opt, err := NewOptimizer(cfg.Optim, len(params))
	if err != nil {
		return nil, err
	}
	e, err := NewEngine(params, replicas, opt, cfg.Clip)
	if err != nil {
		return nil, err
	}
	r.closers = append(r.closers, e.Close)
	if err := e.SetSparsity(TableRows(cfg.Model), cfg.Optim.LazyEmbedding); err != nil {
		return nil, err
	}
	if cfg.Optim.FreezeEmbedding {
		if err := e.FreezeRows(); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// stopping makes every rank of a job stop after the same step: a signal
// reaches the ranks at different steps, and a budget read on each rank's
// clock would differ, so rank 0 decides after every step.
func (r *Run) stopping(h LoopHooks) LoopHooks {
	if r.ranks.Size() == 1 {
		return h
	}
	stop := h.Stop
	if stop == nil {
		return h // Train's per-step decision covers interrupts
	}
	h.Stop = func(st StepStats) (bool, error) {
		yes, err := stop(st)
		if err != nil {
			return false, err
		}
		return r.ranks.RootDecides(yes)
	}
	return h
}

// Train runs the loop. Under several ranks an interrupt on rank 0 stops
// every rank after the same step, each with a checkpoint.
func (r *Run) Train(ctx context.Context) (Summary, error) {
	if r.ranks.Size() == 1 {
		return r.Loop.Run(ctx)
	}
	loopCtx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	onStep := r.Loop.h.OnStep
	r.Loop.h.OnStep = func(epoch, batch, batches int, st StepStats) {
		if onStep != nil {
			onStep(epoch, batch, batches, st)
		}
		stop, err := r.ranks.RootDecides(ctx.Err() != nil)
		if err != nil && r.stopErr == nil {
			r.stopErr = err
		}
		if stop || err != nil {
			cancel(context.Cause(ctx))
		}
	}
	sum, err := r.Loop.Run(loopCtx)
	if err == nil && r.stopErr != nil {
		err = r.stopErr
	}
	return sum, err
}

// Weights are the run's current master weights.
func (r *Run) Weights() ([]float32, error) { return r.Stepper.Weights() }

// Close stops the engine and the scheduler and releases the device.
func (r *Run) Close() {
	for i := len(r.closers) - 1; i >= 0; i-- {
		r.closers[i]()
	}
	r.closers = nil
}

// singleProcess is the Ranks of a run outside mpirun.
type singleProcess struct{}

func (singleProcess) Rank() int                                               { return 0 }
func (singleProcess) Size() int                                               { return 1 }
func (singleProcess) Wrap(local device.Replica, _ RowSparsity) device.Replica { return local }
func (singleProcess) SyncParams([]float32) error                              { return nil }
func (singleProcess) RootDecides(yes bool) (bool, error)                      { return yes, nil }
