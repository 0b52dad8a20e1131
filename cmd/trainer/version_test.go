package main

import (
	"bytes"
	"strings"
	"testing"

	"trainer/train/device"
	"trainer/train/mpi"
)

// TestVersionFeatures checks that `trainer version` names exactly the
// backends this binary was built with: the container smoke test tells the
// CPU image from the CUDA image by this line.
func TestVersionFeatures(t *testing.T) {
	var out, errb bytes.Buffer
	if got := run([]string{"trainer", "version"}, &out, &errb); got != exitOK {
		t.Fatalf("exit %d; stderr: %s", got, errb.String())
	}
	line := strings.TrimSpace(out.String())
	_, features, ok := strings.Cut(line, " features=")
	if !ok {
		t.Fatalf("version line %q has no features=", line)
	}
	has := map[string]bool{}
	for _, f := range strings.Split(features, ",") {
		has[f] = true
	}
	for _, c := range []struct {
		feature string
		want    bool
	}{
		{"cpu", true},
		{"cuda", device.Available("cuda")},
		{"mpi", mpi.Built()},
	} {
		if has[c.feature] != c.want {
			t.Errorf("version line %q: feature %s listed %v, want %v", line, c.feature, has[c.feature], c.want)
		}
	}
}
