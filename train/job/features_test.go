package job

import (
	"slices"
	"testing"

	"trainer/train/device"
	"trainer/train/mpi"
)

// TestFeatures: the list starts with cpu and names every other registered
// device kind and MPI exactly when they are built in.
func TestFeatures(t *testing.T) {
	f := Features()
	if len(f) == 0 || f[0] != "cpu" || slices.Contains(f[1:], "cpu") {
		t.Fatalf("features %q: want cpu first, once", f)
	}
	for _, kind := range device.Kinds() {
		if !slices.Contains(f, kind) {
			t.Errorf("features %q lack the registered kind %s", f, kind)
		}
	}
	if slices.Contains(f, "mpi") != mpi.Built() {
		t.Errorf("features %q: mpi listed %v, built %v", f, slices.Contains(f, "mpi"), mpi.Built())
	}
}
