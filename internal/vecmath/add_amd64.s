//go:build amd64 && !purego

#include "textflag.h"

// func addAVX2(dst, src *float32, n int)
// dst[i] += src[i] for i < n, n a multiple of 32.
TEXT ·addAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $5, CX
loop:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS 64(SI), Y2
	VMOVUPS 96(SI), Y3
	VADDPS (DI), Y0, Y0
	VADDPS 32(DI), Y1, Y1
	VADDPS 64(DI), Y2, Y2
	VADDPS 96(DI), Y3, Y3
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ $128, SI
	ADDQ $128, DI
	DECQ CX
	JNZ loop
	VZEROUPPER
	RET

// func prefetchRowsAsm(base *float32, ids *int32, n int, rowBytes int)
// Asks for every 64-byte line of rows ids[0..n) of a table whose rows are
// rowBytes (a multiple of 64) long.
TEXT ·prefetchRowsAsm(SB), NOSPLIT, $0-32
	MOVQ base+0(FP), SI
	MOVQ ids+8(FP), DX
	MOVQ n+16(FP), CX
	MOVQ rowBytes+24(FP), R8
	TESTQ CX, CX
	JZ pdone
prow:
	MOVLQSX (DX), AX
	IMULQ R8, AX
	ADDQ SI, AX
	MOVQ R8, BX
pline:
	PREFETCHT0 (AX)
	ADDQ $64, AX
	SUBQ $64, BX
	JNZ pline
	ADDQ $4, DX
	DECQ CX
	JNZ prow
pdone:
	RET

// func maxAVX2(dst, src *float32, n int)
// dst[i] = src[i] > dst[i] ? src[i] : dst[i] for i < n, n a multiple of 16.
TEXT ·maxAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $4, CX
mloop:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMAXPS (DI), Y0, Y0
	VMAXPS 32(DI), Y1, Y1
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ CX
	JNZ mloop
	VZEROUPPER
	RET
