// lstm.cu: the fused LSTM cell, forward and backward, one time step per
// launch; the host loops over the sequence and runs the recurrent GEMM
// between steps.
//
// Layouts (time-major, row-major within a step):
//   G     [T][B][4H]  gate pre-activations, gate blocks i, f, g, o (PyTorch
//                     order); the input projection and the recurrent GEMM
//                     have already been added, the biases are added here.
//   hs,cs [T+1][B][H] hidden and cell states, hs[0] = cs[0] = 0.
//   acts  [T][B][4H]  activated gates saved for the backward pass.
// Rows with t >= lengths[b] are padding: their state is carried unchanged,
// so hs[T] holds every row's state after its last real token.
#include "common.cuh"

template <typename Low>
inline __device__ void lstm_cell_forward(int t, int B, int H, const int* __restrict__ lengths,
                                         const float* __restrict__ G, const float* __restrict__ b_ih,
                                         const float* __restrict__ b_hh, const float* __restrict__ c_prev,
                                         const float* __restrict__ h_prev, float* __restrict__ c_out,
                                         float* __restrict__ h_out, Low* __restrict__ h_low,
                                         float* __restrict__ acts) {
    GRID_STRIDE(idx, (long long)B * H) {
        const int b = (int)(idx / H);
        const int j = (int)(idx % H);
        const long long g0 = (long long)b * 4 * H + j;
        float c, h;
        if (t < lengths[b]) {
            float pre[4];
            for (int q = 0; q < 4; q++) {
                float v = G[g0 + q * H];
                if (b_ih != nullptr) {
                    v += b_ih[q * H + j];
                }
                if (b_hh != nullptr) {
                    v += b_hh[q * H + j];
                }
                pre[q] = v;
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
        c_out[idx] = c;
        h_out[idx] = h;
        if (h_low != nullptr) {
            h_low[idx] = from_f32<Low>(h);
        }
    }
}

// lstm_cell_forward_f32 runs step t: G, acts point at step t's [B][4H]
// block, c_prev/h_prev at state t and c_out/h_out at state t+1. b_ih and
// b_hh may be null. h_low is unused (pass null).
extern "C" __global__ void lstm_cell_forward_f32(int t, int B, int H, const int* lengths, const float* G,
                                                 const float* b_ih, const float* b_hh, const float* c_prev,
                                                 const float* h_prev, float* c_out, float* h_out,
                                                 float* h_low, float* acts) {
    lstm_cell_forward<float>(t, B, H, lengths, G, b_ih, b_hh, c_prev, h_prev, c_out, h_out, h_low, acts);
}

// lstm_cell_forward_f16 also writes h in fp16 for the next GEMMs.
extern "C" __global__ void lstm_cell_forward_f16(int t, int B, int H, const int* lengths, const float* G,
                                                 const float* b_ih, const float* b_hh, const float* c_prev,
                                                 const float* h_prev, float* c_out, float* h_out,
                                                 __half* h_low, float* acts) {
    lstm_cell_forward<__half>(t, B, H, lengths, G, b_ih, b_hh, c_prev, h_prev, c_out, h_out, h_low, acts);
}

// lstm_cell_forward_bf16 also writes h in bf16 for the next GEMMs.
extern "C" __global__ void lstm_cell_forward_bf16(int t, int B, int H, const int* lengths, const float* G,
                                                  const float* b_ih, const float* b_hh, const float* c_prev,
                                                  const float* h_prev, float* c_out, float* h_out,
                                                  __nv_bfloat16* h_low, float* acts) {
    lstm_cell_forward<__nv_bfloat16>(t, B, H, lengths, G, b_ih, b_hh, c_prev, h_prev, c_out, h_out, h_low,
                                     acts);
}

template <typename Low>
inline __device__ void lstm_cell_backward(int t, int B, int H, const int* __restrict__ lengths,
                                          const float* __restrict__ acts, const float* __restrict__ c_prev,
                                          const float* __restrict__ c_cur, const float* __restrict__ dh_in,
                                          const float* __restrict__ dpool, const float* __restrict__ dh_ext,
                                          float* __restrict__ dc,
                                          float* __restrict__ dh_out, float* __restrict__ dG,
                                          Low* __restrict__ dG_low) {
    GRID_STRIDE(idx, (long long)B * H) {
        const int b = (int)(idx / H);
        const int j = (int)(idx % H);
        const long long g0 = (long long)b * 4 * H + j;
        const int len = lengths[b];
        float dh = dh_in[idx];
        float d[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        if (t < len) {
            if (dpool != nullptr) {
                dh += dpool[idx] / (float)len; // mean pooling over real steps
            }
            if (dh_ext != nullptr) {
                dh += dh_ext[idx]; // from the layer above
            }
            const float ig = acts[g0];
            const float fg = acts[g0 + H];
            const float gg = acts[g0 + 2 * H];
            const float og = acts[g0 + 3 * H];
            const float tc = tanhf(c_cur[idx]);
            const float dct = dc[idx] + dh * og * (1.0f - tc * tc);
            d[0] = dct * gg * ig * (1.0f - ig);
            d[1] = dct * c_prev[idx] * fg * (1.0f - fg);
            d[2] = dct * ig * (1.0f - gg * gg);
            d[3] = dh * tc * og * (1.0f - og);
            dc[idx] = dct * fg;
            dh_out[idx] = 0.0f; // the recurrent GEMM adds dG . W_hh here
        } else {
            dh_out[idx] = dh; // padding carried h unchanged, so its gradient too
        }
        for (int q = 0; q < 4; q++) {
            dG[g0 + q * H] = d[q];
            if (dG_low != nullptr) {
                dG_low[g0 + q * H] = from_f32<Low>(d[q]);
            }
        }
    }
}

// lstm_cell_backward_f32 runs step t backwards. dh_in is the gradient
// reaching h at state t+1 from later steps; dpool (nullable) the gradient of
// the mean-pooled output; dc holds the gradient at c of state t+1 on entry
// and state t on exit; dh_out receives the carried part of the gradient at
// h of state t (the host then adds dG . W_hh); dh_ext (nullable) is step
// t's gradient arriving from the layer above; dG gets the gradient of
// step t's gate pre-activations. dG_low is unused (pass null).
extern "C" __global__ void lstm_cell_backward_f32(int t, int B, int H, const int* lengths, const float* acts,
                                                  const float* c_prev, const float* c_cur, const float* dh_in,
                                                  const float* dpool, const float* dh_ext, float* dc, float* dh_out,
                                                  float* dG,
                                                  float* dG_low) {
    lstm_cell_backward<float>(t, B, H, lengths, acts, c_prev, c_cur, dh_in, dpool, dh_ext, dc, dh_out, dG,
                              dG_low);
}

// lstm_cell_backward_f16 also writes dG in fp16 for the GEMMs.
extern "C" __global__ void lstm_cell_backward_f16(int t, int B, int H, const int* lengths, const float* acts,
                                                  const float* c_prev, const float* c_cur, const float* dh_in,
                                                  const float* dpool, const float* dh_ext, float* dc, float* dh_out,
                                                  float* dG,
                                                  __half* dG_low) {
    lstm_cell_backward<__half>(t, B, H, lengths, acts, c_prev, c_cur, dh_in, dpool, dh_ext, dc, dh_out, dG,
                              dG_low);
}

// lstm_cell_backward_bf16 also writes dG in bf16 for the GEMMs.
extern "C" __global__ void lstm_cell_backward_bf16(int t, int B, int H, const int* lengths, const float* acts,
                                                   const float* c_prev, const float* c_cur, const float* dh_in,
                                                   const float* dpool, const float* dh_ext, float* dc, float* dh_out,
                                                  float* dG,
                                                   __nv_bfloat16* dG_low) {
    lstm_cell_backward<__nv_bfloat16>(t, B, H, lengths, acts, c_prev, c_cur, dh_in, dpool, dh_ext, dc, dh_out,
                                      dG, dG_low);
}
