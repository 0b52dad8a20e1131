//go:build amd64 && !purego

#include "textflag.h"

// func scaleSumSqAVX2(x *float32, s float32, n int, lanes *[16]float64)
// x[i] *= s for i < n (a multiple of 16), and lanes[j] += x[i]^2 in float64
// for j = i%16: four accumulators of four lanes each.
TEXT ·scaleSumSqAVX2(SB), NOSPLIT, $0-32
	MOVQ x+0(FP), SI
	VBROADCASTSS s+8(FP), Y15
	MOVQ n+16(FP), CX
	MOVQ lanes+24(FP), DI
	VMOVUPD 0(DI), Y8
	VMOVUPD 32(DI), Y9
	VMOVUPD 64(DI), Y10
	VMOVUPD 96(DI), Y11
	SHRQ $4, CX
loop:
	VMULPS (SI), Y15, Y0
	VMULPS 32(SI), Y15, Y1
	VMOVUPS Y0, (SI)
	VMOVUPS Y1, 32(SI)
	VCVTPS2PD X0, Y2         // elements 0-3
	VEXTRACTF128 $1, Y0, X3
	VCVTPS2PD X3, Y3         // 4-7
	VCVTPS2PD X1, Y4         // 8-11
	VEXTRACTF128 $1, Y1, X5
	VCVTPS2PD X5, Y5         // 12-15
	VFMADD231PD Y2, Y2, Y8
	VFMADD231PD Y3, Y3, Y9
	VFMADD231PD Y4, Y4, Y10
	VFMADD231PD Y5, Y5, Y11
	ADDQ $64, SI
	DECQ CX
	JNZ loop
	VMOVUPD Y8, 0(DI)
	VMOVUPD Y9, 32(DI)
	VMOVUPD Y10, 64(DI)
	VMOVUPD Y11, 96(DI)
	VZEROUPPER
	RET
