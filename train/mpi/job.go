package mpi

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"time"

	"trainer/train"
	"trainer/train/device"
)

// SetupError is a job that cannot start as launched: a binary without
// MPI support started by mpirun, ranks started with different binaries
// or settings, more ranks than reviews. It is the caller's misuse, not a
// failure of the run.
type SetupError struct{ Err error }

func (e SetupError) Error() string { return e.Err.Error() }
func (e SetupError) Unwrap() error { return e.Err }

// Job is a run's place in a multi-process job started by mpirun: which
// rank this is, how its replica joins the others and who writes files. A
// single process is a job of one rank. *Job is a train.Ranks.
type Job struct {
	comm *Comm // nil in a single process
}

// Single is the job of a process outside mpirun.
func Single() *Job { return &Job{} }

// Start joins the MPI job when the process was started by mpirun with more
// than one rank (or force is set), and otherwise returns a single-process
// job. It checks, on every rank, that all ranks run the same binary with
// the same settings (one "name=value" each, the flags that shape the run)
// and that there are at least as many reviews as ranks. timeout bounds
// every collective, so a rank that hangs cannot stall the others forever.
func Start(force bool, settings []string, reviews int, timeout time.Duration) (*Job, error) {
	if !force && !Launched() {
		return Single(), nil
	}
	if !Built() {
		return nil, SetupError{fmt.Errorf("started by mpirun with %s ranks, but %w", os.Getenv("OMPI_COMM_WORLD_SIZE"), ErrNotBuilt)}
	}
	c, err := Init()
	if err != nil {
		return nil, err
	}
	j := &Job{comm: c}
	exe, err := BinaryDigest()
	if err != nil {
		j.abort(err)
	}
	if err := c.CheckSame(exe, settings); err != nil {
		j.Close()
		return nil, SetupError{err}
	}
	if err := c.CheckShardable(reviews); err != nil {
		j.Close()
		return nil, SetupError{err}
	}
	c.SetTimeout(timeout)
	return j, nil
}

// Rank is this process's rank (0 in a single process).
func (j *Job) Rank() int {
	if j.comm == nil {
		return 0
	}
	return j.comm.Rank()
}

// Size is the number of ranks (1 in a single process).
func (j *Job) Size() int {
	if j.comm == nil {
		return 1
	}
	return j.comm.Size()
}

// Root reports whether this rank writes checkpoints, logs and the model.
func (j *Job) Root() bool { return j.comm == nil || j.comm.Rank() == 0 }

// Wrap turns this rank's local replica (one worker, or a scheduler over
// several) into the job's replica: each global batch is split by rank and
// gradients are summed over ranks. In a single process it is local itself.
func (j *Job) Wrap(local device.Replica, sparse train.RowSparsity) device.Replica {
	if j.comm == nil {
		return local
	}
	return NewReplica(j.comm, local, sparse)
}

// SyncParams gives every rank rank 0's weights (fresh or resumed), so all
// ranks start from the same point.
func (j *Job) SyncParams(params []float32) error {
	if j.comm == nil {
		return nil
	}
	return j.comm.BroadcastParams(params)
}

// RootDecides returns rank 0's answer on every rank: a decision taken on
// each rank's own clock (a time budget) would differ between ranks and
// leave some waiting in a collective the others never enter.
func (j *Job) RootDecides(yes bool) (bool, error) {
	if j.comm == nil || j.comm.Size() == 1 {
		return yes, nil
	}
	flag := []float64{0}
	if yes && j.comm.Rank() == 0 {
		flag[0] = 1
	}
	if err := j.comm.AllreduceFloat64(flag); err != nil {
		return false, err
	}
	return flag[0] > 0, nil
}

// abort ends the whole job: a rank that cannot go on must not leave the
// others waiting in a collective.
func (j *Job) abort(err error) { j.comm.Abort(exitRuntime, err.Error()) }

// exitRuntime is the status of a job a rank's failure ends.
const exitRuntime = 1

// Fail reports err on this rank and, in a job of several ranks, stops them
// all; in a single process it returns err for the usual exit path.
func (j *Job) Fail(err error) error {
	if j.comm != nil && j.comm.Size() > 1 {
		// Abort prefixes the rank itself.
		j.abort(err)
	}
	return err
}

// Close leaves the job. A single process has nothing to do.
func (j *Job) Close() {
	if j.comm != nil {
		if err := j.comm.Finalize(); err != nil {
			fmt.Fprintln(os.Stderr, "trainer:", err)
		}
	}
}

// SettingsLines flattens the settings that shape a run (any struct that
// encodes to a JSON object) into sorted "name=value" lines for the
// start-up check, so a mismatch is reported by name.
func SettingsLines(v any) ([]string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, errors.New("settings are not an object: " + err.Error())
	}
	lines := make([]string, 0, len(m))
	for k, v := range m {
		lines = append(lines, k+"="+string(v))
	}
	sort.Strings(lines)
	return lines, nil
}
