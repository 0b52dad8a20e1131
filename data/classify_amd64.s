//go:build !purego

#include "textflag.h"

// func classifyAVX512(src *byte, out *byte, nblk int, words *uint64, apos *uint64) uint64
// The AVX-512 half of spansASCII with Lowercase and RemoveSpecial, for
// nblk whole 64-byte blocks: out gets each byte lowercased if it is a
// letter or digit and a space otherwise, words[i] and apos[i] the block's
// masks of word characters and apostrophes. The result is the OR of the
// blocks' masks of bytes >= 0x80: nonzero means the text is not ASCII.
TEXT ·classifyAVX512(SB), NOSPLIT, $0-48
	MOVQ src+0(FP), SI
	MOVQ out+8(FP), DI
	MOVQ nblk+16(FP), CX
	MOVQ words+24(FP), R8
	MOVQ apos+32(FP), R9
	XORQ R10, R10
	MOVL $0x41, AX
	VPBROADCASTB AX, Z20 // 'A'
	MOVL $25, AX
	VPBROADCASTB AX, Z21 // letters after 'A' or 'a'
	MOVL $0x20, AX
	VPBROADCASTB AX, Z22 // upper to lower case
	MOVL $0x61, AX
	VPBROADCASTB AX, Z23 // 'a'
	MOVL $0x30, AX
	VPBROADCASTB AX, Z24 // '0'
	MOVL $9, AX
	VPBROADCASTB AX, Z25 // digits after '0'
	MOVL $0x20, AX
	VPBROADCASTB AX, Z26 // ' '
	MOVL $0x27, AX
	VPBROADCASTB AX, Z27 // '\''
	TESTQ CX, CX
	JZ done
loop:
	VMOVDQU8 (SI), Z0
	VPMOVB2M Z0, K1
	KMOVQ K1, AX
	ORQ AX, R10
	VPSUBB Z20, Z0, Z1
	VPCMPUB $2, Z21, Z1, K2
	VPADDB Z22, Z0, K2, Z0
	VPSUBB Z23, Z0, Z1
	VPCMPUB $2, Z21, Z1, K3
	VPSUBB Z24, Z0, Z1
	VPCMPUB $2, Z25, Z1, K4
	KORQ K3, K4, K3
	VPBLENDMB Z0, Z26, K3, Z2
	VMOVDQU8 Z2, (DI)
	KMOVQ K3, AX
	MOVQ AX, (R8)
	VPCMPEQB Z27, Z0, K5
	KMOVQ K5, AX
	MOVQ AX, (R9)
	ADDQ $64, SI
	ADDQ $64, DI
	ADDQ $8, R8
	ADDQ $8, R9
	DECQ CX
	JNZ loop
done:
	VZEROUPPER
	MOVQ R10, ret+40(FP)
	RET
