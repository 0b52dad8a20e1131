package cuda

import "fmt"

// recurrence is the launch shape of the persistent LSTM kernels
// (kernels/lstm_seq.cu) for one replica: blocks of recThreads threads,
// each owning units hidden units and their slice of W_hh in shared memory.
type recurrence struct {
	blocks, units, sharedBytes int
}

// recThreads is the block size of the persistent kernels: at the default
// B=128 with one unit per block, one output per thread per step.
const recThreads = 128

// maxRecShared keeps the W_hh slice within the 48 KiB of shared memory a
// block gets without opting in to more.
const maxRecShared = 48 << 10

// recurrenceShape picks the fewest units per block (the most blocks, so
// the per-step work spreads over the most SMs) whose grid the device can
// keep resident for a cooperative launch of both directions' kernels.
func recurrenceShape(be Backend, H int, prec Precision) (recurrence, error) {
	wb := prec.lowBytes()
	kernels := []string{"lstm_seq_forward" + prec.suffix(), "lstm_seq_backward" + prec.suffix()}
	for u := 1; u <= H; u++ {
		shared := 4 * u * H * wb
		if shared > maxRecShared {
			break
		}
		blocks := (H + u - 1) / u
		fits := true
		for _, k := range kernels {
			most, err := be.MaxCooperativeBlocks(k, recThreads, shared)
			if err != nil {
				return recurrence{}, fmt.Errorf("%s: occupancy of %s: %w", be.Name(), k, err)
			}
			fits = fits && blocks <= most
		}
		if fits {
			return recurrence{blocks: blocks, units: u, sharedBytes: shared}, nil
		}
	}
	return recurrence{}, fmt.Errorf("%s: hidden size %d is too large for the persistent LSTM kernels "+
		"(W_hh does not fit the shared memory of the blocks the device can keep resident)", be.Name(), H)
}

// recurrent launches one of the persistent LSTM kernels over a whole
// sequence: (T, B, H, units, args..., bar).
func (r *Replica) recurrent(kernel string, bsz, T int, bar Ptr, args ...any) error {
	if r.rec.blocks == 0 {
		rec, err := recurrenceShape(r.be, r.cfg.Hidden, r.prec)
		if err != nil {
			return err
		}
		r.rec = rec
	}
	all := make([]any, 0, len(args)+5)
	all = append(all, T, bsz, r.cfg.Hidden, r.rec.units)
	all = append(all, args...)
	all = append(all, bar)
	err := r.be.LaunchCooperative(kernel, Dim3{r.rec.blocks, 1, 1}, Dim3{recThreads, 1, 1}, r.rec.sharedBytes, r.stream, all...)
	if err != nil {
		return fmt.Errorf("%s: %s (%d blocks of %d units, %d steps): %w", r.name, kernel, r.rec.blocks, r.rec.units, T, err)
	}
	return nil
}
