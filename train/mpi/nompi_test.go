//go:build !mpi

package mpi

import (
	"errors"
	"testing"
)

func TestWithoutMPI(t *testing.T) {
	if Built() {
		t.Fatal("a build without the mpi tag claims MPI support")
	}
	if _, err := Init(); !errors.Is(err, ErrNotBuilt) {
		t.Fatalf("Init: %v, want ErrNotBuilt", err)
	}
	var c *Comm
	if err := c.AllreduceFloat32(make([]float32, 3)); !errors.Is(err, ErrNotBuilt) {
		t.Fatalf("AllreduceFloat32: %v, want ErrNotBuilt", err)
	}
	if c.Rank() != 0 || c.Size() != 1 {
		t.Fatal("a process without MPI is rank 0 of 1")
	}
}
