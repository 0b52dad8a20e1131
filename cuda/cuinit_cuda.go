//go:build cuda

package cuda

/*
#cgo LDFLAGS: -lcuda -ldl
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
#include <cuda.h>

// gorgonia.org/cu calls cuInit from its package initialiser and exits the
// process when it fails, before main can say anything useful. This
// definition interposes on libcuda's cuInit for every caller in the binary:
// it calls the real one, keeps its result for Open to report, and lets the
// initialiser continue. No other CUDA call runs before Open checks the
// result.
static CUresult trainer_init_result = CUDA_ERROR_NOT_INITIALIZED;
static int trainer_init_called = 0;

CUresult cuInit(unsigned int flags) {
	CUresult (*real)(unsigned int) = (CUresult (*)(unsigned int))dlsym(RTLD_NEXT, "cuInit");
	trainer_init_called = 1;
	if (real == NULL) {
		trainer_init_result = CUDA_ERROR_NOT_INITIALIZED;
		return CUDA_SUCCESS;
	}
	trainer_init_result = real(flags);
	return CUDA_SUCCESS;
}

static CUresult trainer_init_status(void) {
	if (!trainer_init_called) {
		return cuInit(0);
	}
	return trainer_init_result;
}

static const char* trainer_error_name(CUresult r) {
	const char* s = NULL;
	if (cuGetErrorName(r, &s) != CUDA_SUCCESS || s == NULL) {
		return "unknown CUDA error";
	}
	return s;
}

static CUresult trainer_host_alloc(void** p, size_t n) { return cuMemAllocHost(p, n); }
static CUresult trainer_host_free(void* p) { return cuMemFreeHost(p); }
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// initError explains why the CUDA driver did not initialise, or is nil.
func initError() error {
	r := C.trainer_init_status()
	if r == C.CUDA_SUCCESS {
		return nil
	}
	name := C.GoString(C.trainer_error_name(r))
	switch r {
	case C.CUDA_ERROR_NO_DEVICE:
		return fmt.Errorf("CUDA driver found but no CUDA device is visible (%s): check nvidia-smi, CUDA_VISIBLE_DEVICES, and --gpus all for containers", name)
	case C.CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE, 35: // 35: CUDA_ERROR_INSUFFICIENT_DRIVER, absent from some cuda.h
		return fmt.Errorf("the NVIDIA driver is too old for this build (%s): update the driver", name)
	case C.CUDA_ERROR_STUB_LIBRARY:
		// Also the answer of the CUDA container image run without a GPU:
		// it carries a stub libcuda.so.1 so that the binary starts at all.
		return fmt.Errorf("no NVIDIA driver: libcuda.so.1 is a stub (%s): install the driver or fix LD_LIBRARY_PATH; "+
			"in a container, run with --gpus all or --device nvidia.com/gpu=all (nvidia-container-toolkit)", name)
	case C.CUDA_ERROR_NOT_INITIALIZED:
		return fmt.Errorf("the CUDA driver library could not be initialised (%s): is the NVIDIA driver installed?", name)
	}
	return fmt.Errorf("CUDA driver initialisation failed: %s", name)
}

// hostAlloc returns page-locked host memory.
func hostAlloc(bytes int) (unsafe.Pointer, error) {
	var p unsafe.Pointer
	if r := C.trainer_host_alloc(&p, C.size_t(bytes)); r != C.CUDA_SUCCESS {
		return nil, fmt.Errorf("pinned host allocation of %d bytes: %s", bytes, C.GoString(C.trainer_error_name(r)))
	}
	return p, nil
}

// hostFree releases hostAlloc memory.
func hostFree(p unsafe.Pointer) error {
	if r := C.trainer_host_free(p); r != C.CUDA_SUCCESS {
		return fmt.Errorf("free pinned host memory: %s", C.GoString(C.trainer_error_name(r)))
	}
	return nil
}
