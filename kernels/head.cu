// head.cu: pooling over time, the linear head with BCE-with-logits loss and
// correct count, and their backward pass.
#include "common.cuh"

// pool_mean_forward averages h over each row's real steps: hs points at
// state 1 of the [T+1][B][H] states (so hs[t] is the output of step t),
// pooled is [B][H].
extern "C" __global__ void pool_mean_forward(int B, int T, int H, const int* __restrict__ lengths,
                                             const float* __restrict__ hs, float* __restrict__ pooled) {
    GRID_STRIDE(idx, (long long)B * H) {
        const int b = (int)(idx / H);
        const int len = lengths[b];
        float s = 0.0f;
        for (int t = 0; t < len && t < T; t++) {
            s += hs[(long long)t * B * H + idx];
        }
        pooled[idx] = s / (float)len;
    }
}

// pool_max_forward takes each feature's maximum over a row's real steps:
// hs points at state 1 of one direction's [T+1][B][H] states, in that
// direction's own step order; pooled[b*ldp + j] gets the maximum and
// argmax[b*ldp + j] the step it came from, the first such step on ties (a
// later step must be strictly greater), as the CPU's max pooling does. A
// bidirectional layer pools each direction into its half of the row (ldp
// = 2H, pooled and argmax offset by H for the reverse one).
extern "C" __global__ void pool_max_forward(int B, int T, int H, const int* __restrict__ lengths,
                                            const float* __restrict__ hs, int ldp, float* __restrict__ pooled,
                                            int* __restrict__ argmax) {
    GRID_STRIDE(idx, (long long)B * H) {
        const int b = (int)(idx / H);
        const int j = (int)(idx % H);
        const int len = min(lengths[b], T);
        float best = hs[idx];
        int at = 0;
        for (int t = 1; t < len; t++) {
            const float v = hs[(long long)t * B * H + idx];
            if (v > best) {
                best = v;
                at = t;
            }
        }
        pooled[(long long)b * ldp + j] = best;
        argmax[(long long)b * ldp + j] = at;
    }
}

// pool_max_backward routes the pooled gradient (dpooled[b*ldp + j]) to the
// step pool_max_forward took it from: dh [T][B][H], in the direction's
// step order, is set to it there and to zero at every other step, padding
// included, so that it serves as the recurrence's gradient from above.
extern "C" __global__ void pool_max_backward(int B, int T, int H, const int* __restrict__ argmax,
                                             const float* __restrict__ dpooled, int ldp, float* __restrict__ dh) {
    GRID_STRIDE(i, (long long)T * B * H) {
        const int j = (int)(i % H);
        const long long r = i / H;
        const int b = (int)(r % B);
        const int t = (int)(r / B);
        const long long p = (long long)b * ldp + j;
        dh[i] = argmax[p] == t ? dpooled[p] : 0.0f;
    }
}

// bce_head_forward runs one block (a multiple of 32 threads) per row:
// logit = pooled[b] . w + bias[0], plus wide[b], the row's term of the wide
// n-gram path (ngram.cu), when wide is not null; the loss log(1+e^z) - y z,
// computed stably, is added to loss_sum[0] and the correct prediction (z > 0
// for label 1, z <= 0 for label 0) to correct[0]; dlogit = scale (sigmoid(z)
// - y) is the loss gradient times the loss scale.
extern "C" __global__ void bce_head_forward(int B, int H, const float* __restrict__ pooled,
                                            const float* __restrict__ w, const float* __restrict__ bias,
                                            const float* __restrict__ wide, const float* __restrict__ labels,
                                            float loss_scale, float* __restrict__ logits, float* __restrict__ dlogit,
                                            float* loss_sum, int* correct) {
    const int b = blockIdx.x;
    if (b >= B) {
        return; // uniform per block, so no thread misses the barriers below
    }
    float s = 0.0f;
    for (int j = threadIdx.x; j < H; j += blockDim.x) {
        s += pooled[(long long)b * H + j] * w[j];
    }
    s = block_sum(s);
    if (threadIdx.x == 0) {
        float z = s + bias[0];
        if (wide != nullptr) {
            z += wide[b];
        }
        const float y = labels[b];
        const float loss = fmaxf(z, 0.0f) - z * y + log1pf(expf(-fabsf(z)));
        logits[b] = z;
        dlogit[b] = loss_scale * (sigmoid_f(z) - y);
        atomicAdd(loss_sum, loss);
        const int pred = z > 0.0f ? 1 : 0;
        atomicAdd(correct, pred == (y > 0.5f ? 1 : 0) ? 1 : 0);
    }
}

// bce_head_backward adds the head's weight and bias gradients into dw [H]
// and dbias [1] and writes the gradient of the pooled output, dpooled [B][H].
// H is the pooled width: 2 x hidden for a bidirectional layer.
extern "C" __global__ void bce_head_backward(int B, int H, const float* __restrict__ pooled,
                                             const float* __restrict__ w, const float* __restrict__ dlogit,
                                             float* __restrict__ dw, float* __restrict__ dbias,
                                             float* __restrict__ dpooled) {
    GRID_STRIDE(j, H) {
        float s = 0.0f;
        for (int b = 0; b < B; b++) {
            const float d = dlogit[b];
            s += d * pooled[(long long)b * H + j];
            dpooled[(long long)b * H + j] = d * w[j];
        }
        dw[j] += s;
        if (j == 0) {
            float sb = 0.0f;
            for (int b = 0; b < B; b++) {
                sb += dlogit[b];
            }
            dbias[0] += sb;
        }
    }
}
