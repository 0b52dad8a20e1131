//go:build cgo

package emu

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestEveryKernelTested: every __global__ kernel in kernels/*.cu is
// compiled into the emulator and named by a test in this package (a
// precision variant counts through its base name, e.g. lstm_seq_forward
// for lstm_seq_forward_bf16), so no kernel ships without a comparison
// against a reference.
func TestEveryKernelTested(t *testing.T) {
	sources, err := filepath.Glob("../../kernels/*.cu")
	if err != nil || len(sources) == 0 {
		t.Fatalf("kernel sources: %v (%d files)", err, len(sources))
	}
	global := regexp.MustCompile(`__global__\s+void\s+(?:__launch_bounds__\([^)]*\)\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*\(`)
	var kernels []string
	for _, src := range sources {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range global.FindAllSubmatch(b, -1) {
			kernels = append(kernels, string(m[1]))
		}
	}
	tests, err := filepath.Glob("*_test.go")
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	for _, f := range tests {
		if f == "coverage_test.go" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		text.Write(b)
	}
	registered := Kernels()
	for _, k := range kernels {
		if !slices.Contains(registered, k) {
			t.Errorf("kernel %s is not compiled into the emulator (add it to a k_*.cc file)", k)
		}
		base := k
		for _, sfx := range []string{"_f32", "_f16", "_bf16"} {
			base = strings.TrimSuffix(base, sfx)
		}
		if !strings.Contains(text.String(), `"`+k+`"`) && !strings.Contains(text.String(), `"`+base) {
			t.Errorf("kernel %s is named by no test", k)
		}
	}
	t.Logf("%d kernels in %d sources", len(kernels), len(sources))
}
