// amp.cu: mixed-precision support: loss-scale arithmetic, the finite check
// that decides whether an optimizer step is skipped, and precision casts.
#include "common.cuh"

// scale_f32 multiplies x [n] by s in place.
extern "C" __global__ void scale_f32(long long n, float* x, float s) {
    GRID_STRIDE(i, n) {
        x[i] *= s;
    }
}

// unscale_check_f32 multiplies the gradients g [n] by inv_scale and sets
// found_inf[0] to 1 if any result is infinite or NaN. found_inf is only ever
// set, never cleared, so the host zeroes it before the step.
extern "C" __global__ void unscale_check_f32(long long n, float* g, float inv_scale, int* found_inf) {
    GRID_STRIDE(i, n) {
        const float v = g[i] * inv_scale;
        g[i] = v;
        if (!isfinite(v)) {
            atomicExch(found_inf, 1);
        }
    }
}

// cast_f32_f16 converts x [n] to fp16 with round-to-nearest-even.
extern "C" __global__ void cast_f32_f16(long long n, const float* __restrict__ x, __half* __restrict__ y) {
    GRID_STRIDE(i, n) {
        y[i] = __float2half_rn(x[i]);
    }
}

// cast_f32_bf16 converts x [n] to bf16 with round-to-nearest-even.
extern "C" __global__ void cast_f32_bf16(long long n, const float* __restrict__ x,
                                         __nv_bfloat16* __restrict__ y) {
    GRID_STRIDE(i, n) {
        y[i] = __float2bfloat16_rn(x[i]);
    }
}
