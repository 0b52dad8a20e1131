package mpi

import (
	"errors"
	"slices"
	"testing"
)

func TestSettingsLines(t *testing.T) {
	got, err := SettingsLines(struct {
		Seed   uint64
		Hidden int
		Train  string
	}{7, 64, "a.txt"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"Hidden=64", "Seed=7", `Train="a.txt"`}
	if !slices.Equal(got, want) {
		t.Fatalf("SettingsLines = %q, want %q", got, want)
	}
	if _, err := SettingsLines([]int{1}); err == nil {
		t.Fatal("a list is not a settings object")
	}
}

func TestSingleProcessJob(t *testing.T) {
	t.Setenv("OMPI_COMM_WORLD_SIZE", "")
	j, err := Start(false, nil, 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if j.Rank() != 0 || j.Size() != 1 || !j.Root() {
		t.Fatalf("single process: rank %d of %d, root %v", j.Rank(), j.Size(), j.Root())
	}
	if yes, err := j.RootDecides(true); !yes || err != nil {
		t.Fatalf("RootDecides(true) = %v, %v", yes, err)
	}
	if err := j.SyncParams(make([]float32, 3)); err != nil {
		t.Fatal(err)
	}
}

func TestLaunchedWithoutMPIBuild(t *testing.T) {
	if Built() {
		t.Skip("this build has MPI support")
	}
	t.Setenv("OMPI_COMM_WORLD_SIZE", "2")
	_, err := Start(false, nil, 10, 0)
	var se SetupError
	if err == nil || !errors.As(err, &se) {
		t.Fatalf("a binary without MPI started by mpirun must refuse to run with a setup error, got %v", err)
	}
}
