//go:build amd64 && !purego

#include "textflag.h"

// ACC(b, acc0, acc1, acc2, acc3): for one row, acc_j += the dot products of
// the row's 4 signed activations at b (broadcast) with the 4 unsigned
// weight vectors Z24..Z27 (16 columns x 4 k each).
#define ACC(b, acc0, acc1, acc2, acc3) \
	VPDPBUSD.BCST b, Z24, acc0; \
	VPDPBUSD.BCST b, Z25, acc1; \
	VPDPBUSD.BCST b, Z26, acc2; \
	VPDPBUSD.BCST b, Z27, acc3

// OUT(acc0, acc1, acc2, acc3): C row at DI = float(acc) * column scale
// (Z28..Z31); DI moves to the next row.
#define OUT(acc0, acc1, acc2, acc3) \
	VCVTDQ2PS acc0, acc0; \
	VCVTDQ2PS acc1, acc1; \
	VCVTDQ2PS acc2, acc2; \
	VCVTDQ2PS acc3, acc3; \
	VMULPS Z28, acc0, acc0; \
	VMULPS Z29, acc1, acc1; \
	VMULPS Z30, acc2, acc2; \
	VMULPS Z31, acc3, acc3; \
	VMOVUPS acc0, (DI); \
	VMOVUPS acc1, 64(DI); \
	VMOVUPS acc2, 128(DI); \
	VMOVUPS acc3, 192(DI); \
	ADDQ R9, DI

// INIT(off, acc0, acc1, acc2, acc3): acc = the row's offset correction at
// off(DX), broadcast.
#define INIT(off, acc0, acc1, acc2, acc3) \
	VPBROADCASTD off(DX), acc0; \
	VMOVDQA32 acc0, acc1; \
	VMOVDQA32 acc0, acc2; \
	VMOVDQA32 acc0, acc3

// func gemm8x6x64VNNI(kq int, a *int8, lda int, init *int32, b *uint8, scale *float32, c *float32, ldc int)
// C[6x64] = (init[r] + A[6 x 4kq] (int8) * B (uint8, packed 64 columns x
// 4 k per 256 bytes)) * scale[64]: A row-major with stride lda bytes, C
// row-major with stride ldc floats. kq >= 1.
TEXT ·gemm8x6x64VNNI(SB), NOSPLIT, $0-64
	MOVQ kq+0(FP), CX
	MOVQ a+8(FP), AX
	MOVQ lda+16(FP), R8
	MOVQ init+24(FP), DX
	MOVQ b+32(FP), BX
	MOVQ scale+40(FP), SI
	MOVQ c+48(FP), DI
	MOVQ ldc+56(FP), R9
	SHLQ $2, R9
	LEAQ (AX)(R8*2), R10
	ADDQ R8, R10 // R10 = row 3
	INIT(0, Z0, Z1, Z2, Z3)
	INIT(4, Z4, Z5, Z6, Z7)
	INIT(8, Z8, Z9, Z10, Z11)
	INIT(12, Z12, Z13, Z14, Z15)
	INIT(16, Z16, Z17, Z18, Z19)
	INIT(20, Z20, Z21, Z22, Z23)
loop:
	VMOVDQU32 (BX), Z24
	VMOVDQU32 64(BX), Z25
	VMOVDQU32 128(BX), Z26
	VMOVDQU32 192(BX), Z27
	ACC((AX), Z0, Z1, Z2, Z3)
	ACC((AX)(R8*1), Z4, Z5, Z6, Z7)
	ACC((AX)(R8*2), Z8, Z9, Z10, Z11)
	ACC((R10), Z12, Z13, Z14, Z15)
	ACC((R10)(R8*1), Z16, Z17, Z18, Z19)
	ACC((R10)(R8*2), Z20, Z21, Z22, Z23)
	ADDQ $4, AX
	ADDQ $4, R10
	ADDQ $256, BX
	DECQ CX
	JNZ loop
	VMOVUPS (SI), Z28
	VMOVUPS 64(SI), Z29
	VMOVUPS 128(SI), Z30
	VMOVUPS 192(SI), Z31
	OUT(Z0, Z1, Z2, Z3)
	OUT(Z4, Z5, Z6, Z7)
	OUT(Z8, Z9, Z10, Z11)
	OUT(Z12, Z13, Z14, Z15)
	OUT(Z16, Z17, Z18, Z19)
	OUT(Z20, Z21, Z22, Z23)
	VZEROUPPER
	RET

DATA q127<>+0(SB)/4, $127.0
GLOBL q127<>(SB), RODATA|NOPTR, $4

// func quantizeAVX512(x *float32, q *int8, n int) int32
// q[i] = round(127 * x[i]) for n (a multiple of 16) values in [-1, 1];
// returns the sum of the q[i].
TEXT ·quantizeAVX512(SB), NOSPLIT, $0-28
	MOVQ x+0(FP), SI
	MOVQ q+8(FP), DI
	MOVQ n+16(FP), CX
	SHRQ $4, CX
	VBROADCASTSS q127<>(SB), Z1
	VPXORD Z2, Z2, Z2
qloop:
	VMULPS (SI), Z1, Z0
	VCVTPS2DQ Z0, Z0
	VPADDD Z0, Z2, Z2
	VPMOVSDB Z0, X3
	VMOVDQU X3, (DI)
	ADDQ $64, SI
	ADDQ $16, DI
	DECQ CX
	JNZ qloop
	VEXTRACTI64X4 $1, Z2, Y3
	VPADDD Y3, Y2, Y2
	VEXTRACTI128 $1, Y2, X3
	VPADDD X3, X2, X2
	VPSHUFD $0x4e, X2, X3
	VPADDD X3, X2, X2
	VPSHUFD $0xb1, X2, X3
	VPADDD X3, X2, X2
	VMOVD X2, AX
	MOVL AX, ret+24(FP)
	VZEROUPPER
	RET
