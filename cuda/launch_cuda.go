//go:build cuda

package cuda

/*
#include <stdint.h>
#include <stdlib.h>
#include <cuda.h>

static const char* launch_error_name(CUresult r) {
	const char* s = NULL;
	if (cuGetErrorName(r, &s) != CUDA_SUCCESS || s == NULL) {
		return "unknown CUDA error";
	}
	return s;
}

// load_module JIT-compiles PTX, keeping the driver's error log, which names
// the line and the problem, for the message when it fails.
static CUresult load_module(CUmodule* mod, const char* ptx, char* log, size_t log_size) {
	CUjit_option opts[2] = {CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
	void* vals[2] = {log, (void*)(uintptr_t)log_size};
	return cuModuleLoadDataEx(mod, ptx, 2, opts, vals);
}

static CUresult launch(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                       unsigned shared, void* stream, void** args, int cooperative) {
	if (cooperative) {
		return cuLaunchCooperativeKernel(f, gx, gy, gz, bx, by, bz, shared, (CUstream)stream, args);
	}
	return cuLaunchKernel(f, gx, gy, gz, bx, by, bz, shared, (CUstream)stream, args, NULL);
}

static CUresult max_coop_blocks(CUfunction f, int threads, size_t shared, int* out) {
	int per_sm = 0, sms = 0;
	CUdevice dev;
	CUresult r = cuOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, f, threads, shared);
	if (r != CUDA_SUCCESS) return r;
	if ((r = cuCtxGetDevice(&dev)) != CUDA_SUCCESS) return r;
	if ((r = cuDeviceGetAttribute(&sms, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, dev)) != CUDA_SUCCESS) return r;
	*out = per_sm * sms;
	return CUDA_SUCCESS;
}

static CUresult event_create(void** ev) { return cuEventCreate((CUevent*)ev, CU_EVENT_DISABLE_TIMING); }
static CUresult event_join(void* ev, void* from, void* to) {
	CUresult r = cuEventRecord((CUevent)ev, (CUstream)from);
	if (r != CUDA_SUCCESS) return r;
	return cuStreamWaitEvent((CUstream)to, (CUevent)ev, 0);
}
static CUresult event_destroy(void* ev) { return cuEventDestroy((CUevent)ev); }
static CUresult module_get(CUfunction* f, CUmodule m, const char* name) { return cuModuleGetFunction(f, m, name); }
static CUresult module_unload(CUmodule m) { return cuModuleUnload(m); }
*/
import "C"

import (
	"errors"
	"fmt"
	"strings"
	"unsafe"

	"gorgonia.org/cu"
)

// maxArgs bounds a kernel's parameter count (the widest, adamw_resident,
// has 22).
const maxArgs = 32

// argBlock is one stream's kernel-argument memory in C: values and the
// pointers to them that cuLaunchKernel reads. The driver copies the
// arguments during the call, so one block per stream serves every launch,
// and a launch allocates nothing.
type argBlock struct {
	vals *[maxArgs]uint64
	ptrs *[maxArgs]unsafe.Pointer
}

func newArgBlock() argBlock {
	vals := (*[maxArgs]uint64)(C.calloc(maxArgs, 8))
	ptrs := (*[maxArgs]unsafe.Pointer)(C.calloc(maxArgs, C.size_t(unsafe.Sizeof(uintptr(0)))))
	for i := range ptrs {
		ptrs[i] = unsafe.Pointer(&vals[i])
	}
	return argBlock{vals, ptrs}
}

func (a argBlock) free() {
	C.free(unsafe.Pointer(a.vals))
	C.free(unsafe.Pointer(a.ptrs))
}

// cuErr turns a driver result into an error naming it.
func cuErr(r C.CUresult) error {
	if r == C.CUDA_SUCCESS {
		return nil
	}
	return errors.New(C.GoString(C.launch_error_name(r)))
}

// loadModule JIT-compiles one PTX module and looks up its kernels, adding
// them to fns. A failure reports the driver's JIT log.
func loadModule(ptx string, entries []string, fns map[string]C.CUfunction) (C.CUmodule, error) {
	const logSize = 16 << 10
	text := C.CString(ptx)
	defer C.free(unsafe.Pointer(text))
	log := (*C.char)(C.calloc(logSize, 1))
	defer C.free(unsafe.Pointer(log))
	var mod C.CUmodule
	if r := C.load_module(&mod, text, log, logSize); r != C.CUDA_SUCCESS {
		msg := strings.TrimSpace(C.GoString(log))
		if msg == "" {
			msg = "the driver gave no log"
		}
		return nil, fmt.Errorf("%w; JIT log: %s", cuErr(r), strings.ReplaceAll(msg, "\n", "; "))
	}
	for _, e := range entries {
		name := C.CString(e)
		var f C.CUfunction
		r := C.module_get(&f, mod, name)
		C.free(unsafe.Pointer(name))
		if r != C.CUDA_SUCCESS {
			_ = C.module_unload(mod)
			return nil, fmt.Errorf("kernel %s: %w", e, cuErr(r))
		}
		fns[e] = f
	}
	return mod, nil
}

func unloadModule(m C.CUmodule) error { return cuErr(C.module_unload(m)) }

// streamHandle is the driver's handle of a gorgonia stream.
func streamHandle(s cu.Stream) unsafe.Pointer { return *(*unsafe.Pointer)(unsafe.Pointer(&s)) }

// launchOn queues a kernel with its arguments packed into the stream's
// argument block.
func launchOn(f C.CUfunction, a argBlock, grid, block Dim3, shared int, stream unsafe.Pointer, cooperative bool, args []any) error {
	if len(args) > maxArgs {
		return fmt.Errorf("%d kernel arguments, at most %d", len(args), maxArgs)
	}
	if err := packArgsInto(a.vals[:len(args)], args); err != nil {
		return err
	}
	coop := C.int(0)
	if cooperative {
		coop = 1
	}
	g := func(v int) C.uint { return C.uint(max(v, 1)) }
	r := C.launch(f, g(grid.X), g(grid.Y), g(grid.Z), g(block.X), g(block.Y), g(block.Z), C.uint(shared), stream,
		(*unsafe.Pointer)(unsafe.Pointer(a.ptrs)), coop)
	return cuErr(r)
}

func maxCoopBlocks(f C.CUfunction, threads, shared int) (int, error) {
	var n C.int
	if err := cuErr(C.max_coop_blocks(f, C.int(threads), C.size_t(shared), &n)); err != nil {
		return 0, err
	}
	return int(n), nil
}

func newEvent() (unsafe.Pointer, error) {
	var ev unsafe.Pointer
	if err := cuErr(C.event_create(&ev)); err != nil {
		return nil, err
	}
	return ev, nil
}

func joinStreams(ev, from, to unsafe.Pointer) error { return cuErr(C.event_join(ev, from, to)) }

func destroyEvent(ev unsafe.Pointer) error { return cuErr(C.event_destroy(ev)) }
