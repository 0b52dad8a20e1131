// ngram.cu: the wide n-gram path of model/ngram.go. Each review's word
// n-gram features hold one scalar each in the "wide" table, and a row's
// logit gains WideWeight(n) * (sum of its n features' values), with
// WideWeight(n) = WIDE_SCALE / sqrt(n).
//
// The features are computed here from the batch's token ids, so the host
// uploads nothing beyond the batch. They go to feats [B][stride] in
// model.NgramFeatures' order: row b's first lengths[b] entries are its
// unigrams (the token ids), then its bigrams, then its trigrams, each the
// hashed row of the run starting at each position. Entries past a row's
// count are never written nor read.
#include "common.cuh"

// NgramFeatures' hash (model/ngram.go): 64-bit FNV-1a's offset basis and
// prime. A model file's weights depend on them, so they must never change.
#define NGRAM_BASIS 14695981039346656037ull
#define NGRAM_PRIME 1099511628211ull

// WIDE_SCALE is model.WideScale, the wide path's fixed gain.
#define WIDE_SCALE 32.0

// ngram_count is the number of features of a review of len tokens with
// n-grams up to N: one run of n ids for each of its len-n+1 positions.
__device__ __forceinline__ int ngram_count(int len, int N) {
    int c = 0;
    for (int n = 1; n <= N; n++) {
        c += max(len - n + 1, 0);
    }
    return c;
}

// wide_weight is model.WideWeight: computed in double and rounded once, as
// the CPU does, so that both multiply by the same float.
__device__ __forceinline__ float wide_weight(int count) {
    return count == 0 ? 0.0f : (float)(WIDE_SCALE / sqrt((double)count));
}

// ngram_hash is model's ngramHash of the n ids at run: FNV-1a over the ids
// as uint32 words, started from the basis xor n, then h ^= h >> 32.
__device__ __forceinline__ unsigned long long ngram_hash(const int* run, int n) {
    unsigned long long h = NGRAM_BASIS ^ (unsigned long long)n;
    for (int k = 0; k < n; k++) {
        h = (h ^ (unsigned long long)(unsigned int)run[k]) * NGRAM_PRIME;
    }
    return h ^ (h >> 32);
}

// ngram_features writes the features of every row of a batch (tokens
// [B][ldt] row-major, lengths [B], at most T real tokens a row) into feats
// [B][stride], stride >= N*T. One thread per position writes the features
// of the runs that start there: the unigram (the id, or -1 for an id
// outside the vocabulary, which the host never sends and the other kernels
// skip) and, for each n in 2..N that fits, V + hash mod buckets.
extern "C" __global__ void ngram_features(const int* __restrict__ tokens, const int* __restrict__ lengths, int B,
                                          int T, int ldt, int V, int N, int buckets, int stride,
                                          int* __restrict__ feats) {
    GRID_STRIDE(i, (long long)B * T) {
        const int b = (int)(i / T);
        const int t = (int)(i % T);
        const int len = min(lengths[b], T);
        if (t >= len) {
            continue;
        }
        const int* row = tokens + (long long)b * ldt;
        int* out = feats + (long long)b * stride;
        const int id = row[t];
        out[t] = (id >= 0 && id < V) ? id : -1;
        int off = len; // where the n-grams of the next n begin
        for (int n = 2; n <= N && t + n <= len; n++) {
            out[off + t] = V + (int)(ngram_hash(row + t, n) % (unsigned long long)buckets);
            off += len - n + 1;
        }
    }
}

// ngram_forward runs one block (a multiple of 32 threads) per row and
// writes out[b] = wide_weight(count) * (sum of wide[f] over the row's
// features): the wide term of its logit, which bce_head_forward adds.
// Features outside the W rows of the table count for nothing.
extern "C" __global__ void ngram_forward(int B, int T, int N, int stride, const int* __restrict__ lengths,
                                         const int* __restrict__ feats, const float* __restrict__ wide, int W,
                                         float* __restrict__ out) {
    const int b = blockIdx.x;
    if (b >= B) {
        return; // uniform per block, so no thread misses the barriers below
    }
    const int count = ngram_count(min(lengths[b], T), N);
    const int* f = feats + (long long)b * stride;
    float s = 0.0f;
    for (int j = threadIdx.x; j < count; j += blockDim.x) {
        const int id = f[j];
        if (id >= 0 && id < W) {
            s += wide[id];
        }
    }
    s = block_sum(s);
    if (threadIdx.x == 0) {
        out[b] = wide_weight(count) * s;
    }
}

// ngram_backward adds dlogit[b] * wide_weight(count) into dwide [W] for
// every feature of row b, once per occurrence (rows and features repeat,
// hence the atomics). With mask not null it also sets mask[f] = 1 for every
// feature: the wide rows a lazy update steps.
extern "C" __global__ void ngram_backward(int B, int T, int N, int stride, const int* __restrict__ lengths,
                                          const int* __restrict__ feats, const float* __restrict__ dlogit, int W,
                                          float* dwide, int* mask) {
    GRID_STRIDE(i, (long long)B * stride) {
        const int b = (int)(i / stride);
        const int j = (int)(i % stride);
        const int count = ngram_count(min(lengths[b], T), N);
        if (j >= count) {
            continue;
        }
        const int id = feats[i];
        if (id < 0 || id >= W) {
            continue;
        }
        atomicAdd(&dwide[id], dlogit[b] * wide_weight(count));
        if (mask != nullptr) {
            mask[id] = 1;
        }
    }
}
