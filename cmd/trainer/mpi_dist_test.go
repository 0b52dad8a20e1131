package main

import (
	"slices"
	"testing"

	"trainer/train/mpi"
)

func TestSettingsLines(t *testing.T) {
	got, err := settingsLines(struct {
		Seed   uint64
		Hidden int
		Train  string
	}{7, 64, "a.txt"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"Hidden=64", "Seed=7", `Train="a.txt"`}
	if !slices.Equal(got, want) {
		t.Fatalf("settingsLines = %q, want %q", got, want)
	}
	if _, err := settingsLines([]int{1}); err == nil {
		t.Fatal("a list is not a settings object")
	}
}

func TestSingleProcessDistributed(t *testing.T) {
	t.Setenv("OMPI_COMM_WORLD_SIZE", "")
	d, err := startDistributed(false, nil, 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Rank() != 0 || d.Size() != 1 || !d.Root() {
		t.Fatalf("single process: rank %d of %d, root %v", d.Rank(), d.Size(), d.Root())
	}
	if yes, err := d.RootDecides(true); !yes || err != nil {
		t.Fatalf("RootDecides(true) = %v, %v", yes, err)
	}
	if err := d.SyncParams(make([]float32, 3)); err != nil {
		t.Fatal(err)
	}
}

func TestLaunchedWithoutMPIBuild(t *testing.T) {
	t.Setenv("OMPI_COMM_WORLD_SIZE", "2")
	_, err := startDistributed(false, nil, 10, 0)
	if mpi.Built() {
		t.Skip("this build has MPI support")
	}
	if err == nil {
		t.Fatal("a binary without MPI started by mpirun must refuse to run")
	}
}
