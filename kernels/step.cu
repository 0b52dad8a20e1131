// step.cu: the device-resident optimizer step. The host enqueues a whole
// step without waiting for its results, so every decision that depends on
// the gradients (skip on overflow, clip by the global norm, which embedding
// rows a lazy update touches) is taken here, from values the step itself
// wrote to device memory.
#include "common.cuh"

// StepStats is the block of device memory a step reports through; the host
// reads it back once, after the step:
//   [0] loss sum (float)   [1] correct count (int)
//   [2] found_inf (int)    [3] sum of squares of the unscaled gradient (float)
#define STAT_LOSS 0
#define STAT_CORRECT 1
#define STAT_FOUND 2
#define STAT_SUMSQ 3

// grad_unscale_sumsq multiplies the gradients g [n] by inv_scale, flags a
// non-finite result in stats[STAT_FOUND] and adds the sum of squares of the
// results to stats[STAT_SUMSQ]: the overflow check and the clipping norm in
// one pass over the gradient. blockDim.x must be a multiple of 32.
extern "C" __global__ void grad_unscale_sumsq(long long n, float* g, float inv_scale, float* stats) {
    float s = 0.0f;
    GRID_STRIDE(i, n) {
        const float v = g[i] * inv_scale;
        g[i] = v;
        if (!isfinite(v)) {
            atomicExch(reinterpret_cast<int*>(stats) + STAT_FOUND, 1);
        }
        s += v * v;
    }
    s = block_sum(s);
    if (threadIdx.x == 0) {
        atomicAdd(stats + STAT_SUMSQ, s);
    }
}

// mark_rows sets mask[tok] = 1 for the token of every real position of a
// batch (tokens [B][ldt], lengths [B]): the embedding rows a lazy update
// touches. The mask is cleared before each step. The rows of the wide
// n-gram table that follow in the mask are marked by ngram_backward, which
// has the batch's features at hand.
extern "C" __global__ void mark_rows(const int* __restrict__ tokens, const int* __restrict__ lengths, int B, int T,
                                     int ldt, int V, int* mask) {
    GRID_STRIDE(i, (long long)B * T) {
        const int b = (int)(i / T);
        const int t = (int)(i % T);
        if (t < lengths[b]) {
            const int tok = tokens[(long long)b * ldt + t];
            if (tok >= 0 && tok < V) {
                mask[tok] = 1;
            }
        }
    }
}

// add_f32 adds src [n] into dst: gradients of several streams summed on
// the device.
extern "C" __global__ void add_f32(long long n, float* __restrict__ dst, const float* __restrict__ src) {
    GRID_STRIDE(i, n) {
        dst[i] += src[i];
    }
}

// adamw_resident is adamw_step (adamw.cu) for a step the host has not
// waited for. It reads the step's stats: on a non-finite gradient it
// changes nothing (the step is skipped); otherwise the gradient scale is
// inv_batch times the clipping factor max_norm / (norm + 1e-6) when the
// mean gradient's norm sqrt(sumsq) * inv_batch exceeds max_norm > 0. With
// a row mask [V + W], parameters of unmarked rows are left out entirely,
// moments included (lazy update of the lookup tables): in [emb_lo, emb_lo +
// V*E) the embedding's, row (index - emb_lo) / E marked at row_mask[row];
// in [wide_lo, wide_lo + W) the wide n-gram table's (W is 0 without one),
// one value a row, marked at row_mask[V + index - wide_lo].
extern "C" __global__ void adamw_resident(long long n, float* __restrict__ p, const float* __restrict__ g,
                                          float* __restrict__ m, float* __restrict__ v, float beta1, float beta2,
                                          float ob1, float ob2, float step_size, float c2, float eps, float decay,
                                          float inv_batch, float max_norm, const float* __restrict__ stats,
                                          const int* __restrict__ row_mask, long long emb_lo, int V, int E,
                                          long long wide_lo, int W, __half* __restrict__ p16,
                                          __nv_bfloat16* __restrict__ pbf16) {
    const float sumsq = stats[STAT_SUMSQ];
    if (reinterpret_cast<const int*>(stats)[STAT_FOUND] != 0 || !isfinite(sumsq)) {
        return;
    }
    const float norm = sqrtf(sumsq) * inv_batch;
    const float clip = (max_norm > 0.0f && norm > max_norm) ? max_norm / (norm + 1e-6f) : 1.0f;
    const float gscale = inv_batch * clip;
    GRID_STRIDE(i, n) {
        if (row_mask != nullptr) {
            if (i >= emb_lo && i < emb_lo + (long long)V * E && row_mask[(i - emb_lo) / E] == 0) {
                continue;
            }
            if (i >= wide_lo && i < wide_lo + W && row_mask[V + (i - wide_lo)] == 0) {
                continue;
            }
        }
        const float gi = g[i] * gscale;
        const float mi = beta1 * m[i] + ob1 * gi;
        const float vi = beta2 * v[i] + ob2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        const float pi = p[i] * decay - step_size * mi / (sqrtf(vi) / c2 + eps);
        p[i] = pi;
        if (p16 != nullptr) {
            p16[i] = __float2half_rn(pi);
        }
        if (pbf16 != nullptr) {
            pbf16[i] = __float2bfloat16_rn(pi);
        }
    }
}
