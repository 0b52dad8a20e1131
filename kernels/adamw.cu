// adamw.cu: the AdamW update on fp32 master weights, with the optional
// low-precision copy the mixed-precision forward pass reads.
#include "common.cuh"

// adamw_step updates p, m, v [n] in place from the gradients g, in the same
// arithmetic as the CPU optimizer (torch.optim.AdamW):
//   g' = g * gscale            (1/batch, clipping and unscaling in one factor)
//   m  = beta1 m + ob1 g'      (ob1 = 1-beta1, computed in double on the host)
//   v  = beta2 v + ob2 g'^2
//   p  = p * decay - step_size * m / (sqrt(v) / c2 + eps)
// with decay = 1 - lr*weight_decay, step_size = lr / (1-beta1^step) and
// c2 = sqrt(1-beta2^step). p16 and pbf16, when not null, receive the
// updated weights in fp16 / bf16.
extern "C" __global__ void adamw_step(long long n, float* __restrict__ p, const float* __restrict__ g,
                                      float* __restrict__ m, float* __restrict__ v, float beta1, float beta2,
                                      float ob1, float ob2, float step_size, float c2, float eps, float decay,
                                      float gscale, __half* __restrict__ p16, __nv_bfloat16* __restrict__ pbf16) {
    GRID_STRIDE(i, n) {
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
