// embed.cu: embedding lookup and its gradient scatter.
//
// Activations are time-major, [T][B][E], so that the input projection of
// all time steps is one GEMM and step t's rows are one contiguous block.
#include "common.cuh"

template <typename T>
inline __device__ void embed_forward(const int* __restrict__ tokens, const float* __restrict__ table,
                                     T* __restrict__ out, int B, int T_, int ldt, int E, int V) {
    GRID_STRIDE(i, (long long)T_ * B * E) {
        const int e = (int)(i % E);
        const long long r = i / E;
        const int b = (int)(r % B);
        const int t = (int)(r / B);
        const int tok = tokens[(long long)b * ldt + t];
        // The host validates ids; an id out of range still never reads
        // outside the table.
        const float v = (tok >= 0 && tok < V) ? table[(long long)tok * E + e] : 0.0f;
        out[i] = from_f32<T>(v);
    }
}

// embed_forward_f32 gathers rows of the fp32 table: tokens [B][ldt]
// row-major (ldt >= T: a batch may be wider than its longest row), out
// [T][B][E].
extern "C" __global__ void embed_forward_f32(const int* tokens, const float* table, float* out,
                                             int B, int T, int ldt, int E, int V) {
    embed_forward<float>(tokens, table, out, B, T, ldt, E, V);
}

// embed_forward_f16 gathers rows of the fp32 master table into fp16.
extern "C" __global__ void embed_forward_f16(const int* tokens, const float* table, __half* out,
                                             int B, int T, int ldt, int E, int V) {
    embed_forward<__half>(tokens, table, out, B, T, ldt, E, V);
}

// embed_forward_bf16 gathers rows of the fp32 master table into bf16.
extern "C" __global__ void embed_forward_bf16(const int* tokens, const float* table,
                                              __nv_bfloat16* out, int B, int T, int ldt, int E, int V) {
    embed_forward<__nv_bfloat16>(tokens, table, out, B, T, ldt, E, V);
}

// embed_backward adds dx [T][B][E] into the rows of dtable [V][E] named by
// the tokens, for real (unpadded) positions only. Rows repeat within a
// batch, hence the atomics.
extern "C" __global__ void embed_backward(const int* __restrict__ tokens, const int* __restrict__ lengths,
                                          const float* __restrict__ dx, float* dtable,
                                          int B, int T, int ldt, int E, int V) {
    GRID_STRIDE(i, (long long)T * B * E) {
        const int e = (int)(i % E);
        const long long r = i / E;
        const int b = (int)(r % B);
        const int t = (int)(r / B);
        if (t >= lengths[b]) {
            continue;
        }
        const int tok = tokens[(long long)b * ldt + t];
        if (tok < 0 || tok >= V) {
            continue;
        }
        atomicAdd(&dtable[(long long)tok * E + e], dx[i]);
    }
}
