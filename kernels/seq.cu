// seq.cu: the sequence plumbing of a bidirectional layer. The reverse
// direction runs the same kernels as the forward one (the input projection
// GEMM, lstm_seq_forward and lstm_seq_backward) on each row's real steps
// mirrored: its step t of row b is position len_b-1-t, so its padding stays
// after the real steps, as the recurrence kernels expect. seq_copy moves
// time-major sequences [T][B][W] (any row stride) between the two orders:
// it mirrors the layer's input for the reverse direction, joins both
// directions' states into the next layer's input [T][B][2H], splits that
// input's gradient back into each direction's order, and adds the reverse
// direction's input gradient into the forward one's.
#include "common.cuh"

template <typename T>
inline __device__ void seq_copy(int T_, int B, int W, const int* __restrict__ lengths, int mirror,
                                const T* src, int lds, T* dst, int ldd, int add) {
    GRID_STRIDE(i, (long long)T_ * B * W) {
        const int w = (int)(i % W);
        const long long r = i / W;
        const int b = (int)(r % B);
        const int t = (int)(r / B);
        const int len = lengths[b];
        T* d = dst + ((long long)t * B + b) * ldd + w;
        if (t >= len) {
            if (add == 0) {
                *d = from_f32<T>(0.0f); // padding: finite, so that a GEMM over it adds nothing
            }
            continue;
        }
        const int s = mirror != 0 ? len - 1 - t : t;
        const T v = src[((long long)s * B + b) * lds + w];
        *d = add != 0 ? from_f32<T>(to_f32<T>(*d) + to_f32<T>(v)) : v;
    }
}

// seq_copy_f32 sets (add = 0) or adds to (add != 0) dst[t][b][0:W], row
// stride ldd, the value of src[s][b][0:W], row stride lds, for each row's
// real steps t < lengths[b], where s is t, or len-1-t when mirror is set.
// Padding steps are zeroed when add is 0 and left alone otherwise. src and
// dst must not overlap.
extern "C" __global__ void seq_copy_f32(int T, int B, int W, const int* lengths, int mirror, const float* src,
                                        int lds, float* dst, int ldd, int add) {
    seq_copy<float>(T, B, W, lengths, mirror, src, lds, dst, ldd, add);
}

// seq_copy_f16 is seq_copy_f32 on fp16 sequences (the GEMM inputs under
// fp16 mixed precision).
extern "C" __global__ void seq_copy_f16(int T, int B, int W, const int* lengths, int mirror, const __half* src,
                                        int lds, __half* dst, int ldd, int add) {
    seq_copy<__half>(T, B, W, lengths, mirror, src, lds, dst, ldd, add);
}

// seq_copy_bf16 is seq_copy_f32 on bf16 sequences.
extern "C" __global__ void seq_copy_bf16(int T, int B, int W, const int* lengths, int mirror,
                                         const __nv_bfloat16* src, int lds, __nv_bfloat16* dst, int ldd, int add) {
    seq_copy<__nv_bfloat16>(T, B, W, lengths, mirror, src, lds, dst, ldd, add);
}
