//go:build amd64 && !purego

#include "textflag.h"

// func adamWAVX(k *AdamW, p, grad, m, v *float32, n int)
// One AdamW step on n elements (a multiple of 8), eight at a time, in the
// operation order of adamWRef: separate multiplies and adds, no FMA.
TEXT ·adamWAVX(SB), NOSPLIT, $0-48
	MOVQ k+0(FP), AX
	MOVQ p+8(FP), DI
	MOVQ grad+16(FP), SI
	MOVQ m+24(FP), R8
	MOVQ v+32(FP), R9
	MOVQ n+40(FP), CX
	VBROADCASTSS 0(AX), Y8   // B1
	VBROADCASTSS 4(AX), Y9   // B2
	VBROADCASTSS 8(AX), Y10  // OB1
	VBROADCASTSS 12(AX), Y11 // OB2
	VBROADCASTSS 16(AX), Y12 // StepSize
	VBROADCASTSS 20(AX), Y13 // C2
	VBROADCASTSS 24(AX), Y14 // Eps
	VBROADCASTSS 28(AX), Y15 // Decay
	SHRQ $3, CX
loop:
	VMOVUPS (SI), Y0         // g
	VMULPS (R8), Y8, Y1      // B1*m
	VMULPS Y0, Y10, Y2       // OB1*g
	VADDPS Y2, Y1, Y1        // m'
	VMOVUPS Y1, (R8)
	VMULPS (R9), Y9, Y3      // B2*v
	VMULPS Y0, Y11, Y4       // OB2*g
	VMULPS Y0, Y4, Y4        // OB2*g*g
	VADDPS Y4, Y3, Y3        // v'
	VMOVUPS Y3, (R9)
	VSQRTPS Y3, Y5
	VDIVPS Y13, Y5, Y5       // sqrt(v')/C2
	VADDPS Y14, Y5, Y5       // denominator
	VMULPS Y1, Y12, Y6       // StepSize*m'
	VDIVPS Y5, Y6, Y6
	VMULPS (DI), Y15, Y7     // p*Decay
	VSUBPS Y6, Y7, Y7
	VMOVUPS Y7, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	ADDQ $32, R8
	ADDQ $32, R9
	DECQ CX
	JNZ loop
	VZEROUPPER
	RET
