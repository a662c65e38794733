//go:build amd64 && !purego

#include "textflag.h"

// func pool2x2AVX2(dst, r0, r1 *float32, n int, bias, floor float32)
//
// Eight outputs an iteration: 16 values of each input row, their maximum
// down the columns, then of each adjacent pair. VSHUFPS gathers the even
// and the odd columns within each 128-bit lane, so the pairs' maxima come
// out as 64-bit blocks 0, 2, 1, 3; VPERMPD puts them back in order. A last
// four outputs (n is a multiple of 4) take the same steps on 128-bit
// halves, where the order comes out right.
TEXT ·pool2x2AVX2(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ r0+8(FP), SI
	MOVQ r1+16(FP), DX
	MOVQ n+24(FP), CX
	VBROADCASTSS bias+32(FP), Y6
	VBROADCASTSS floor+36(FP), Y7
	MOVQ CX, BX
	SHRQ $3, CX
	JZ   pooltail

poolloop:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMAXPS  (DX), Y0, Y0
	VMAXPS  32(DX), Y1, Y1
	VSHUFPS $0x88, Y1, Y0, Y2
	VSHUFPS $0xDD, Y1, Y0, Y3
	VMAXPS  Y3, Y2, Y2
	VPERMPD $0xD8, Y2, Y2
	VADDPS  Y6, Y2, Y2
	VMAXPS  Y7, Y2, Y2
	VMOVUPS Y2, (DI)
	ADDQ    $64, SI
	ADDQ    $64, DX
	ADDQ    $32, DI
	DECQ    CX
	JNZ     poolloop

pooltail:
	ANDQ $4, BX
	JZ   pooldone
	VMOVUPS (SI), X0
	VMOVUPS 16(SI), X1
	VMAXPS  (DX), X0, X0
	VMAXPS  16(DX), X1, X1
	VSHUFPS $0x88, X1, X0, X2
	VSHUFPS $0xDD, X1, X0, X3
	VMAXPS  X3, X2, X2
	VADDPS  X6, X2, X2
	VMAXPS  X7, X2, X2
	VMOVUPS X2, (DI)

pooldone:
	VZEROUPPER
	RET

// func biasFloorAVX2(dst, src *float32, n int, bias, floor float32)
TEXT ·biasFloorAVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS bias+24(FP), Y6
	VBROADCASTSS floor+28(FP), Y7
	SHRQ $3, CX
	JZ   biasdone

biasloop:
	VADDPS  (SI), Y6, Y0
	VMAXPS  Y7, Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	DECQ    CX
	JNZ     biasloop

biasdone:
	VZEROUPPER
	RET
