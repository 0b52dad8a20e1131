//go:build cgo

package emu

import (
	"math"
	"math/rand/v2"
	"os"
	"sync"
	"testing"

	"trainer/cuda"
	"trainer/train/device"
)

// deviceEnv names a GPU (cuda:N) to run these tests on instead of the
// emulator; it takes effect in a test binary built with -tags cuda, which
// is how make gpu-check runs the same tests on a real device.
const deviceEnv = "TRAINER_TEST_DEVICE"

var (
	gpuOnce sync.Once
	gpu     cuda.Backend
	gpuErr  error
)

// testBackend returns a fresh emulated device, or the GPU named by
// $TRAINER_TEST_DEVICE (one context shared by every test of the process).
func testBackend(t *testing.T) cuda.Backend {
	t.Helper()
	name := os.Getenv(deviceEnv)
	if name == "" {
		d := New(1)
		t.Cleanup(func() { d.Close() })
		return d
	}
	gpuOnce.Do(func() {
		spec, err := device.ParseSpec(name)
		if err == nil && spec.Kind != "cuda" {
			err = os.ErrInvalid
		}
		if err == nil {
			gpu, err = cuda.Open(spec.Ordinal, 1)
		}
		gpuErr = err
	})
	if gpuErr != nil {
		t.Fatalf("%s=%s: %v", deviceEnv, name, gpuErr)
	}
	return gpu
}

// Relative tolerances by precision, as in llm.c's validate_result:
// |got - ref| <= tol + |ref| * eps.
const (
	epsF32  = 1.1920929e-07 // FLT_EPSILON
	epsHalf = 1.0 / 256     // ~2^-8 for fp16 and bf16 results
)

// validate compares got with ref element-wise and fails the test on the
// first few violations, naming the index and values.
func validate(t *testing.T, what string, got, ref []float32, tol, eps float64) {
	t.Helper()
	if len(got) != len(ref) {
		t.Fatalf("%s: %d values, reference has %d", what, len(got), len(ref))
	}
	bad := 0
	worst := 0.0
	for i := range ref {
		g, r := float64(got[i]), float64(ref[i])
		diff := math.Abs(g - r)
		if math.IsNaN(g) != math.IsNaN(r) || !(diff <= tol+math.Abs(r)*eps) && !(math.IsInf(r, 0) && g == r) {
			if bad < 5 {
				t.Errorf("%s[%d] = %.9g, reference %.9g (|diff| %.3g > %.3g)", what, i, g, r, diff, tol+math.Abs(r)*eps)
			}
			bad++
		}
		if !math.IsNaN(diff) {
			worst = max(worst, diff)
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d values out of tolerance", what, bad, len(ref))
	}
	t.Logf("%s: %d values, max |diff| %.3g", what, len(ref), worst)
}

// roundHalf rounds x to the nearest fp16 value, ties to even, by a route
// independent of the emulator's bit manipulation: scale by the value's
// quantum in float64.
func roundHalf(x float32) float32 { return roundTo(x, 10, -14, 65504) }

// roundBF16 rounds x to the nearest bf16 value, ties to even.
func roundBF16(x float32) float32 { return roundTo(x, 7, -126, 3.3895313892515355e38) }

func roundTo(x float32, mant, minExp int, maxFinite float64) float32 {
	v := float64(x)
	if math.IsNaN(v) || math.IsInf(v, 0) || v == 0 {
		return x
	}
	e := max(int(math.Floor(math.Log2(math.Abs(v)))), minExp)
	q := math.Ldexp(1, e-mant)
	r := math.RoundToEven(v/q) * q
	// Overflow: values at or beyond max + half an ulp become infinite.
	if math.Abs(r) > maxFinite {
		return float32(math.Copysign(math.Inf(1), v))
	}
	return float32(r)
}

func randSlice(rng *rand.Rand, n int, scale float64) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32((2*rng.Float64() - 1) * scale)
	}
	return s
}

func mapSlice(s []float32, f func(float32) float32) []float32 {
	out := make([]float32, len(s))
	for i, v := range s {
		out[i] = f(v)
	}
	return out
}

// fixture is an emulated device plus helpers to move data on and off it.
type fixture struct {
	t  *testing.T
	be cuda.Backend
}

func newFixture(t *testing.T) *fixture {
	return &fixture{t: t, be: testBackend(t)}
}

// do runs fn with the device current and waits for its work to finish.
func (f *fixture) do(fn func() error) {
	f.t.Helper()
	err := f.be.Do(func() error {
		if err := fn(); err != nil {
			return err
		}
		return f.be.Sync(0)
	})
	if err != nil {
		f.t.Fatal(err)
	}
}

// alloc returns device memory that the test's cleanup frees.
func (f *fixture) alloc(bytes int) cuda.Ptr {
	f.t.Helper()
	var p cuda.Ptr
	f.do(func() (err error) {
		p, err = f.be.Alloc(bytes)
		return err
	})
	f.t.Cleanup(func() { _ = f.be.Do(func() error { return f.be.Free(p) }) })
	return p
}

func (f *fixture) f32(v []float32) cuda.Ptr {
	f.t.Helper()
	p := f.alloc(max(4*len(v), 4))
	f.do(func() error { return cuda.Upload(f.be, p, v, 0) })
	return p
}

func (f *fixture) i32(v []int32) cuda.Ptr {
	f.t.Helper()
	p := f.alloc(max(4*len(v), 4))
	f.do(func() error { return cuda.Upload(f.be, p, v, 0) })
	return p
}

// low uploads v in fp16 (bf16 when bf is set).
func (f *fixture) low(v []float32, bf bool) cuda.Ptr {
	f.t.Helper()
	src := f.f32(v)
	p := f.alloc(max(2*len(v), 2))
	k := "cast_f32_f16"
	if bf {
		k = "cast_f32_bf16"
	}
	f.launch1D(k, len(v), int64(len(v)), src, p)
	return p
}

// garbage returns n floats of device memory filled with NaN, standing for
// whatever fresh device memory holds.
func (f *fixture) garbage(n int) cuda.Ptr {
	f.t.Helper()
	nan := make([]float32, max(n, 1))
	for i := range nan {
		nan[i] = float32(math.NaN())
	}
	return f.f32(nan)
}

func (f *fixture) read(p cuda.Ptr, n int) []float32 {
	f.t.Helper()
	out := make([]float32, n)
	f.do(func() error { return cuda.Download(f.be, out, p, 0) })
	return out
}

func (f *fixture) readI32(p cuda.Ptr, n int) []int32 {
	f.t.Helper()
	out := make([]int32, n)
	f.do(func() error { return cuda.Download(f.be, out, p, 0) })
	return out
}

func (f *fixture) readU16(p cuda.Ptr, n int) []uint16 {
	f.t.Helper()
	out := make([]uint16, n)
	f.do(func() error { return cuda.Download(f.be, out, p, 0) })
	return out
}

func (f *fixture) launch(k string, grid, block cuda.Dim3, args ...any) {
	f.t.Helper()
	f.do(func() error { return f.be.Launch(k, grid, block, 0, args...) })
}

// launch1D uses an odd grid on purpose: a few blocks of 64 threads, so
// that grid-stride loops wrap and the last block is partly idle.
func (f *fixture) launch1D(k string, n int, args ...any) {
	f.t.Helper()
	blocks := min((n+63)/64, 3)
	f.launch(k, cuda.Dim3{X: max(blocks, 1)}, cuda.Dim3{X: 64}, args...)
}
