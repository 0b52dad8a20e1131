// Package emu runs the CUDA kernels of kernels/ on the host: the same .cu
// sources, compiled with the host C++ compiler against emu_cuda.h, an
// emulation of the CUDA built-ins (threads, blocks, shared memory,
// barriers, warp shuffles, WMMA fragments, fp16/bf16, atomics). Device
// memory is host memory. It exists so that tests prove the kernels and the
// replica's launch sequence on machines without a GPU; it is far too slow
// to train with.
package emu

/*
#cgo CXXFLAGS: -std=c++17 -O2 -DTRAINER_EMU -I${SRCDIR} -Wall -Wno-unused-function
#cgo LDFLAGS: -pthread
#include <stdlib.h>
#include <string.h>
#include "emu_api.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"sync"
	"unsafe"

	"trainer/cuda"
)

// Device is a host-emulated GPU implementing cuda.Backend. Streams run
// synchronously, so every operation has completed when its call returns.
// It counts launches, copies and synchronisations exactly as the real
// driver does.
type Device struct {
	mu      sync.Mutex
	streams int
	opts    Options
	live    map[cuda.Ptr]alloc // allocations, to catch stray frees and copies
	host    map[unsafe.Pointer]bool
	closed  bool
	count   cuda.Counter
}

// Options shape an emulated device.
type Options struct {
	// Major and Minor are the compute capability it reports (default 9.0,
	// an H100's), which decides what "--amp auto" runs.
	Major, Minor int
	// SMs bounds the blocks of a cooperative launch (default 132, an
	// H100's; the emulator keeps one block per SM resident).
	SMs int
	// CountOnly checks and counts every operation but runs no kernel:
	// launch sequences of full-size models are measured in seconds instead
	// of hours. Results read back are then meaningless.
	CountOnly bool
}

// alloc is one emulated device allocation.
type alloc struct {
	p     unsafe.Pointer
	bytes int
}

// New returns an emulated device with the given number of streams.
func New(streams int) *Device { return NewWith(streams, Options{}) }

// NewWith returns an emulated device with the given number of streams and
// options.
func NewWith(streams int, o Options) *Device {
	if o.Major == 0 {
		o.Major, o.Minor = 9, 0
	}
	if o.SMs <= 0 {
		o.SMs = 132
	}
	return &Device{streams: max(streams, 1), opts: o, live: map[cuda.Ptr]alloc{}, host: map[unsafe.Pointer]bool{}}
}

// Name describes the device.
func (d *Device) Name() string { return "emu" }

// ComputeCapability is the capability the device was made with.
func (d *Device) ComputeCapability() (major, minor int) { return d.opts.Major, d.opts.Minor }

// Counters reports what the device has done so far.
func (d *Device) Counters() cuda.Counters { return d.count.Counters() }

// Streams is the number of streams.
func (d *Device) Streams() int { return d.streams }

// Alloc returns zeroed host memory standing in for device memory.
func (d *Device) Alloc(bytes int) (cuda.Ptr, error) {
	if bytes <= 0 {
		return 0, fmt.Errorf("emu: allocate %d bytes", bytes)
	}
	p := C.calloc(C.size_t(bytes), 1)
	if p == nil {
		return 0, fmt.Errorf("emu: out of memory allocating %d bytes", bytes)
	}
	// Garbage, not zeros, is what a real device returns: fill with a NaN
	// pattern so that a kernel reading memory nobody wrote shows up.
	C.memset(p, 0xff, C.size_t(bytes))
	d.mu.Lock()
	defer d.mu.Unlock()
	ptr := cuda.Ptr(uintptr(p))
	d.live[ptr] = alloc{p, bytes}
	return ptr, nil
}

// Free releases an allocation.
func (d *Device) Free(p cuda.Ptr) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	a, ok := d.live[p]
	if !ok {
		return fmt.Errorf("emu: free of %#x, which is not an allocation", uintptr(p))
	}
	delete(d.live, p)
	C.free(a.p)
	return nil
}

// HostAlloc returns host memory (there is nothing to pin).
func (d *Device) HostAlloc(bytes int) (unsafe.Pointer, error) {
	p := C.calloc(C.size_t(max(bytes, 1)), 1)
	if p == nil {
		return nil, fmt.Errorf("emu: out of memory allocating %d host bytes", bytes)
	}
	d.mu.Lock()
	d.host[p] = true
	d.mu.Unlock()
	return p, nil
}

// HostFree releases HostAlloc memory.
func (d *Device) HostFree(p unsafe.Pointer) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.host[p] {
		return errors.New("emu: host free of memory HostAlloc did not return")
	}
	delete(d.host, p)
	C.free(p)
	return nil
}

// check verifies that [p, p+bytes) lies inside one allocation, which is
// the emulator's memory checker: the kernels may not see it, but every
// copy and memset the replica issues does.
func (d *Device) check(p cuda.Ptr, bytes int, what string) (unsafe.Pointer, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for base, a := range d.live {
		if p >= base && uintptr(p)+uintptr(bytes) <= uintptr(base)+uintptr(a.bytes) {
			return unsafe.Add(a.p, int(p-base)), nil
		}
	}
	return nil, fmt.Errorf("emu: %s of %d bytes at %#x is outside every allocation", what, bytes, uintptr(p))
}

func (d *Device) stream(s int) error {
	if s < 0 || s >= d.streams {
		return fmt.Errorf("emu: stream %d out of range (%d streams)", s, d.streams)
	}
	return nil
}

// CopyHtoD copies host memory to the device.
func (d *Device) CopyHtoD(dst cuda.Ptr, src unsafe.Pointer, bytes int, s int) error {
	if err := d.stream(s); err != nil {
		return err
	}
	q, err := d.check(dst, bytes, "host-to-device copy")
	if err != nil {
		return err
	}
	d.count.HtoD(bytes)
	C.memcpy(q, src, C.size_t(bytes))
	return nil
}

// CopyDtoH copies device memory to the host.
func (d *Device) CopyDtoH(dst unsafe.Pointer, src cuda.Ptr, bytes int, s int) error {
	if err := d.stream(s); err != nil {
		return err
	}
	q, err := d.check(src, bytes, "device-to-host copy")
	if err != nil {
		return err
	}
	d.count.DtoH(bytes)
	C.memcpy(dst, q, C.size_t(bytes))
	return nil
}

// CopyDtoD copies within the device.
func (d *Device) CopyDtoD(dst, src cuda.Ptr, bytes int, s int) error {
	if err := d.stream(s); err != nil {
		return err
	}
	from, err := d.check(src, bytes, "device-to-device copy source")
	if err != nil {
		return err
	}
	to, err := d.check(dst, bytes, "device-to-device copy destination")
	if err != nil {
		return err
	}
	C.memmove(to, from, C.size_t(bytes))
	return nil
}

// Zero clears device memory.
func (d *Device) Zero(dst cuda.Ptr, bytes int, s int) error {
	if err := d.stream(s); err != nil {
		return err
	}
	q, err := d.check(dst, bytes, "memset")
	if err != nil {
		return err
	}
	d.count.Memset()
	C.memset(q, 0, C.size_t(bytes))
	return nil
}

// Launch runs a kernel on the host threads.
func (d *Device) Launch(kernel string, grid, block cuda.Dim3, s int, args ...any) error {
	return d.launch(kernel, grid, block, false, 0, s, args)
}

// LaunchCooperative runs a kernel with all its blocks at once, so that its
// grid barriers complete, refusing a grid larger than the device's SMs as
// the driver refuses one that cannot be resident.
func (d *Device) LaunchCooperative(kernel string, grid, block cuda.Dim3, sharedBytes, s int, args ...any) error {
	n := max(grid.X, 1) * max(grid.Y, 1) * max(grid.Z, 1)
	if n > d.opts.SMs {
		return fmt.Errorf("emu: %s: cooperative grid of %d blocks exceeds the %d that can be resident", kernel, n, d.opts.SMs)
	}
	return d.launch(kernel, grid, block, true, sharedBytes, s, args)
}

// MaxCooperativeBlocks is one block per SM while the block fits the
// 227 KiB of shared memory an sm_90 SM offers.
func (d *Device) MaxCooperativeBlocks(kernel string, threads, sharedBytes int) (int, error) {
	if threads < 1 || threads > 1024 || sharedBytes > 227<<10 {
		return 0, nil
	}
	return d.opts.SMs, nil
}

// Join orders two streams; emulated streams are already complete.
func (d *Device) Join(from, to int) error {
	if err := d.stream(from); err != nil {
		return err
	}
	return d.stream(to)
}

func (d *Device) launch(kernel string, grid, block cuda.Dim3, cooperative bool, sharedBytes, s int, args []any) error {
	if err := d.stream(s); err != nil {
		return err
	}
	d.count.Launch()
	if d.opts.CountOnly {
		if !knownKernel(kernel) {
			return fmt.Errorf("emu: no kernel named %q", kernel)
		}
		_, err := cuda.PackArgs(args)
		return err
	}
	words, err := cuda.PackArgs(args)
	if err != nil {
		return fmt.Errorf("emu: %s: %w", kernel, err)
	}
	// Arguments live in C memory: argv holds the values, argp points at them.
	n := max(len(words), 1)
	argv := C.calloc(C.size_t(n), 8)
	argp := C.calloc(C.size_t(n), C.size_t(unsafe.Sizeof(uintptr(0))))
	defer C.free(argv)
	defer C.free(argp)
	vals := unsafe.Slice((*uint64)(argv), n)
	ptrs := unsafe.Slice((*unsafe.Pointer)(argp), n)
	for i, w := range words {
		vals[i] = w
		ptrs[i] = unsafe.Add(argv, 8*i)
	}
	name := C.CString(kernel)
	defer C.free(unsafe.Pointer(name))
	dim := func(v int) C.uint { return C.uint(max(v, 1)) }
	coop := C.int(0)
	if cooperative {
		coop = 1
	}
	rc := C.emu_launch(name, dim(grid.X), dim(grid.Y), dim(grid.Z), dim(block.X), dim(block.Y), dim(block.Z),
		coop, C.size_t(sharedBytes), (*unsafe.Pointer)(argp))
	switch rc {
	case 0:
		return nil
	case C.EMU_ERR_UNKNOWN_KERNEL:
		return fmt.Errorf("emu: no kernel named %q", kernel)
	default:
		return fmt.Errorf("emu: %s: bad launch shape grid %v block %v", kernel, grid, block)
	}
}

// Do runs fn: the emulator has no context to make current.
func (d *Device) Do(fn func() error) error { return fn() }

// Sync counts the wait; emulated streams complete each operation in order.
func (d *Device) Sync(s int) error {
	if err := d.stream(s); err != nil {
		return err
	}
	d.count.Sync()
	return nil
}

// Close frees everything still allocated.
func (d *Device) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, a := range d.live {
		C.free(a.p)
	}
	for p := range d.host {
		C.free(p)
	}
	d.live, d.host, d.closed = map[cuda.Ptr]alloc{}, map[unsafe.Pointer]bool{}, true
	return nil
}

// Live is the number of device allocations not yet freed.
func (d *Device) Live() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.live)
}

var kernelNames = sync.OnceValue(func() map[string]bool {
	m := map[string]bool{}
	for _, k := range Kernels() {
		m[k] = true
	}
	return m
})

func knownKernel(name string) bool { return kernelNames()[name] }

// Kernels lists the kernels compiled into the emulator.
func Kernels() []string {
	n := int(C.emu_kernel_count())
	out := make([]string, n)
	for i := range out {
		out[i] = C.GoString(C.emu_kernel_name(C.int(i)))
	}
	return out
}

var _ cuda.Backend = (*Device)(nil)
