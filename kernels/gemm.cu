// gemm.cu: matrix multiplies for the input projection, the recurrent step
// and the weight gradients.
//
// Every variant computes C = alpha * op(A) * op(B) + beta * C with row-major
// storage: op(A) is M x K, stored as A [M][lda] when transA == 0 or as
// A [K][lda] (its transpose) when transA != 0; likewise op(B) is K x N.
// C is fp32 in every variant. When beta == 0, C is not read, so it may hold
// garbage (even NaN) on entry.
//
// Split-K: with gridDim.z > 1, block z multiplies only its slice of K and
// adds alpha times its partial product into C atomically. C then keeps its
// value, so beta must be 1 (the weight-gradient GEMMs accumulate anyway);
// this gives a long-K, small-MN product (dW = dG^T x over T*B rows) enough
// blocks to fill the GPU.
#include "common.cuh"

#define F32_TILE 16

// k_slice is block z's part [*k_begin, *k_end) of K, in multiples of tile.
__device__ __forceinline__ void k_slice(int K, int tile, int* k_begin, int* k_end) {
    const int per = ((K + gridDim.z - 1) / gridDim.z + tile - 1) / tile * tile;
    *k_begin = blockIdx.z * per;
    *k_end = min(K, *k_begin + per);
}

// gemm_f32 is the fp32 path: 16x16 output tiles, one per 16x16 block.
extern "C" __global__ void gemm_f32(int transA, int transB, int M, int N, int K, float alpha,
                                    const float* __restrict__ A, int lda,
                                    const float* __restrict__ B, int ldb, float beta,
                                    float* __restrict__ C, int ldc) {
    __shared__ float As[F32_TILE][F32_TILE + 1];
    __shared__ float Bs[F32_TILE][F32_TILE + 1];
    const int tx = threadIdx.x;
    const int ty = threadIdx.y;
    const int row = blockIdx.y * F32_TILE + ty;
    const int col = blockIdx.x * F32_TILE + tx;
    int kb0, kend;
    k_slice(K, F32_TILE, &kb0, &kend);
    float acc = 0.0f;
    for (int k0 = kb0; k0 < kend; k0 += F32_TILE) {
        const int ka = k0 + tx;
        float a = 0.0f;
        if (row < M && ka < kend) {
            a = transA ? A[(long long)ka * lda + row] : A[(long long)row * lda + ka];
        }
        As[ty][tx] = a;
        const int kb = k0 + ty;
        float b = 0.0f;
        if (kb < kend && col < N) {
            b = transB ? B[(long long)col * ldb + kb] : B[(long long)kb * ldb + col];
        }
        Bs[ty][tx] = b;
        __syncthreads();
        for (int k = 0; k < F32_TILE; k++) {
            acc += As[ty][k] * Bs[k][tx];
        }
        __syncthreads();
    }
    if (row < M && col < N) {
        float c = alpha * acc;
        if (gridDim.z > 1) {
            atomicAdd(&C[(long long)row * ldc + col], c);
        } else {
            if (beta != 0.0f) {
                c += beta * C[(long long)row * ldc + col];
            }
            C[(long long)row * ldc + col] = c;
        }
    }
}

// Tensor-core tiling: a 128-thread block (4 warps in 2x2) computes a 64x64
// tile of C; each warp owns 32x32, i.e. 2x2 WMMA 16x16x16 fragments, and
// takes K in steps of 32 (two MMAs per fragment between barriers). Tiles
// of A and B are staged in shared memory with zero padding outside the
// matrix, so any M, N, K work (no multiple-of-16 requirement), and the
// transposes are resolved while staging so the fragments are always
// row-major.
#define WM_BM 64
#define WM_BN 64
#define WM_BK 32
#define WM_LDA (WM_BK + 8) // padded leading dimensions: multiples of 8
#define WM_LDB (WM_BN + 8) // halves (16 bytes) as WMMA requires, and
#define WM_LDC (WM_BN + 4) // off the shared-memory bank period
#define WM_THREADS 128

template <typename T>
inline __device__ void gemm_wmma(int transA, int transB, int M, int N, int K, float alpha,
                                 const T* __restrict__ A, int lda, const T* __restrict__ B, int ldb,
                                 float beta, float* __restrict__ C, int ldc) {
    using namespace nvcuda;
    __shared__ __align__(32) T As[WM_BM * WM_LDA];
    __shared__ __align__(32) T Bs[WM_BK * WM_LDB];
    __shared__ __align__(32) float Cs[WM_BM * WM_LDC];

    const int tid = threadIdx.x;
    const int warp = tid / WARP_SIZE;
    const int wm = warp / 2;
    const int wn = warp % 2;
    const int m0 = blockIdx.y * WM_BM;
    const int n0 = blockIdx.x * WM_BN;
    const T zero = from_f32<T>(0.0f);

    wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[2][2];
    for (int i = 0; i < 2; i++) {
        for (int j = 0; j < 2; j++) {
            wmma::fill_fragment(acc[i][j], 0.0f);
        }
    }

    int kb0, kend;
    k_slice(K, WM_BK, &kb0, &kend);
    for (int k0 = kb0; k0 < kend; k0 += WM_BK) {
        // Consecutive threads read consecutive addresses in either layout.
        for (int i = tid; i < WM_BM * WM_BK; i += blockDim.x) {
            const int r = transA ? i % WM_BM : i / WM_BK;
            const int k = transA ? i / WM_BM : i % WM_BK;
            const int gm = m0 + r;
            const int gk = k0 + k;
            T v = zero;
            if (gm < M && gk < kend) {
                v = transA ? A[(long long)gk * lda + gm] : A[(long long)gm * lda + gk];
            }
            As[r * WM_LDA + k] = v;
        }
        for (int i = tid; i < WM_BK * WM_BN; i += blockDim.x) {
            const int k = transB ? i % WM_BK : i / WM_BN;
            const int c = transB ? i / WM_BK : i % WM_BN;
            const int gk = k0 + k;
            const int gn = n0 + c;
            T v = zero;
            if (gk < kend && gn < N) {
                v = transB ? B[(long long)gn * ldb + gk] : B[(long long)gk * ldb + gn];
            }
            Bs[k * WM_LDB + c] = v;
        }
        __syncthreads();
        for (int kk = 0; kk < WM_BK; kk += 16) {
            wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> fa[2];
            wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::row_major> fb[2];
            for (int i = 0; i < 2; i++) {
                wmma::load_matrix_sync(fa[i], As + (wm * 32 + i * 16) * WM_LDA + kk, WM_LDA);
            }
            for (int j = 0; j < 2; j++) {
                wmma::load_matrix_sync(fb[j], Bs + kk * WM_LDB + wn * 32 + j * 16, WM_LDB);
            }
            for (int i = 0; i < 2; i++) {
                for (int j = 0; j < 2; j++) {
                    wmma::mma_sync(acc[i][j], fa[i], fb[j], acc[i][j]);
                }
            }
        }
        __syncthreads();
    }
    for (int i = 0; i < 2; i++) {
        for (int j = 0; j < 2; j++) {
            wmma::store_matrix_sync(Cs + (wm * 32 + i * 16) * WM_LDC + wn * 32 + j * 16, acc[i][j],
                                    WM_LDC, wmma::mem_row_major);
        }
    }
    __syncthreads();
    for (int i = tid; i < WM_BM * WM_BN; i += blockDim.x) {
        const int r = i / WM_BN;
        const int c = i % WM_BN;
        const int gm = m0 + r;
        const int gn = n0 + c;
        if (gm < M && gn < N) {
            float v = alpha * Cs[r * WM_LDC + c];
            if (gridDim.z > 1) {
                atomicAdd(&C[(long long)gm * ldc + gn], v);
            } else {
                if (beta != 0.0f) {
                    v += beta * C[(long long)gm * ldc + gn];
                }
                C[(long long)gm * ldc + gn] = v;
            }
        }
    }
}

// gemm_f16 multiplies fp16 matrices on tensor cores with fp32 accumulation.
// Launch with 128 threads and grid (ceil(N/64), ceil(M/64), split-K slices).
extern "C" __global__ void __launch_bounds__(WM_THREADS)
    gemm_f16(int transA, int transB, int M, int N, int K, float alpha, const __half* A, int lda,
             const __half* B, int ldb, float beta, float* C, int ldc) {
    gemm_wmma<__half>(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

// gemm_bf16 is gemm_f16 for bf16 inputs (tensor cores of sm_80 and later).
extern "C" __global__ void __launch_bounds__(WM_THREADS)
    gemm_bf16(int transA, int transB, int M, int N, int K, float alpha, const __nv_bfloat16* A,
              int lda, const __nv_bfloat16* B, int ldb, float beta, float* C, int ldc) {
    gemm_wmma<__nv_bfloat16>(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
