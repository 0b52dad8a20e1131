// emu_cuda.h: a host emulation of the CUDA built-ins the kernels in
// kernels/ use, so that the same .cu sources compile with a host C++
// compiler and run on the CPU.
//
// Execution model: a launch runs one block at a time (a cooperative launch
// runs all its blocks at once, so that grid barriers can complete); the block's threads
// are cooperative fibers (ucontext) on the calling OS thread, each with its
// own stack, so __shared__ (a function-local static here) is private to the
// running block. __syncthreads and __syncwarp are real barriers: a fiber
// that reaches one yields until every live thread of the block (or warp)
// has arrived; a thread that returns early counts as arrived, as on the
// GPU. Warp shuffles exchange through a per-warp slot array between two
// warp barriers. Runs are deterministic: fibers switch only at barriers. WMMA fragments hold a whole 16x16
// tile in float per thread (inputs are exact fp16/bf16 values, products and
// sums in fp32), and only lane 0 writes a stored fragment. Launches are
// serialised by a mutex.
#ifndef TRAINER_EMU_CUDA_H
#define TRAINER_EMU_CUDA_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <type_traits>

using std::max;
using std::min;

struct dim3 {
    unsigned int x, y, z;
    constexpr dim3(unsigned int x_ = 1, unsigned int y_ = 1, unsigned int z_ = 1) : x(x_), y(y_), z(z_) {}
};

namespace emu {

// Thread is what a kernel thread sees of itself.
struct Thread {
    dim3 tid, bid, bdim, gdim;
    int linear; // linear thread index within the block
    int slot;   // the block's index among the blocks running together
    int global; // the thread's index among all threads running together
};

// cur is the kernel thread running on this OS thread.
extern thread_local Thread* cur;

// launch runs body as a grid of blocks on the host; it returns after every
// thread has finished. Launches are serialised. A cooperative launch runs
// all blocks at once (as fibers of one scheduler), so gridsync completes;
// otherwise blocks run one after another.
void launch(dim3 grid, dim3 block, const std::function<void()>& body, bool cooperative, size_t shared_bytes);

void syncthreads();
void syncwarp();
// gridsync waits for every thread of a cooperative launch.
void gridsync();
// dynamic_shared is the running block's dynamic shared memory.
void* dynamic_shared();
uint64_t shfl(uint64_t v, int src_lane);

inline int lane() { return cur->linear % 32; }

} // namespace emu

#define threadIdx (emu::cur->tid)
#define blockIdx (emu::cur->bid)
#define blockDim (emu::cur->bdim)
#define gridDim (emu::cur->gdim)

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static
#define __align__(n) __attribute__((aligned(n)))
#define __launch_bounds__(...)

// Dynamic shared memory: per block, sized by the launch.
#define DYNAMIC_SHARED(T, name) T* name = static_cast<T*>(emu::dynamic_shared())

inline void __syncthreads() { emu::syncthreads(); }
inline void __syncwarp(unsigned = 0xffffffffu) { emu::syncwarp(); }

template <typename T> inline T __shfl_xor_sync(unsigned, T v, int lane_mask) {
    static_assert(sizeof(T) <= 8, "shuffle of a type wider than 64 bits");
    uint64_t bits = 0;
    memcpy(&bits, &v, sizeof(T));
    bits = emu::shfl(bits, emu::lane() ^ lane_mask);
    T out;
    memcpy(&out, &bits, sizeof(T));
    return out;
}

template <typename T> inline T __shfl_down_sync(unsigned, T v, unsigned delta) {
    uint64_t bits = 0;
    memcpy(&bits, &v, sizeof(T));
    int src = emu::lane() + (int)delta;
    bits = emu::shfl(bits, src < 32 ? src : emu::lane());
    T out;
    memcpy(&out, &bits, sizeof(T));
    return out;
}

// Atomics on host memory through the compiler's builtins.
inline float atomicAdd(float* addr, float v) {
    uint32_t old_bits = __atomic_load_n(reinterpret_cast<uint32_t*>(addr), __ATOMIC_RELAXED);
    for (;;) {
        float old_val;
        memcpy(&old_val, &old_bits, 4);
        float nv = old_val + v;
        uint32_t new_bits;
        memcpy(&new_bits, &nv, 4);
        if (__atomic_compare_exchange_n(reinterpret_cast<uint32_t*>(addr), &old_bits, new_bits, false,
                                        __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
            return old_val;
        }
    }
}
inline int atomicAdd(int* addr, int v) { return __atomic_fetch_add(addr, v, __ATOMIC_RELAXED); }
inline int atomicExch(int* addr, int v) { return __atomic_exchange_n(addr, v, __ATOMIC_RELAXED); }

// __half and __nv_bfloat16 store their bits; conversions round to nearest
// even like the hardware's _rn intrinsics.
struct __half {
    uint16_t x;
};
struct __nv_bfloat16 {
    uint16_t x;
};

inline float __half2float(__half h) {
    const uint32_t sign = (uint32_t)(h.x & 0x8000u) << 16;
    const uint32_t exp = (h.x >> 10) & 0x1fu;
    const uint32_t man = h.x & 0x3ffu;
    uint32_t bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { // subnormal: value = man * 2^-24
            float f = (float)man * 5.9604644775390625e-8f;
            memcpy(&bits, &f, 4);
            bits |= sign;
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 112u) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

inline __half __float2half_rn(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    const uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    const uint32_t ax = x & 0x7fffffffu;
    __half h;
    if (ax >= 0x7f800000u) { // inf or NaN
        h.x = sign | 0x7c00u | (ax > 0x7f800000u ? 0x200u : 0u);
        return h;
    }
    if (ax >= 0x477ff000u) { // rounds to >= 65520: overflow to inf
        h.x = sign | 0x7c00u;
        return h;
    }
    if (ax < 0x38800000u) { // below the smallest normal half: subnormal or zero
        // value / 2^-24, rounded to nearest even by the FPU (exact scaling).
        float a;
        memcpy(&a, &ax, 4);
        float q = a * 16777216.0f; // 2^24
        float r = nearbyintf(q);   // default rounding mode is nearest-even
        h.x = sign | (uint16_t)r;
        return h;
    }
    // Normal: rebias and round the 13 dropped mantissa bits to nearest even.
    uint32_t e = ((ax >> 23) - 112u) << 10;
    uint32_t m = (ax >> 13) & 0x3ffu;
    uint32_t v = e | m;
    const uint32_t rest = ax & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (v & 1u))) {
        v++;
    }
    h.x = sign | (uint16_t)v;
    return h;
}
inline __half __float2half(float f) { return __float2half_rn(f); }

inline float __bfloat162float(__nv_bfloat16 b) {
    uint32_t bits = (uint32_t)b.x << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

inline __nv_bfloat16 __float2bfloat16_rn(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    __nv_bfloat16 b;
    if ((x & 0x7fffffffu) > 0x7f800000u) { // NaN stays a quiet NaN
        b.x = (uint16_t)((x >> 16) | 0x40u);
        return b;
    }
    const uint32_t lsb = (x >> 16) & 1u;
    x += 0x7fffu + lsb;
    b.x = (uint16_t)(x >> 16);
    return b;
}
inline __nv_bfloat16 __float2bfloat16(float f) { return __float2bfloat16_rn(f); }

inline float emu_to_float(float v) { return v; }
inline float emu_to_float(__half v) { return __half2float(v); }
inline float emu_to_float(__nv_bfloat16 v) { return __bfloat162float(v); }

// nvcuda::wmma: the 16x16x16 fragment operations the GEMM kernels use.
namespace nvcuda {
namespace wmma {

struct row_major {};
struct col_major {};
struct matrix_a {};
struct matrix_b {};
struct accumulator {};
enum layout_t { mem_row_major, mem_col_major };

template <typename Use, int M, int N, int K, typename T, typename Layout = void> struct fragment {
    static_assert(M == 16 && N == 16 && K == 16, "emulated WMMA supports 16x16x16 only");
    static constexpr int num_elements = 256;
    float x[256]; // the whole tile, row-major, in every lane
};

template <typename Use, typename T, typename Layout>
inline void load_matrix_sync(fragment<Use, 16, 16, 16, T, Layout>& f, const T* p, unsigned ldm) {
    const bool col = std::is_same<Layout, col_major>::value;
    for (int r = 0; r < 16; r++) {
        for (int c = 0; c < 16; c++) {
            f.x[r * 16 + c] = emu_to_float(col ? p[c * ldm + r] : p[r * ldm + c]);
        }
    }
    emu::syncwarp();
}

inline void load_matrix_sync(fragment<accumulator, 16, 16, 16, float>& f, const float* p, unsigned ldm,
                             layout_t layout) {
    for (int r = 0; r < 16; r++) {
        for (int c = 0; c < 16; c++) {
            f.x[r * 16 + c] = layout == mem_col_major ? p[c * ldm + r] : p[r * ldm + c];
        }
    }
    emu::syncwarp();
}

template <typename Use, typename T, typename Layout>
inline void fill_fragment(fragment<Use, 16, 16, 16, T, Layout>& f, float v) {
    for (int i = 0; i < 256; i++) {
        f.x[i] = v;
    }
}

template <typename TA, typename LA, typename TB, typename LB>
inline void mma_sync(fragment<accumulator, 16, 16, 16, float>& d, const fragment<matrix_a, 16, 16, 16, TA, LA>& a,
                     const fragment<matrix_b, 16, 16, 16, TB, LB>& b,
                     const fragment<accumulator, 16, 16, 16, float>& c) {
    float out[256];
    for (int r = 0; r < 16; r++) {
        for (int col = 0; col < 16; col++) {
            float s = c.x[r * 16 + col];
            for (int k = 0; k < 16; k++) {
                s += a.x[r * 16 + k] * b.x[k * 16 + col];
            }
            out[r * 16 + col] = s;
        }
    }
    memcpy(d.x, out, sizeof(out));
}

inline void store_matrix_sync(float* p, const fragment<accumulator, 16, 16, 16, float>& f, unsigned ldm,
                              layout_t layout) {
    emu::syncwarp();
    if (emu::lane() == 0) {
        for (int r = 0; r < 16; r++) {
            for (int c = 0; c < 16; c++) {
                if (layout == mem_col_major) {
                    p[c * ldm + r] = f.x[r * 16 + c];
                } else {
                    p[r * ldm + c] = f.x[r * 16 + c];
                }
            }
        }
    }
    emu::syncwarp();
}

} // namespace wmma
} // namespace nvcuda

#endif // TRAINER_EMU_CUDA_H
