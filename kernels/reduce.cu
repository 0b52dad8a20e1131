// reduce.cu: the reductions the backward pass and the optimizer need.
#include "common.cuh"

// colsum_f32 adds the column sums of X [R][N] into out [N] (bias gradients).
// Launch with grid (ceil(N/blockDim.x), any) and a one-dimensional block:
// each block.y slice of rows adds its partial sums atomically.
extern "C" __global__ void colsum_f32(int R, int N, const float* __restrict__ X, float* out) {
    const int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= N) {
        return;
    }
    const int per = (R + gridDim.y - 1) / gridDim.y;
    const int r0 = blockIdx.y * per;
    const int r1 = min(R, r0 + per);
    float s = 0.0f;
    for (int r = r0; r < r1; r++) {
        s += X[(long long)r * N + j];
    }
    if (r1 > r0) {
        atomicAdd(&out[j], s);
    }
}

// sumsq_f32 adds the sum of squares of x [n] to out[0] (the global gradient
// norm for clipping). blockDim.x must be a multiple of 32.
extern "C" __global__ void sumsq_f32(long long n, const float* __restrict__ x, float* out) {
    float s = 0.0f;
    GRID_STRIDE(i, n) {
        s += x[i] * x[i];
    }
    s = block_sum(s);
    if (threadIdx.x == 0) {
        atomicAdd(out, s);
    }
}
