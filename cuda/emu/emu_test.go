//go:build cgo

package emu

import (
	"os"
	"testing"

	"trainer/cuda"
)

// TestEmulatorSemantics checks the emulated CUDA execution model with the
// self-test kernels: barriers, early exit, reductions, shuffles.
func TestEmulatorSemantics(t *testing.T) {
	if os.Getenv(deviceEnv) != "" {
		t.Skip("the self-test kernels exist only in the emulator")
	}
	f := &fixture{t: t, be: New(1)}
	t.Cleanup(func() { f.be.Close() })

	const blocks, threads = 3, 96
	out := f.i32(make([]int32, blocks*threads))
	f.launch("selftest_barrier", cuda.Dim3{X: blocks}, cuda.Dim3{X: threads}, out)
	got := f.readI32(out, blocks*threads)
	for b := 0; b < blocks; b++ {
		for i := 0; i < threads; i++ {
			if want := int32((i+1)%threads + 1000*b); got[b*threads+i] != want {
				t.Fatalf("barrier: block %d thread %d read %d, want %d", b, i, got[b*threads+i], want)
			}
		}
	}

	const active = 40
	out = f.i32(make([]int32, threads))
	f.launch("selftest_early_exit", cuda.Dim3{X: 1}, cuda.Dim3{X: threads}, out, active)
	got = f.readI32(out, threads)
	for i := 0; i < active; i++ {
		if got[i] != int32(active-1-i) {
			t.Fatalf("early exit: thread %d read %d, want %d", i, got[i], active-1-i)
		}
	}

	x := make([]float32, blocks*threads)
	sums := make([]float32, 2*blocks)
	for i := range x {
		x[i] = float32(i % 7)
		sums[2*(i/threads)] += x[i]
		sums[2*(i/threads)+1] += 2 * x[i]
	}
	res := f.garbage(2 * blocks)
	f.launch("selftest_block_sum", cuda.Dim3{X: blocks}, cuda.Dim3{X: threads}, f.f32(x), res)
	validate(t, "block_sum", f.read(res, 2*blocks), sums, 0, 0)

	sh := f.garbage(64)
	f.launch("selftest_shfl_down", cuda.Dim3{X: 1}, cuda.Dim3{X: 64}, sh)
	gotSh := f.read(sh, 64)
	for i, v := range gotSh {
		lane, want := i%32, float32(i+3)
		if lane+3 >= 32 {
			want = float32(i)
		}
		if v != want {
			t.Fatalf("shfl_down: thread %d got %g, want %g", i, v, want)
		}
	}
}
