//go:build amd64 && !purego

#include "textflag.h"

// ROW(acc0, acc1, addr, bc): broadcast A's value at addr and accumulate its
// product with the two B vectors Y12, Y13.
#define ROW(acc0, acc1, addr, bc) \
	VBROADCASTSS addr, bc; \
	VFMADD231PS Y12, bc, acc0; \
	VFMADD231PS Y13, bc, acc1

// STORE(acc0, acc1): C row at DI += (acc0, acc1); DI moves to the next row.
#define STORE(acc0, acc1) \
	VADDPS (DI), acc0, acc0; \
	VMOVUPS acc0, (DI); \
	VADDPS 32(DI), acc1, acc1; \
	VMOVUPS acc1, 32(DI); \
	ADDQ R9, DI

// SET(acc0, acc1): C row at DI = (acc0, acc1); DI moves to the next row.
#define SET(acc0, acc1) \
	VMOVUPS acc0, (DI); \
	VMOVUPS acc1, 32(DI); \
	ADDQ R9, DI

// GEMMARGS loads the arguments every packed kernel takes.
#define GEMMARGS \
	MOVQ k+0(FP), CX; \
	MOVQ a+8(FP), AX; \
	MOVQ lda+16(FP), R8; \
	SHLQ $2, R8; \
	MOVQ b+24(FP), BX; \
	MOVQ c+32(FP), DI; \
	MOVQ ldc+40(FP), R9; \
	SHLQ $2, R9; \
	MOVBQZX set+48(FP), R10

// func gemm6x16AVX2(k int, a *float32, lda int, b *float32, c *float32, ldc int, set bool)
// C[6x16] += A[6xk] * B[kx16], or = when set: A row-major with stride
// lda, B packed (16 consecutive values per k), C row-major with stride
// ldc. k >= 1.
TEXT ·gemm6x16AVX2(SB), NOSPLIT, $0-49
	GEMMARGS
	LEAQ (AX)(R8*2), DX
	ADDQ R8, DX // DX = row 3
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
loop:
	VMOVUPS (BX), Y12
	VMOVUPS 32(BX), Y13
	ROW(Y0, Y1, (AX), Y14)
	ROW(Y2, Y3, (AX)(R8*1), Y15)
	ROW(Y4, Y5, (AX)(R8*2), Y14)
	ROW(Y6, Y7, (DX), Y15)
	ROW(Y8, Y9, (DX)(R8*1), Y14)
	ROW(Y10, Y11, (DX)(R8*2), Y15)
	ADDQ $4, AX
	ADDQ $4, DX
	ADDQ $64, BX
	DECQ CX
	JNZ loop
	TESTQ R10, R10
	JNZ set6
	STORE(Y0, Y1)
	STORE(Y2, Y3)
	STORE(Y4, Y5)
	STORE(Y6, Y7)
	STORE(Y8, Y9)
	STORE(Y10, Y11)
	VZEROUPPER
	RET
set6:
	SET(Y0, Y1)
	SET(Y2, Y3)
	SET(Y4, Y5)
	SET(Y6, Y7)
	SET(Y8, Y9)
	SET(Y10, Y11)
	VZEROUPPER
	RET

// The remainder kernels: C[r x 16] (+)= A[r x k] * B for r = 4, 2 and 1
// rows, with the 6-row kernel's order of operations and arguments, so
// that a row gets the same bits whichever kernel computes it. They take the last m%6 rows of a product in place, where a 6-row
// call would need zero-padded copies and cost a whole block.

// func gemm4x16AVX2(k int, a *float32, lda int, b *float32, c *float32, ldc int, set bool)
TEXT ·gemm4x16AVX2(SB), NOSPLIT, $0-49
	GEMMARGS
	LEAQ (AX)(R8*2), DX // DX = row 2
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
loop4:
	VMOVUPS (BX), Y12
	VMOVUPS 32(BX), Y13
	ROW(Y0, Y1, (AX), Y14)
	ROW(Y2, Y3, (AX)(R8*1), Y15)
	ROW(Y4, Y5, (DX), Y14)
	ROW(Y6, Y7, (DX)(R8*1), Y15)
	ADDQ $4, AX
	ADDQ $4, DX
	ADDQ $64, BX
	DECQ CX
	JNZ loop4
	TESTQ R10, R10
	JNZ set4
	STORE(Y0, Y1)
	STORE(Y2, Y3)
	STORE(Y4, Y5)
	STORE(Y6, Y7)
	VZEROUPPER
	RET
set4:
	SET(Y0, Y1)
	SET(Y2, Y3)
	SET(Y4, Y5)
	SET(Y6, Y7)
	VZEROUPPER
	RET

// func gemm2x16AVX2(k int, a *float32, lda int, b *float32, c *float32, ldc int, set bool)
TEXT ·gemm2x16AVX2(SB), NOSPLIT, $0-49
	GEMMARGS
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
loop2:
	VMOVUPS (BX), Y12
	VMOVUPS 32(BX), Y13
	ROW(Y0, Y1, (AX), Y14)
	ROW(Y2, Y3, (AX)(R8*1), Y15)
	ADDQ $4, AX
	ADDQ $64, BX
	DECQ CX
	JNZ loop2
	TESTQ R10, R10
	JNZ set2
	STORE(Y0, Y1)
	STORE(Y2, Y3)
	VZEROUPPER
	RET
set2:
	SET(Y0, Y1)
	SET(Y2, Y3)
	VZEROUPPER
	RET

// func gemm1x16AVX2(k int, a *float32, lda int, b *float32, c *float32, ldc int, set bool)
TEXT ·gemm1x16AVX2(SB), NOSPLIT, $0-49
	GEMMARGS
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
loop1:
	VMOVUPS (BX), Y12
	VMOVUPS 32(BX), Y13
	ROW(Y0, Y1, (AX), Y14)
	ADDQ $4, AX
	ADDQ $64, BX
	DECQ CX
	JNZ loop1
	TESTQ R10, R10
	JNZ set1
	STORE(Y0, Y1)
	VZEROUPPER
	RET
set1:
	SET(Y0, Y1)
	VZEROUPPER
	RET
