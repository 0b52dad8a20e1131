// emu_selftest.cc: kernels that check the emulator itself, so that a
// kernel test passing on the host means what it would on the GPU. They are
// not part of kernels/ and never reach the PTX.
#include "../../kernels/common.cuh"
#include "emu_registry.h"

// Each thread writes shared memory, then after the barrier reads its right
// neighbour's slot: without a real barrier the neighbour has not written.
extern "C" __global__ void selftest_barrier(int* out) {
    __shared__ int s[1024];
    s[threadIdx.x] = (int)(threadIdx.x + 1000 * blockIdx.x);
    __syncthreads();
    out[blockIdx.x * blockDim.x + threadIdx.x] = s[(threadIdx.x + 1) % blockDim.x];
}

// Threads at or past `active` return at once; the rest meet at a barrier,
// which must not wait for the ones that left.
extern "C" __global__ void selftest_early_exit(int* out, int active) {
    __shared__ int s[1024];
    if ((int)threadIdx.x >= active) {
        return;
    }
    s[threadIdx.x] = (int)threadIdx.x;
    __syncthreads();
    out[threadIdx.x] = s[active - 1 - (int)threadIdx.x];
}

// One block_sum per block, twice in a row (the shared scratch is reused).
extern "C" __global__ void selftest_block_sum(const float* x, float* out) {
    const float v = x[blockIdx.x * blockDim.x + threadIdx.x];
    const float a = block_sum(v);
    const float b = block_sum(2.0f * v);
    if (threadIdx.x == 0) {
        out[2 * blockIdx.x] = a;
        out[2 * blockIdx.x + 1] = b;
    }
}

// __shfl_down_sync by 3: lanes 29..31 keep their own value.
extern "C" __global__ void selftest_shfl_down(float* out) {
    out[threadIdx.x] = __shfl_down_sync(0xffffffffu, (float)threadIdx.x, 3);
}

EMU_KERNEL(selftest_barrier)
EMU_KERNEL(selftest_early_exit)
EMU_KERNEL(selftest_block_sum)
EMU_KERNEL(selftest_shfl_down)
