package cuda

import (
	"fmt"
	"math"
	"unsafe"
)

// Ptr is a device address.
type Ptr uintptr

// Add offsets p by n elements of size bytes each.
func (p Ptr) Add(n, size int) Ptr { return p + Ptr(n*size) }

// Dim3 is a launch grid or block shape.
type Dim3 struct{ X, Y, Z int }

// Backend is a device as the replica sees it. Every operation is queued on
// stream s (0 <= s < Streams()) and ordered within that stream; Sync waits
// for the stream's queue to drain. Host memory passed to the copy functions
// must stay valid until the stream is synchronised.
//
// The device's context is current only inside Do: every other method must
// be called from a function that Do runs. Do may run concurrently from
// several goroutines (one per stream), each on its own locked OS thread.
type Backend interface {
	// Name describes the device, e.g. "cuda:0 NVIDIA H200 (sm_90)".
	Name() string
	// Do runs fn with the device's context current on a locked OS thread.
	Do(fn func() error) error
	// Streams is the number of independent queues.
	Streams() int
	Alloc(bytes int) (Ptr, error)
	Free(p Ptr) error
	// HostAlloc returns page-locked host memory, so that copies from it are
	// truly asynchronous.
	HostAlloc(bytes int) (unsafe.Pointer, error)
	HostFree(p unsafe.Pointer) error
	CopyHtoD(dst Ptr, src unsafe.Pointer, bytes int, s int) error
	CopyDtoH(dst unsafe.Pointer, src Ptr, bytes int, s int) error
	CopyDtoD(dst, src Ptr, bytes int, s int) error
	Zero(dst Ptr, bytes int, s int) error
	// Launch runs the named kernel. Arguments are Ptr, int, int32, int64,
	// float32 or bool, in the kernel's parameter order.
	Launch(kernel string, grid, block Dim3, s int, args ...any) error
	// LaunchCooperative runs a kernel whose blocks wait for each other at
	// grid-wide barriers (cuLaunchCooperativeKernel): every block of grid is
	// resident at once, and each has sharedBytes of dynamic shared memory.
	// It fails, rather than deadlocking, when the grid cannot be resident.
	LaunchCooperative(kernel string, grid, block Dim3, sharedBytes, s int, args ...any) error
	// MaxCooperativeBlocks is how many blocks of the kernel, with the given
	// block size and dynamic shared memory, can be resident at once.
	MaxCooperativeBlocks(kernel string, threads, sharedBytes int) (int, error)
	// Join makes later work on stream to wait for the work queued on
	// stream from so far, without a host wait (an event on the device).
	Join(from, to int) error
	Sync(s int) error
	// ComputeCapability is the device's major and minor version (8, 0 for
	// an A100), which decides what "--amp auto" runs.
	ComputeCapability() (major, minor int)
	// Counters reports the launches, copies and host waits so far.
	Counters() Counters
	Close() error
}

// PackArgs lays kernel arguments out as cuLaunchKernel reads them: one
// 8-byte little-endian slot per argument. Integers are sign-extended to 64
// bits, so a slot reads correctly as either int or long long; float32 fills
// the low 4 bytes.
func PackArgs(args []any) ([]uint64, error) {
	out := make([]uint64, len(args))
	return out, packArgsInto(out, args)
}

// packArgsInto is PackArgs into out (len(out) == len(args)).
func packArgsInto(out []uint64, args []any) error {
	for i, a := range args {
		out[i] = 0
		switch v := a.(type) {
		case Ptr:
			out[i] = uint64(v)
		case int:
			out[i] = uint64(int64(v))
		case int32:
			out[i] = uint64(int64(v))
		case int64:
			out[i] = uint64(v)
		case float32:
			out[i] = uint64(math.Float32bits(v))
		case bool:
			if v {
				out[i] = 1
			}
		default:
			return fmt.Errorf("kernel argument %d: unsupported type %T", i, a)
		}
	}
	return nil
}

// sliceBytes is the address and byte size of a slice's elements, for copies.
func sliceBytes[T any](s []T) (unsafe.Pointer, int) {
	if len(s) == 0 {
		return nil, 0
	}
	var z T
	return unsafe.Pointer(&s[0]), len(s) * int(unsafe.Sizeof(z))
}

// Upload copies a host slice to dst on stream s.
func Upload[T any](be Backend, dst Ptr, src []T, s int) error {
	p, n := sliceBytes(src)
	if n == 0 {
		return nil
	}
	return be.CopyHtoD(dst, p, n, s)
}

// Download copies from src into a host slice on stream s.
func Download[T any](be Backend, dst []T, src Ptr, s int) error {
	p, n := sliceBytes(dst)
	if n == 0 {
		return nil
	}
	return be.CopyDtoH(p, src, n, s)
}
