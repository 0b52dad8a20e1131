#include "textflag.h"

// func prefetchSlots(base unsafe.Pointer, hs []uint64, mask uint64) uint64
//
// Issues a PREFETCHT0 for the 32-byte slot base[h&mask] of every h in hs
// and returns 0.
TEXT ·prefetchSlots(SB), NOSPLIT, $0-48
	MOVQ base+0(FP), AX
	MOVQ hs_base+8(FP), SI
	MOVQ hs_len+16(FP), CX
	MOVQ mask+32(FP), DX
	TESTQ CX, CX
	JEQ done
loop:
	MOVQ (SI), BX
	ANDQ DX, BX
	SHLQ $5, BX
	PREFETCHT0 (AX)(BX*1)
	ADDQ $8, SI
	DECQ CX
	JNE loop
done:
	MOVQ $0, ret+40(FP)
	RET
