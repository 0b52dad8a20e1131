package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"time"

	"trainer/train"
	"trainer/train/device"
	"trainer/train/mpi"
)

// distributed is a training run's place in a multi-process job started by
// mpirun: which rank this is, how its replica joins the others, and who
// writes files. A single process is a job of one rank.
type distributed struct {
	comm *mpi.Comm // nil in a single process
}

// startDistributed joins the MPI job when the process was started by mpirun
// with more than one rank (or force is set), and otherwise returns a
// single-process job. It checks, on every rank, that all ranks run the same
// binary with the same settings (one "name=value" each, the flags that
// shape the run) and that there are at least as many reviews as ranks.
// timeout bounds every collective, so a rank that hangs cannot stall the
// others forever.
func startDistributed(force bool, settings []string, reviews int, timeout time.Duration) (*distributed, error) {
	if !force && !mpi.Launched() {
		return &distributed{}, nil
	}
	if !mpi.Built() {
		return nil, usagef("started by mpirun with %s ranks, but %v", os.Getenv("OMPI_COMM_WORLD_SIZE"), mpi.ErrNotBuilt)
	}
	c, err := mpi.Init()
	if err != nil {
		return nil, err
	}
	d := &distributed{comm: c}
	exe, err := mpi.BinaryDigest()
	if err != nil {
		d.abort(err)
	}
	if err := c.CheckSame(exe, settings); err != nil {
		d.Close()
		return nil, usageError{err}
	}
	if err := c.CheckShardable(reviews); err != nil {
		d.Close()
		return nil, usageError{err}
	}
	c.SetTimeout(timeout)
	return d, nil
}

// Rank is this process's rank (0 in a single process).
func (d *distributed) Rank() int {
	if d.comm == nil {
		return 0
	}
	return d.comm.Rank()
}

// Size is the number of ranks (1 in a single process).
func (d *distributed) Size() int {
	if d.comm == nil {
		return 1
	}
	return d.comm.Size()
}

// Root reports whether this rank writes checkpoints, logs and the model.
func (d *distributed) Root() bool { return d.comm == nil || d.comm.Rank() == 0 }

// Wrap turns this rank's local replica (one worker, or a scheduler over
// several) into the job's replica: each global batch is split by rank and
// gradients are summed over ranks. In a single process it is local itself.
func (d *distributed) Wrap(local device.Replica, sparse train.RowSparsity) device.Replica {
	if d.comm == nil {
		return local
	}
	return mpi.NewReplica(d.comm, local, sparse)
}

// SyncParams gives every rank rank 0's weights (fresh or resumed), so all
// ranks start from the same point.
func (d *distributed) SyncParams(params []float32) error {
	if d.comm == nil {
		return nil
	}
	return d.comm.BroadcastParams(params)
}

// RootDecides returns rank 0's answer on every rank: a decision taken on
// each rank's own clock (a time budget) would differ between ranks and leave
// some waiting in a collective the others never enter.
func (d *distributed) RootDecides(yes bool) (bool, error) {
	if d.comm == nil || d.comm.Size() == 1 {
		return yes, nil
	}
	flag := []float64{0}
	if yes && d.comm.Rank() == 0 {
		flag[0] = 1
	}
	if err := d.comm.AllreduceFloat64(flag); err != nil {
		return false, err
	}
	return flag[0] > 0, nil
}

// abort ends the whole job: a rank that cannot go on must not leave the
// others waiting in a collective.
func (d *distributed) abort(err error) {
	d.comm.Abort(exitRuntime, err.Error())
}

// Fail reports err on this rank and, in a job of several ranks, stops them
// all; in a single process it returns err for the usual exit path.
func (d *distributed) Fail(err error) error {
	if d.comm != nil && d.comm.Size() > 1 {
		// Abort prefixes the rank itself.
		d.abort(err)
	}
	return err
}

// Close leaves the job. A single process has nothing to do.
func (d *distributed) Close() {
	if d.comm != nil {
		if err := d.comm.Finalize(); err != nil {
			fmt.Fprintln(os.Stderr, "trainer:", err)
		}
	}
}

// settingsLines flattens the settings that shape a run (any struct that
// encodes to a JSON object, such as runSettings) into sorted "name=value"
// lines for the start-up check, so a mismatch is reported by name.
func settingsLines(v any) ([]string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("settings are not an object: %w", err)
	}
	lines := make([]string, 0, len(m))
	for k, v := range m {
		lines = append(lines, k+"="+string(v))
	}
	sort.Strings(lines)
	return lines, nil
}
