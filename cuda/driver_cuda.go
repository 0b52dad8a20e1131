//go:build cuda

package cuda

// #include <cuda.h>
import "C"

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"unsafe"

	"gorgonia.org/cu"

	"trainer/kernels"
)

// Available reports whether this binary was built with CUDA support.
const Available = true

// driver is a Backend over the CUDA driver API. It counts what it does
// (Counters) exactly as the emulator does.
type driver struct {
	name         string
	major, minor int
	ctx          cu.CUContext
	streams      []cu.Stream
	handles      []unsafe.Pointer // the streams' driver handles
	args         []argBlock       // per stream: launch arguments, reused
	events       []unsafe.Pointer // per stream: the event Join records
	fns          map[string]C.CUfunction
	mods         []C.CUmodule
	count        Counter
}

// Devices lists the visible GPUs as --device values with their names, for
// error messages and `trainer version`.
func Devices() ([]string, error) {
	if err := initError(); err != nil {
		return nil, err
	}
	n, err := cu.NumDevices()
	if err != nil {
		return nil, fmt.Errorf("count CUDA devices: %w", err)
	}
	out := make([]string, n)
	for i := range out {
		d, err := cu.GetDevice(i)
		if err != nil {
			return nil, err
		}
		name, _ := d.Name()
		major, minor, _ := d.ComputeCapability()
		out[i] = fmt.Sprintf("cuda:%d (%s, sm_%d%d)", i, name, major, minor)
	}
	return out, nil
}

// Open creates a context on GPU ordinal with the given number of streams
// and loads the embedded PTX for its architecture. It fails with a
// sentence naming the problem: no driver, no device, an ordinal that does
// not exist (listing those that do), or a GPU too old for the kernels.
func Open(ordinal, streams int) (Backend, error) {
	if streams < 1 {
		return nil, fmt.Errorf("cuda:%d: --streams must be at least 1, got %d", ordinal, streams)
	}
	devs, err := Devices()
	if err != nil {
		return nil, fmt.Errorf("device cuda:%d: %w", ordinal, err)
	}
	if len(devs) == 0 {
		return nil, fmt.Errorf("device cuda:%d: the CUDA driver reports no devices", ordinal)
	}
	if ordinal < 0 || ordinal >= len(devs) {
		return nil, fmt.Errorf("device cuda:%d does not exist; this machine has: %s", ordinal, strings.Join(devs, ", "))
	}
	dev, err := cu.GetDevice(ordinal)
	if err != nil {
		return nil, fmt.Errorf("device cuda:%d: %w", ordinal, err)
	}
	major, minor, err := dev.ComputeCapability()
	if err != nil {
		return nil, fmt.Errorf("device cuda:%d: compute capability: %w", ordinal, err)
	}
	mods, err := kernels.ForDevice(major, minor)
	if err != nil {
		return nil, fmt.Errorf("device %s: %w", devs[ordinal], err)
	}
	d := &driver{name: devs[ordinal], major: major, minor: minor, fns: map[string]C.CUfunction{}}
	// The context is created current on this locked thread; Do makes it
	// current on whichever thread runs later work.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if d.ctx, err = dev.MakeContext(cu.SchedAuto); err != nil {
		return nil, fmt.Errorf("device %s: create context: %w", d.name, err)
	}
	fail := func(err error) (Backend, error) {
		_ = d.close()
		return nil, fmt.Errorf("device %s: %w", d.name, err)
	}
	for _, m := range mods {
		mod, err := loadModule(m.PTX, m.Entries, d.fns)
		if err != nil {
			return fail(fmt.Errorf("load kernels %s.compute_%d.ptx: %w", m.Name, m.Arch, err))
		}
		d.mods = append(d.mods, mod)
	}
	for i := 0; i < streams; i++ {
		s, err := cu.MakeStream(cu.NonBlocking)
		if err != nil {
			return fail(fmt.Errorf("create stream %d: %w", i, err))
		}
		d.streams = append(d.streams, s)
		d.handles = append(d.handles, streamHandle(s))
		d.args = append(d.args, newArgBlock())
		ev, err := newEvent()
		if err != nil {
			return fail(fmt.Errorf("create event for stream %d: %w", i, err))
		}
		d.events = append(d.events, ev)
	}
	return d, nil
}

func (d *driver) ComputeCapability() (major, minor int) { return d.major, d.minor }

func (d *driver) Counters() Counters { return d.count.Counters() }

func (d *driver) Name() string { return d.name }

func (d *driver) Streams() int { return len(d.streams) }

// Do locks the goroutine to its OS thread and makes the context current
// there; CUDA allows one context to be current on several threads, so each
// stream's replica can issue work concurrently.
func (d *driver) Do(fn func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := cu.SetCurrentContext(d.ctx); err != nil {
		return fmt.Errorf("%s: make context current: %w", d.name, err)
	}
	return fn()
}

func (d *driver) stream(s int) (cu.Stream, error) {
	if s < 0 || s >= len(d.streams) {
		return cu.Stream{}, fmt.Errorf("%s: stream %d out of range (%d streams)", d.name, s, len(d.streams))
	}
	return d.streams[s], nil
}

func (d *driver) Alloc(bytes int) (Ptr, error) {
	p, err := cu.MemAlloc(int64(bytes))
	if err != nil {
		free, total, _ := cu.MemInfo()
		return 0, fmt.Errorf("%s: allocate %d bytes (%d of %d free): %w", d.name, bytes, free, total, err)
	}
	return Ptr(p), nil
}

func (d *driver) Free(p Ptr) error { return cu.MemFree(cu.DevicePtr(p)) }

func (d *driver) HostAlloc(bytes int) (unsafe.Pointer, error) { return hostAlloc(bytes) }

func (d *driver) HostFree(p unsafe.Pointer) error { return hostFree(p) }

func (d *driver) CopyHtoD(dst Ptr, src unsafe.Pointer, bytes int, s int) error {
	st, err := d.stream(s)
	if err != nil {
		return err
	}
	d.count.HtoD(bytes)
	return cu.MemcpyHtoDAsync(cu.DevicePtr(dst), src, int64(bytes), st)
}

func (d *driver) CopyDtoH(dst unsafe.Pointer, src Ptr, bytes int, s int) error {
	st, err := d.stream(s)
	if err != nil {
		return err
	}
	d.count.DtoH(bytes)
	return cu.MemcpyDtoHAsync(dst, cu.DevicePtr(src), int64(bytes), st)
}

func (d *driver) CopyDtoD(dst, src Ptr, bytes int, s int) error {
	st, err := d.stream(s)
	if err != nil {
		return err
	}
	return cu.MemcpyDtoDAsync(cu.DevicePtr(dst), cu.DevicePtr(src), int64(bytes), st)
}

func (d *driver) Zero(dst Ptr, bytes int, s int) error {
	st, err := d.stream(s)
	if err != nil {
		return err
	}
	d.count.Memset()
	return cu.MemsetD8Async(cu.DevicePtr(dst), 0, int64(bytes), st)
}

func (d *driver) Launch(kernel string, grid, block Dim3, s int, args ...any) error {
	return d.launch(kernel, grid, block, 0, s, false, args)
}

func (d *driver) LaunchCooperative(kernel string, grid, block Dim3, sharedBytes, s int, args ...any) error {
	return d.launch(kernel, grid, block, sharedBytes, s, true, args)
}

func (d *driver) launch(kernel string, grid, block Dim3, shared, s int, cooperative bool, args []any) error {
	if s < 0 || s >= len(d.streams) {
		return fmt.Errorf("%s: stream %d out of range (%d streams)", d.name, s, len(d.streams))
	}
	fn, ok := d.fns[kernel]
	if !ok {
		return fmt.Errorf("%s: no kernel named %q in the loaded PTX", d.name, kernel)
	}
	d.count.Launch()
	if err := launchOn(fn, d.args[s], grid, block, shared, d.handles[s], cooperative, args); err != nil {
		return fmt.Errorf("%s: %w", kernel, err)
	}
	return nil
}

func (d *driver) MaxCooperativeBlocks(kernel string, threads, sharedBytes int) (int, error) {
	fn, ok := d.fns[kernel]
	if !ok {
		return 0, fmt.Errorf("%s: no kernel named %q in the loaded PTX", d.name, kernel)
	}
	return maxCoopBlocks(fn, threads, sharedBytes)
}

func (d *driver) Join(from, to int) error {
	if from < 0 || from >= len(d.streams) || to < 0 || to >= len(d.streams) {
		return fmt.Errorf("%s: join of streams %d and %d out of range (%d streams)", d.name, from, to, len(d.streams))
	}
	if from == to {
		return nil
	}
	return joinStreams(d.events[from], d.handles[from], d.handles[to])
}

func (d *driver) Sync(s int) error {
	st, err := d.stream(s)
	if err != nil {
		return err
	}
	d.count.Sync()
	if err := st.Synchronize(); err != nil {
		return fmt.Errorf("%s: stream %d: %w", d.name, s, err)
	}
	return nil
}

func (d *driver) Close() error { return d.Do(d.close) }

func (d *driver) close() error {
	var errs []error
	for i := range d.streams {
		if err := d.streams[i].Destroy(); err != nil {
			errs = append(errs, err)
		}
	}
	for _, ev := range d.events {
		if err := destroyEvent(ev); err != nil {
			errs = append(errs, err)
		}
	}
	for _, a := range d.args {
		a.free()
	}
	for _, m := range d.mods {
		if err := unloadModule(m); err != nil {
			errs = append(errs, err)
		}
	}
	if err := d.ctx.Destroy(); err != nil {
		errs = append(errs, err)
	}
	d.streams, d.handles, d.args, d.events, d.mods, d.fns = nil, nil, nil, nil, nil, nil
	return errors.Join(errs...)
}
