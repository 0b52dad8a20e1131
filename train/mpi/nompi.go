//go:build !mpi

package mpi

import "time"

// Comm is the world communicator; in a build without MPI it cannot exist.
type Comm struct{}

// Built reports whether this binary has MPI support.
func Built() bool { return false }

// Launched reports whether the process was started by mpirun with more than
// one rank; a build without MPI sees the launcher's environment only.
func Launched() bool { return launchedBySize() }

// Init fails: the binary has no MPI support.
func Init() (*Comm, error) { return nil, ErrNotBuilt }

// Rank is always 0.
func (c *Comm) Rank() int { return 0 }

// Size is always 1.
func (c *Comm) Size() int { return 1 }

// SetTimeout does nothing.
func (c *Comm) SetTimeout(time.Duration) {}

// Finalize fails: the binary has no MPI support.
func (c *Comm) Finalize() error { return ErrNotBuilt }

// AllreduceFloat32 fails: the binary has no MPI support.
func (c *Comm) AllreduceFloat32([]float32) error { return ErrNotBuilt }

// AllreduceFloat64 fails: the binary has no MPI support.
func (c *Comm) AllreduceFloat64([]float64) error { return ErrNotBuilt }

// BcastFloat32 fails: the binary has no MPI support.
func (c *Comm) BcastFloat32([]float32, int) error { return ErrNotBuilt }

// BcastBytes fails: the binary has no MPI support.
func (c *Comm) BcastBytes([]byte, int) error { return ErrNotBuilt }

// AllgatherBytes fails: the binary has no MPI support.
func (c *Comm) AllgatherBytes([]byte) ([]byte, error) { return nil, ErrNotBuilt }

// Barrier fails: the binary has no MPI support.
func (c *Comm) Barrier() error { return ErrNotBuilt }

// Abort exits the process with the given status.
func (c *Comm) Abort(code int, why string) { abortLocal(code, why) }
