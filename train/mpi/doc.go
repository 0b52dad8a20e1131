// Package mpi is a thin binding to Open MPI for multi-process data-parallel
// training: all-reduce of the flat gradient buffer, broadcast of the initial
// weights, barriers, and a start-up check that every rank runs the same
// binary with the same settings.
//
// The binding needs cgo and libmpi and is compiled only with the build tag
// `mpi` (`make mpi`); without it every entry point returns ErrNotBuilt, so
// the rest of the program builds and runs as a single process.
//
// Errors: the world communicator uses MPI_ERRORS_RETURN, so a failed call
// becomes a Go error naming the operation and MPI's own message. A rank
// that dies makes mpirun terminate the job; as a second line of defence a
// Comm with a timeout (SetTimeout) aborts the whole job with a message
// naming the collective that did not complete, so no rank waits forever on
// a peer that is gone.
package mpi

import "errors"

// ErrNotBuilt is returned by every call in a binary built without the mpi tag.
var ErrNotBuilt = errors.New("this binary was built without MPI support (rebuild with `make mpi`, build tag mpi)")
