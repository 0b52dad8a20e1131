//go:build amd64 && !purego

// Vectorised float32 sigmoid, tanh and the fused LSTM cell forward (AVX2 +
// FMA, 8 lanes): the same algorithm and constants as Exp32, Sigmoid32 and
// Tanh32 in scalar.go; the tests compare both paths.

#include "textflag.h"

DATA expHi<>+0(SB)/8, $0x42b0000042b00000
DATA expHi<>+8(SB)/8, $0x42b0000042b00000
DATA expHi<>+16(SB)/8, $0x42b0000042b00000
DATA expHi<>+24(SB)/8, $0x42b0000042b00000
GLOBL expHi<>(SB), RODATA|NOPTR, $32

DATA expLo<>+0(SB)/8, $0xc2ae0000c2ae0000
DATA expLo<>+8(SB)/8, $0xc2ae0000c2ae0000
DATA expLo<>+16(SB)/8, $0xc2ae0000c2ae0000
DATA expLo<>+24(SB)/8, $0xc2ae0000c2ae0000
GLOBL expLo<>(SB), RODATA|NOPTR, $32

DATA log2e<>+0(SB)/8, $0x3fb8aa3b3fb8aa3b
DATA log2e<>+8(SB)/8, $0x3fb8aa3b3fb8aa3b
DATA log2e<>+16(SB)/8, $0x3fb8aa3b3fb8aa3b
DATA log2e<>+24(SB)/8, $0x3fb8aa3b3fb8aa3b
GLOBL log2e<>(SB), RODATA|NOPTR, $32

DATA magic<>+0(SB)/8, $0x4b4000004b400000
DATA magic<>+8(SB)/8, $0x4b4000004b400000
DATA magic<>+16(SB)/8, $0x4b4000004b400000
DATA magic<>+24(SB)/8, $0x4b4000004b400000
GLOBL magic<>(SB), RODATA|NOPTR, $32

DATA ln2Hi<>+0(SB)/8, $0x3f3180003f318000
DATA ln2Hi<>+8(SB)/8, $0x3f3180003f318000
DATA ln2Hi<>+16(SB)/8, $0x3f3180003f318000
DATA ln2Hi<>+24(SB)/8, $0x3f3180003f318000
GLOBL ln2Hi<>(SB), RODATA|NOPTR, $32

DATA ln2Lo<>+0(SB)/8, $0xb95e8083b95e8083
DATA ln2Lo<>+8(SB)/8, $0xb95e8083b95e8083
DATA ln2Lo<>+16(SB)/8, $0xb95e8083b95e8083
DATA ln2Lo<>+24(SB)/8, $0xb95e8083b95e8083
GLOBL ln2Lo<>(SB), RODATA|NOPTR, $32

DATA p0<>+0(SB)/8, $0x3950696739506967
DATA p0<>+8(SB)/8, $0x3950696739506967
DATA p0<>+16(SB)/8, $0x3950696739506967
DATA p0<>+24(SB)/8, $0x3950696739506967
GLOBL p0<>(SB), RODATA|NOPTR, $32

DATA p1<>+0(SB)/8, $0x3ab743ce3ab743ce
DATA p1<>+8(SB)/8, $0x3ab743ce3ab743ce
DATA p1<>+16(SB)/8, $0x3ab743ce3ab743ce
DATA p1<>+24(SB)/8, $0x3ab743ce3ab743ce
GLOBL p1<>(SB), RODATA|NOPTR, $32

DATA p2<>+0(SB)/8, $0x3c0889083c088908
DATA p2<>+8(SB)/8, $0x3c0889083c088908
DATA p2<>+16(SB)/8, $0x3c0889083c088908
DATA p2<>+24(SB)/8, $0x3c0889083c088908
GLOBL p2<>(SB), RODATA|NOPTR, $32

DATA p3<>+0(SB)/8, $0x3d2aa9c13d2aa9c1
DATA p3<>+8(SB)/8, $0x3d2aa9c13d2aa9c1
DATA p3<>+16(SB)/8, $0x3d2aa9c13d2aa9c1
DATA p3<>+24(SB)/8, $0x3d2aa9c13d2aa9c1
GLOBL p3<>(SB), RODATA|NOPTR, $32

DATA p4<>+0(SB)/8, $0x3e2aaaaa3e2aaaaa
DATA p4<>+8(SB)/8, $0x3e2aaaaa3e2aaaaa
DATA p4<>+16(SB)/8, $0x3e2aaaaa3e2aaaaa
DATA p4<>+24(SB)/8, $0x3e2aaaaa3e2aaaaa
GLOBL p4<>(SB), RODATA|NOPTR, $32

DATA p5<>+0(SB)/8, $0x3f0000003f000000
DATA p5<>+8(SB)/8, $0x3f0000003f000000
DATA p5<>+16(SB)/8, $0x3f0000003f000000
DATA p5<>+24(SB)/8, $0x3f0000003f000000
GLOBL p5<>(SB), RODATA|NOPTR, $32

DATA one<>+0(SB)/8, $0x3f8000003f800000
DATA one<>+8(SB)/8, $0x3f8000003f800000
DATA one<>+16(SB)/8, $0x3f8000003f800000
DATA one<>+24(SB)/8, $0x3f8000003f800000
GLOBL one<>(SB), RODATA|NOPTR, $32

DATA two<>+0(SB)/8, $0x4000000040000000
DATA two<>+8(SB)/8, $0x4000000040000000
DATA two<>+16(SB)/8, $0x4000000040000000
DATA two<>+24(SB)/8, $0x4000000040000000
GLOBL two<>(SB), RODATA|NOPTR, $32

DATA bias127<>+0(SB)/8, $0x0000007f0000007f
DATA bias127<>+8(SB)/8, $0x0000007f0000007f
DATA bias127<>+16(SB)/8, $0x0000007f0000007f
DATA bias127<>+24(SB)/8, $0x0000007f0000007f
GLOBL bias127<>(SB), RODATA|NOPTR, $32

DATA sign<>+0(SB)/8, $0x8000000080000000
DATA sign<>+8(SB)/8, $0x8000000080000000
DATA sign<>+16(SB)/8, $0x8000000080000000
DATA sign<>+24(SB)/8, $0x8000000080000000
GLOBL sign<>(SB), RODATA|NOPTR, $32

DATA abs<>+0(SB)/8, $0x7fffffff7fffffff
DATA abs<>+8(SB)/8, $0x7fffffff7fffffff
DATA abs<>+16(SB)/8, $0x7fffffff7fffffff
DATA abs<>+24(SB)/8, $0x7fffffff7fffffff
GLOBL abs<>(SB), RODATA|NOPTR, $32

DATA t0<>+0(SB)/8, $0xbbbaf0eabbbaf0ea
DATA t0<>+8(SB)/8, $0xbbbaf0eabbbaf0ea
DATA t0<>+16(SB)/8, $0xbbbaf0eabbbaf0ea
DATA t0<>+24(SB)/8, $0xbbbaf0eabbbaf0ea
GLOBL t0<>(SB), RODATA|NOPTR, $32

DATA t1<>+0(SB)/8, $0x3ca9134e3ca9134e
DATA t1<>+8(SB)/8, $0x3ca9134e3ca9134e
DATA t1<>+16(SB)/8, $0x3ca9134e3ca9134e
DATA t1<>+24(SB)/8, $0x3ca9134e3ca9134e
GLOBL t1<>(SB), RODATA|NOPTR, $32

DATA t2<>+0(SB)/8, $0xbd5c1e2dbd5c1e2d
DATA t2<>+8(SB)/8, $0xbd5c1e2dbd5c1e2d
DATA t2<>+16(SB)/8, $0xbd5c1e2dbd5c1e2d
DATA t2<>+24(SB)/8, $0xbd5c1e2dbd5c1e2d
GLOBL t2<>(SB), RODATA|NOPTR, $32

DATA t3<>+0(SB)/8, $0x3e0883933e088393
DATA t3<>+8(SB)/8, $0x3e0883933e088393
DATA t3<>+16(SB)/8, $0x3e0883933e088393
DATA t3<>+24(SB)/8, $0x3e0883933e088393
GLOBL t3<>(SB), RODATA|NOPTR, $32

DATA t4<>+0(SB)/8, $0xbeaaaa99beaaaa99
DATA t4<>+8(SB)/8, $0xbeaaaa99beaaaa99
DATA t4<>+16(SB)/8, $0xbeaaaa99beaaaa99
DATA t4<>+24(SB)/8, $0xbeaaaa99beaaaa99
GLOBL t4<>(SB), RODATA|NOPTR, $32

DATA tsmall<>+0(SB)/8, $0x3f2000003f200000
DATA tsmall<>+8(SB)/8, $0x3f2000003f200000
DATA tsmall<>+16(SB)/8, $0x3f2000003f200000
DATA tsmall<>+24(SB)/8, $0x3f2000003f200000
GLOBL tsmall<>(SB), RODATA|NOPTR, $32


// EXP: Y0 = exp(Y0), clamped to [e^-87, e^88]. Clobbers Y3-Y8; Y13 must hold 1.
#define EXP \
	VMINPS expHi<>(SB), Y0, Y0; \
	VMAXPS expLo<>(SB), Y0, Y0; \
	VMOVUPS magic<>(SB), Y3; \
	VFMADD231PS log2e<>(SB), Y0, Y3; \
	VSUBPS magic<>(SB), Y3, Y4; \
	VMOVAPS Y0, Y5; \
	VFNMADD231PS ln2Hi<>(SB), Y4, Y5; \
	VFNMADD231PS ln2Lo<>(SB), Y4, Y5; \
	VMOVUPS p0<>(SB), Y6; \
	VFMADD213PS p1<>(SB), Y5, Y6; \
	VFMADD213PS p2<>(SB), Y5, Y6; \
	VFMADD213PS p3<>(SB), Y5, Y6; \
	VFMADD213PS p4<>(SB), Y5, Y6; \
	VFMADD213PS p5<>(SB), Y5, Y6; \
	VMULPS Y5, Y5, Y7; \
	VFMADD213PS Y5, Y7, Y6; \
	VADDPS Y13, Y6, Y6; \
	VCVTTPS2DQ Y4, Y8; \
	VPADDD bias127<>(SB), Y8, Y8; \
	VPSLLD $23, Y8, Y8; \
	VMULPS Y8, Y6, Y0

// SIGMOID: Y0 = 1 / (1 + exp(-Y0)). Clobbers Y3-Y8; Y13 must hold 1.
#define SIGMOID \
	VXORPS sign<>(SB), Y0, Y0; \
	EXP; \
	VADDPS Y13, Y0, Y0; \
	VDIVPS Y0, Y13, Y0

// TANH: Y0 = tanh(Y9). Clobbers Y1-Y8, Y10-Y12, Y14; Y13 must hold 1.
// Large |x|: 1 - 2/(e^(2|x|) + 1) with x's sign; small |x|: odd polynomial.
#define TANH \
	VANDPS abs<>(SB), Y9, Y10; \
	VADDPS Y10, Y10, Y0; \
	EXP; \
	VADDPS Y13, Y0, Y0; \
	VMOVUPS two<>(SB), Y1; \
	VDIVPS Y0, Y1, Y1; \
	VSUBPS Y1, Y13, Y1; \
	VANDPS sign<>(SB), Y9, Y2; \
	VORPS Y2, Y1, Y1; \
	VMULPS Y9, Y9, Y11; \
	VMOVUPS t0<>(SB), Y12; \
	VFMADD213PS t1<>(SB), Y11, Y12; \
	VFMADD213PS t2<>(SB), Y11, Y12; \
	VFMADD213PS t3<>(SB), Y11, Y12; \
	VFMADD213PS t4<>(SB), Y11, Y12; \
	VMULPS Y11, Y12, Y12; \
	VFMADD213PS Y9, Y9, Y12; \
	VCMPPS $1, tsmall<>(SB), Y10, Y14; \
	VBLENDVPS Y14, Y12, Y1, Y0

// func sigmoidAVX2(x *float32, n int)
TEXT ·sigmoidAVX2(SB), NOSPLIT, $0-16
	MOVQ x+0(FP), DI
	MOVQ n+8(FP), CX
	VMOVUPS one<>(SB), Y13
sigloop:
	CMPQ CX, $8
	JLT sigdone
	VMOVUPS (DI), Y0
	SIGMOID
	VMOVUPS Y0, (DI)
	ADDQ $32, DI
	SUBQ $8, CX
	JMP sigloop
sigdone:
	VZEROUPPER
	RET

// func tanhAVX2(x *float32, n int)
TEXT ·tanhAVX2(SB), NOSPLIT, $0-16
	MOVQ x+0(FP), DI
	MOVQ n+8(FP), CX
	VMOVUPS one<>(SB), Y13
tanhloop:
	CMPQ CX, $8
	JLT tanhdone
	VMOVUPS (DI), Y9
	TANH
	VMOVUPS Y0, (DI)
	ADDQ $32, DI
	SUBQ $8, CX
	JMP tanhloop
tanhdone:
	VZEROUPPER
	RET

// func cellForwardAVX2(row, bias, cPrev, c, tanhC, h *float32, hid, n int)
// CellForward's vector kernel for the first n (a multiple of 8, at least
// 8) elements of each gate block, as five short loops, one per gate and one
// for the cell state, instead of one long one: each loop's iterations are
// independent and short, so the out-of-order core overlaps several of them
// and hides the latency of the exp and the division.
TEXT ·cellForwardAVX2(SB), NOSPLIT, $0-64
	MOVQ row+0(FP), AX
	MOVQ bias+8(FP), R8
	MOVQ cPrev+16(FP), R12
	MOVQ c+24(FP), R13
	MOVQ tanhC+32(FP), DI
	MOVQ h+40(FP), CX
	MOVQ hid+48(FP), R10
	SHLQ $2, R10
	MOVQ n+56(FP), R14
	SHLQ $2, R14
	VMOVUPS one<>(SB), Y13
	XORQ BX, BX
cellI:
	VMOVUPS (AX)(BX*1), Y0
	VADDPS (R8)(BX*1), Y0, Y0
	SIGMOID
	VMOVUPS Y0, (AX)(BX*1)
	ADDQ $32, BX
	CMPQ BX, R14
	JLT cellI
	LEAQ (AX)(R10*1), SI // f block
	LEAQ (R8)(R10*1), R9 // its bias
	XORQ BX, BX
cellF:
	VMOVUPS (SI)(BX*1), Y0
	VADDPS (R9)(BX*1), Y0, Y0
	SIGMOID
	VMOVUPS Y0, (SI)(BX*1)
	ADDQ $32, BX
	CMPQ BX, R14
	JLT cellF
	LEAQ (SI)(R10*1), DX // g block
	ADDQ R10, R9
	XORQ BX, BX
cellG:
	VMOVUPS (DX)(BX*1), Y9
	VADDPS (R9)(BX*1), Y9, Y9
	TANH
	VMOVUPS Y0, (DX)(BX*1)
	ADDQ $32, BX
	CMPQ BX, R14
	JLT cellG
	LEAQ (DX)(R10*1), R11 // o block
	ADDQ R10, R9
	XORQ BX, BX
cellO:
	VMOVUPS (R11)(BX*1), Y0
	VADDPS (R9)(BX*1), Y0, Y0
	SIGMOID
	VMOVUPS Y0, (R11)(BX*1)
	ADDQ $32, BX
	CMPQ BX, R14
	JLT cellO
	XORQ BX, BX
	TESTQ R12, R12
	JZ cellC0
cellC:
	VMOVUPS (AX)(BX*1), Y9
	VMULPS (DX)(BX*1), Y9, Y9 // i g
	VMOVUPS (SI)(BX*1), Y1
	VFMADD231PS (R12)(BX*1), Y1, Y9 // + f c_prev
	VMOVUPS Y9, (R13)(BX*1)
	TANH
	VMOVUPS Y0, (DI)(BX*1)
	VMULPS (R11)(BX*1), Y0, Y0
	VMOVUPS Y0, (CX)(BX*1)
	ADDQ $32, BX
	CMPQ BX, R14
	JLT cellC
	VZEROUPPER
	RET
cellC0:
	VMOVUPS (AX)(BX*1), Y9
	VMULPS (DX)(BX*1), Y9, Y9 // i g
	VMOVUPS Y9, (R13)(BX*1)
	TANH
	VMOVUPS Y0, (DI)(BX*1)
	VMULPS (R11)(BX*1), Y0, Y0
	VMOVUPS Y0, (CX)(BX*1)
	ADDQ $32, BX
	CMPQ BX, R14
	JLT cellC0
	VZEROUPPER
	RET
