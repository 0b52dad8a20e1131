package job

import "fmt"

// runShape is how a run uses its devices, for its approach label.
type runShape struct {
	Device   string // cpu or cuda:N
	Workers  int    // CPU replicas per rank (0: the GPU alone)
	AMP      string // off, fp16 or bf16 (auto until the device resolves it)
	Streams  int    // GPU streams
	Schedule string // even or hybrid
	Ranks    int    // MPI ranks (1: a single process)
	Stages   int    // pipeline stages per replica (1: no model parallelism)
}

// shape is the run's shape on ranks processes.
func (o *Options) shape(ranks int) runShape {
	return runShape{Device: o.Device, Workers: o.Workers, AMP: o.AMP, Streams: o.Streams, Stages: o.Pipeline.Stages,
		Schedule: o.Split, Ranks: ranks}
}

// approachName describes how a run used its devices, in the reference's
// words: "DDP x2 (CPU)", "AMP fp16 cuda:0 + 2 CPU (hybrid)",
// "DDP x2 (CPU) x 2 ranks". The model file keeps it, and the closing
// summary shows it.
func approachName(s runShape) string {
	var name string
	switch {
	case s.Device == "" || s.Device == "cpu":
		switch {
		case s.Stages > 1:
			name = fmt.Sprintf("DDP x%d + model parallel, %d stages (CPU)", s.Workers/s.Stages, s.Stages)
		case s.Schedule == SplitHybrid:
			name = fmt.Sprintf("DDP x%d (CPU, hybrid)", s.Workers)
		case s.Workers == 1 && s.Ranks <= 1:
			name = "single worker (CPU)"
		default:
			name = fmt.Sprintf("DDP x%d (CPU)", s.Workers)
		}
	default:
		name = s.Device
		if s.AMP != "" && s.AMP != AMPOff {
			name = "AMP " + s.AMP + " " + name
		}
		if s.Streams > 1 {
			name += fmt.Sprintf(" x%d streams", s.Streams)
		}
		if s.Workers > 0 {
			name += fmt.Sprintf(" + %d CPU (hybrid)", s.Workers)
		}
	}
	if s.Ranks > 1 {
		name += fmt.Sprintf(" x %d ranks", s.Ranks)
	}
	return name
}
