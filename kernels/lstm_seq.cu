// lstm_seq.cu: a whole LSTM layer's recurrence, forward or backward, in one
// persistent cooperative launch per layer, so that the number of launches
// of a training step does not grow with the sequence length.
//
// Each block owns U hidden units (all four gates of units j0..j0+U-1) and
// keeps their slice of W_hh in shared memory for the whole sequence; each
// time step is the recurrent product for those units with the cell fused
// into its epilogue, and one grid-wide barrier between steps publishes the
// new hidden state (forward) or gate gradients (backward) to every block.
// Layouts are those of lstm.cu:
//   G, acts, dG [T][B][4H]  gate blocks i, f, g, o
//   hs, cs      [T+1][B][H] state 0 is the zero initial state
// Rows with t >= lengths[b] are padding and carry their state unchanged.
#include "common.cuh"

template <typename W, typename Low>
inline __device__ void lstm_seq_forward(int T, int B, int H, int U, const int* __restrict__ lengths,
                                        const float* __restrict__ G, const W* __restrict__ w_hh,
                                        const float* __restrict__ bias, float* hs, float* cs,
                                        Low* __restrict__ hs_low, float* __restrict__ acts, unsigned int* bar) {
    DYNAMIC_SHARED(W, wsh); // [4][U][H]: row q*H + j0 + u of w_hh at (q*U + u)*H
    const int j0 = blockIdx.x * U;
    const int un = max(0, min(U, H - j0));
    for (int i = threadIdx.x; i < 4 * un * H; i += blockDim.x) {
        const int q = i / (un * H);
        const int u = i / H % un;
        const int k = i % H;
        wsh[(q * U + u) * H + k] = w_hh[(long long)(q * H + j0 + u) * H + k];
    }
    __syncthreads();
    const long long BH = (long long)B * H;
    for (int t = 0; t < T; t++) {
        const float* h_prev = hs + t * BH;
        const float* c_prev = cs + t * BH;
        for (int p = threadIdx.x; p < B * un; p += blockDim.x) {
            const int b = p / un;
            const int u = p % un;
            const int j = j0 + u;
            const long long idx = (long long)b * H + j;
            const long long g0 = ((long long)t * B + b) * 4 * H + j;
            float c, h;
            if (t < lengths[b]) {
                float pre[4];
                for (int q = 0; q < 4; q++) {
                    pre[q] = G[g0 + q * H] + (bias != nullptr ? bias[q * H + j] : 0.0f);
                }
                const float* hrow = h_prev + (long long)b * H;
                for (int k = 0; k < H; k++) {
                    const float hk = hrow[k];
                    for (int q = 0; q < 4; q++) {
                        pre[q] += hk * to_f32<W>(wsh[(q * U + u) * H + k]);
                    }
                }
                const float ig = sigmoid_f(pre[0]);
                const float fg = sigmoid_f(pre[1]);
                const float gg = tanhf(pre[2]);
                const float og = sigmoid_f(pre[3]);
                c = fg * c_prev[idx] + ig * gg;
                h = og * tanhf(c);
                acts[g0] = ig;
                acts[g0 + H] = fg;
                acts[g0 + 2 * H] = gg;
                acts[g0 + 3 * H] = og;
            } else {
                c = c_prev[idx];
                h = h_prev[idx];
                for (int q = 0; q < 4; q++) {
                    acts[g0 + q * H] = 0.0f;
                }
            }
            cs[(t + 1) * BH + idx] = c;
            hs[(t + 1) * BH + idx] = h;
            if (hs_low != nullptr) {
                hs_low[(t + 1) * BH + idx] = from_f32<Low>(h);
            }
        }
        grid_barrier(bar);
    }
}

// lstm_seq_forward_f32 runs a layer forward over T steps: G holds the input
// projections of every step (biases not added), bias [4H] may be null,
// w_hh is [4H][H]. Launch cooperatively with ceil(H/U) blocks or more and
// 4*U*H*4 bytes of dynamic shared memory; bar is a zeroed pair of words.
// hs_low is unused (pass null).
extern "C" __global__ void lstm_seq_forward_f32(int T, int B, int H, int U, const int* lengths, const float* G,
                                                const float* w_hh, const float* bias, float* hs, float* cs,
                                                float* hs_low, float* acts, unsigned int* bar) {
    lstm_seq_forward<float, float>(T, B, H, U, lengths, G, w_hh, bias, hs, cs, hs_low, acts, bar);
}

// lstm_seq_forward_f16 reads W_hh in fp16 (4*U*H*2 bytes of shared memory)
// and also writes the states in fp16 for the weight-gradient GEMMs.
extern "C" __global__ void lstm_seq_forward_f16(int T, int B, int H, int U, const int* lengths, const float* G,
                                                const __half* w_hh, const float* bias, float* hs, float* cs,
                                                __half* hs_low, float* acts, unsigned int* bar) {
    lstm_seq_forward<__half, __half>(T, B, H, U, lengths, G, w_hh, bias, hs, cs, hs_low, acts, bar);
}

// lstm_seq_forward_bf16 is lstm_seq_forward_f16 in bf16.
extern "C" __global__ void lstm_seq_forward_bf16(int T, int B, int H, int U, const int* lengths, const float* G,
                                                 const __nv_bfloat16* w_hh, const float* bias, float* hs,
                                                 float* cs, __nv_bfloat16* hs_low, float* acts,
                                                 unsigned int* bar) {
    lstm_seq_forward<__nv_bfloat16, __nv_bfloat16>(T, B, H, U, lengths, G, w_hh, bias, hs, cs, hs_low, acts,
                                                   bar);
}

template <typename W, typename Low>
inline __device__ void lstm_seq_backward(int T, int B, int H, int U, const int* __restrict__ lengths,
                                         const float* __restrict__ acts, const float* __restrict__ cs,
                                         const W* __restrict__ w_hh, const float* __restrict__ dh_init,
                                         const float* __restrict__ dpool, const float* __restrict__ dh_ext,
                                         float* __restrict__ dh, float* __restrict__ dc, float* dG,
                                         Low* __restrict__ dG_low, unsigned int* bar) {
    DYNAMIC_SHARED(W, wsh); // [U][4H]: column j0 + u of w_hh at u*4H
    const int G4 = 4 * H;
    const int j0 = blockIdx.x * U;
    const int un = max(0, min(U, H - j0));
    for (int i = threadIdx.x; i < un * G4; i += blockDim.x) {
        const int u = i / G4;
        const int r = i % G4;
        wsh[u * G4 + r] = w_hh[(long long)r * H + j0 + u];
    }
    for (int p = threadIdx.x; p < B * un; p += blockDim.x) {
        const long long idx = (long long)(p / un) * H + j0 + p % un;
        dh[idx] = dh_init != nullptr ? dh_init[idx] : 0.0f;
        dc[idx] = 0.0f;
    }
    __syncthreads();
    const long long BH = (long long)B * H;
    for (int t = T - 1; t >= 0; t--) {
        for (int p = threadIdx.x; p < B * un; p += blockDim.x) {
            const int b = p / un;
            const int u = p % un;
            const int j = j0 + u;
            const long long idx = (long long)b * H + j;
            const long long g0 = ((long long)t * B + b) * G4 + j;
            // The gradient reaching h of state t+1: what step t+1 carried,
            // plus the recurrent part dG[t+1] . W_hh[:, j].
            float d = dh[idx];
            if (t + 1 < T) {
                const float* g = dG + ((long long)(t + 1) * B + b) * G4;
                float s = 0.0f;
                for (int r = 0; r < G4; r++) {
                    s += g[r] * to_f32<W>(wsh[u * G4 + r]);
                }
                d += s;
            }
            const int len = lengths[b];
            float dq[4] = {0.0f, 0.0f, 0.0f, 0.0f};
            if (t < len) {
                if (dpool != nullptr) {
                    d += dpool[idx] / (float)len; // mean pooling over real steps
                }
                if (dh_ext != nullptr) {
                    d += dh_ext[t * BH + idx]; // from the layer above
                }
                const float ig = acts[g0];
                const float fg = acts[g0 + H];
                const float gg = acts[g0 + 2 * H];
                const float og = acts[g0 + 3 * H];
                const float tc = tanhf(cs[(t + 1) * BH + idx]);
                const float dct = dc[idx] + d * og * (1.0f - tc * tc);
                dq[0] = dct * gg * ig * (1.0f - ig);
                dq[1] = dct * cs[t * BH + idx] * fg * (1.0f - fg);
                dq[2] = dct * ig * (1.0f - gg * gg);
                dq[3] = d * tc * og * (1.0f - og);
                dc[idx] = dct * fg;
                dh[idx] = 0.0f; // step t-1 adds dG[t] . W_hh
            } else {
                dh[idx] = d; // padding carried h unchanged, so its gradient too
            }
            for (int q = 0; q < 4; q++) {
                dG[g0 + q * H] = dq[q];
                if (dG_low != nullptr) {
                    dG_low[g0 + q * H] = from_f32<Low>(dq[q]);
                }
            }
        }
        grid_barrier(bar);
    }
}

// lstm_seq_backward_f32 runs a layer backwards through all T steps, writing
// the gate gradients dG of every step. dh_init (nullable) is the gradient
// at h of state T ("last" pooling), dpool (nullable) the mean-pooled
// output's gradient, dh_ext (nullable, [T][B][H]) the gradient from the
// layer above; dh and dc [B][H] are scratch. Launch as the forward kernel,
// with 4*H*U*4 bytes of shared memory. dG_low is unused (pass null).
extern "C" __global__ void lstm_seq_backward_f32(int T, int B, int H, int U, const int* lengths, const float* acts,
                                                 const float* cs, const float* w_hh, const float* dh_init,
                                                 const float* dpool, const float* dh_ext, float* dh, float* dc,
                                                 float* dG, float* dG_low, unsigned int* bar) {
    lstm_seq_backward<float, float>(T, B, H, U, lengths, acts, cs, w_hh, dh_init, dpool, dh_ext, dh, dc, dG,
                                    dG_low, bar);
}

// lstm_seq_backward_f16 reads W_hh in fp16 and also writes dG in fp16 for
// the weight-gradient GEMMs.
extern "C" __global__ void lstm_seq_backward_f16(int T, int B, int H, int U, const int* lengths, const float* acts,
                                                 const float* cs, const __half* w_hh, const float* dh_init,
                                                 const float* dpool, const float* dh_ext, float* dh, float* dc,
                                                 float* dG, __half* dG_low, unsigned int* bar) {
    lstm_seq_backward<__half, __half>(T, B, H, U, lengths, acts, cs, w_hh, dh_init, dpool, dh_ext, dh, dc, dG,
                                      dG_low, bar);
}

// lstm_seq_backward_bf16 is lstm_seq_backward_f16 in bf16.
extern "C" __global__ void lstm_seq_backward_bf16(int T, int B, int H, int U, const int* lengths,
                                                  const float* acts, const float* cs, const __nv_bfloat16* w_hh,
                                                  const float* dh_init, const float* dpool, const float* dh_ext,
                                                  float* dh, float* dc, float* dG, __nv_bfloat16* dG_low,
                                                  unsigned int* bar) {
    lstm_seq_backward<__nv_bfloat16, __nv_bfloat16>(T, B, H, U, lengths, acts, cs, w_hh, dh_init, dpool, dh_ext,
                                                    dh, dc, dG, dG_low, bar);
}
