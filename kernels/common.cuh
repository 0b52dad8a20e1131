// common.cuh: helpers shared by every kernel file.
//
// The same sources compile two ways: with nvcc to PTX for the GPU, and with
// a host C++ compiler (TRAINER_EMU defined) against an emulation of the CUDA
// built-ins, so that every kernel can be checked on machines without a GPU.
#ifndef TRAINER_KERNELS_COMMON_CUH
#define TRAINER_KERNELS_COMMON_CUH

#ifdef TRAINER_EMU
#include "emu_cuda.h"
#else
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include <mma.h>
#endif

#define WARP_SIZE 32

// Every kernel walks its elements with a grid-stride loop, so any grid size
// is correct and the launcher picks one for occupancy alone.
#define GRID_STRIDE(i, n)                                                   \
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;    \
         i < (long long)(n); i += (long long)blockDim.x * gridDim.x)

__device__ __forceinline__ float sigmoid_f(float x) {
    return 1.0f / (1.0f + expf(-x));
}

// Storage-type conversions, so one template serves fp32, fp16 and bf16.
template <typename T> __device__ __forceinline__ float to_f32(T v);
template <> __device__ __forceinline__ float to_f32<float>(float v) { return v; }
template <> __device__ __forceinline__ float to_f32<__half>(__half v) { return __half2float(v); }
template <> __device__ __forceinline__ float to_f32<__nv_bfloat16>(__nv_bfloat16 v) { return __bfloat162float(v); }

template <typename T> __device__ __forceinline__ T from_f32(float v);
template <> __device__ __forceinline__ float from_f32<float>(float v) { return v; }
template <> __device__ __forceinline__ __half from_f32<__half>(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ __nv_bfloat16 from_f32<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }

// warp_sum returns the sum of v over the 32 lanes of the warp to every lane.
__device__ __forceinline__ float warp_sum(float v) {
    for (int off = WARP_SIZE / 2; off > 0; off >>= 1) {
        v += __shfl_xor_sync(0xffffffffu, v, off);
    }
    return v;
}

// block_sum returns the sum of v over a one-dimensional block to every
// thread. blockDim.x must be a multiple of 32 and every thread must call it.
__device__ __forceinline__ float block_sum(float v) {
    __shared__ float partial[WARP_SIZE];
    const int lane = threadIdx.x % WARP_SIZE;
    const int warp = threadIdx.x / WARP_SIZE;
    const int warps = blockDim.x / WARP_SIZE;
    v = warp_sum(v);
    __syncthreads(); // a previous call may still be reading partial
    if (lane == 0) {
        partial[warp] = v;
    }
    __syncthreads();
    float t = lane < warps ? partial[lane] : 0.0f;
    return warp_sum(t);
}

// DYNAMIC_SHARED declares name as the block's dynamic shared memory (the
// size is the launch's), as an array of T.
#ifndef TRAINER_EMU
#define DYNAMIC_SHARED(T, name)                                             \
    extern __shared__ __align__(16) unsigned char name##_bytes[];           \
    T* name = reinterpret_cast<T*>(name##_bytes)
#endif

// grid_barrier waits until every thread of every block of a cooperative
// launch (cuLaunchCooperativeKernel, which guarantees that all blocks are
// resident) has arrived. bar[0] counts arriving blocks and bar[1] is the
// generation; both start at zero, and the barrier leaves bar[0] at zero
// again, so one zeroed pair of words serves every launch on a stream.
__device__ __forceinline__ void grid_barrier(unsigned int* bar) {
#ifdef TRAINER_EMU
    (void)bar;
    emu::gridsync();
#else
    __syncthreads();
    if (threadIdx.x == 0 && threadIdx.y == 0 && threadIdx.z == 0) {
        const unsigned int blocks = gridDim.x * gridDim.y * gridDim.z;
        volatile unsigned int* gen = bar + 1;
        const unsigned int mine = *gen; // cannot advance before this block arrives
        __threadfence();                // this block's writes before its arrival
        if (atomicAdd(bar, 1u) == blocks - 1) {
            atomicExch(bar, 0u);
            __threadfence();
            atomicAdd(bar + 1, 1u);
        } else {
            while (*gen == mine) {
            }
        }
        __threadfence(); // the other blocks' writes before this block reads
    }
    __syncthreads();
#endif
}

#endif // TRAINER_KERNELS_COMMON_CUH
