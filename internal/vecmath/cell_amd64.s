//go:build amd64 && !purego

#include "textflag.h"

DATA one<>+0(SB)/8, $0x3f8000003f800000
DATA one<>+8(SB)/8, $0x3f8000003f800000
DATA one<>+16(SB)/8, $0x3f8000003f800000
DATA one<>+24(SB)/8, $0x3f8000003f800000
GLOBL one<>(SB), RODATA|NOPTR, $32

// func cellBackwardAVX2(act *float32, tanhC, dh, dc, cPrev *float32, hid, n int)
// One row of the LSTM cell backward, in place, for the first n (a
// multiple of 8) elements of each gate block; see CellBackward.
TEXT ·cellBackwardAVX2(SB), NOSPLIT, $0-56
	MOVQ act+0(FP), AX
	MOVQ tanhC+8(FP), R8
	MOVQ dh+16(FP), R9
	MOVQ dc+24(FP), R10
	MOVQ cPrev+32(FP), R11
	MOVQ hid+40(FP), DI
	MOVQ n+48(FP), CX
	SHLQ $2, DI
	LEAQ (AX)(DI*1), BX // f block
	LEAQ (BX)(DI*1), DX // g block
	LEAQ (DX)(DI*1), SI // o block
	VMOVUPS one<>(SB), Y15
	VXORPS Y13, Y13, Y13
	TESTQ CX, CX
	JZ done
loop:
	VMOVUPS (SI), Y0       // o
	VMOVUPS (R8), Y1       // tanh(c)
	VMOVUPS (R9), Y2       // dh
	VMULPS Y1, Y1, Y3
	VSUBPS Y3, Y15, Y4     // 1 - tc^2
	VMULPS Y0, Y4, Y4      // o (1 - tc^2)
	VMOVUPS (R10), Y5      // dc from later steps
	VFMADD231PS Y4, Y2, Y5 // dcv = dc + dh o (1 - tc^2)
	VMULPS Y1, Y2, Y6      // dh tc
	VSUBPS Y0, Y15, Y7
	VMULPS Y0, Y7, Y7      // o (1 - o)
	VMULPS Y7, Y6, Y6
	VMOVUPS Y6, (SI)       // d o
	VMOVUPS (AX), Y8       // i
	VMOVUPS (DX), Y9       // g
	VSUBPS Y8, Y15, Y10
	VMULPS Y8, Y10, Y10
	VMULPS Y9, Y10, Y10
	VMULPS Y5, Y10, Y10
	VMOVUPS Y10, (AX)      // d i = dcv g i (1 - i)
	VMULPS Y9, Y9, Y11
	VSUBPS Y11, Y15, Y11
	VMULPS Y8, Y11, Y11
	VMULPS Y5, Y11, Y11
	VMOVUPS Y11, (DX)      // d g = dcv i (1 - g^2)
	VMOVUPS (BX), Y12      // f
	TESTQ R11, R11
	JZ nocp
	VMOVUPS (R11), Y13     // c_prev
	ADDQ $32, R11
nocp:
	VSUBPS Y12, Y15, Y14
	VMULPS Y12, Y14, Y14
	VMULPS Y13, Y14, Y14
	VMULPS Y5, Y14, Y14
	VMOVUPS Y14, (BX)      // d f = dcv c_prev f (1 - f)
	VMULPS Y12, Y5, Y5
	VMOVUPS Y5, (R10)      // dc for the previous step = dcv f
	ADDQ $32, AX
	ADDQ $32, BX
	ADDQ $32, DX
	ADDQ $32, SI
	ADDQ $32, R8
	ADDQ $32, R9
	ADDQ $32, R10
	SUBQ $8, CX
	JNZ loop
done:
	VZEROUPPER
	RET
