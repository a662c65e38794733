//go:build amd64 && !purego

#include "textflag.h"

// func pool2x2AVX2(dst, r0, r1 *float32, n int, bias, floor float32, rows, dstStride, srcStride int)
//
// Row by row: output row r at dst + r*dstStride from input rows at r0 and
// r1 + r*srcStride. Eight outputs an iteration: 16 values of each input
// row, their maximum down the columns, then of each adjacent pair.
// VSHUFPS gathers the even and the odd columns within each 128-bit lane,
// so the pairs' maxima come out as 64-bit blocks 0, 2, 1, 3; VPERMPD puts
// them back in order. A last four outputs (n is a multiple of 4) take the
// same steps on 128-bit halves, where the order comes out right.
TEXT ·pool2x2AVX2(SB), NOSPLIT, $0-64
	MOVQ dst+0(FP), R8
	MOVQ r0+8(FP), R10
	MOVQ r1+16(FP), R11
	VBROADCASTSS bias+32(FP), Y6
	VBROADCASTSS floor+36(FP), Y7
	MOVQ rows+40(FP), R12
	MOVQ dstStride+48(FP), R9
	SHLQ $2, R9
	MOVQ srcStride+56(FP), R13
	SHLQ $2, R13

poolrow:
	MOVQ R8, DI
	MOVQ R10, SI
	MOVQ R11, DX
	MOVQ n+24(FP), CX
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
	JZ   poolnext
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

poolnext:
	ADDQ R9, R8
	ADDQ R13, R10
	ADDQ R13, R11
	DECQ R12
	JNZ  poolrow
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

// func transpose8x8AVX2(dst *float32, ldd int, src *float32, lds int)
//
// Rows r0-r7 of the block in Y0-Y7; VUNPCKLPS/VUNPCKHPS interleave pairs
// of rows, VSHUFPS makes four-row columns within each 128-bit lane
// (columns j and j+4 side by side), VPERM2F128 joins the lanes of the top
// and bottom four rows into whole columns.
TEXT ·transpose8x8AVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ ldd+8(FP), DX
	SHLQ $2, DX
	MOVQ src+16(FP), SI
	MOVQ lds+24(FP), CX
	SHLQ $2, CX
	LEAQ (CX)(CX*2), BX

	VMOVUPS (SI), Y0
	VMOVUPS (SI)(CX*1), Y1
	VMOVUPS (SI)(CX*2), Y2
	VMOVUPS (SI)(BX*1), Y3
	LEAQ    (SI)(CX*4), SI
	VMOVUPS (SI), Y4
	VMOVUPS (SI)(CX*1), Y5
	VMOVUPS (SI)(CX*2), Y6
	VMOVUPS (SI)(BX*1), Y7

	VUNPCKLPS Y1, Y0, Y8  // r0[0] r1[0] r0[1] r1[1] | r0[4] r1[4] r0[5] r1[5]
	VUNPCKHPS Y1, Y0, Y9  // r0[2] r1[2] r0[3] r1[3] | ...[6], [7]
	VUNPCKLPS Y3, Y2, Y10
	VUNPCKHPS Y3, Y2, Y11
	VUNPCKLPS Y5, Y4, Y12
	VUNPCKHPS Y5, Y4, Y13
	VUNPCKLPS Y7, Y6, Y14
	VUNPCKHPS Y7, Y6, Y15

	VSHUFPS $0x44, Y10, Y8, Y0  // column 0 | 4 of rows 0-3
	VSHUFPS $0xEE, Y10, Y8, Y1  // column 1 | 5
	VSHUFPS $0x44, Y11, Y9, Y2  // column 2 | 6
	VSHUFPS $0xEE, Y11, Y9, Y3  // column 3 | 7
	VSHUFPS $0x44, Y14, Y12, Y4 // the same of rows 4-7
	VSHUFPS $0xEE, Y14, Y12, Y5
	VSHUFPS $0x44, Y15, Y13, Y6
	VSHUFPS $0xEE, Y15, Y13, Y7

	LEAQ (DX)(DX*2), BX
	VPERM2F128 $0x20, Y4, Y0, Y8 // column 0
	VPERM2F128 $0x20, Y5, Y1, Y9 // column 1
	VPERM2F128 $0x20, Y6, Y2, Y10
	VPERM2F128 $0x20, Y7, Y3, Y11
	VPERM2F128 $0x31, Y4, Y0, Y12 // column 4
	VPERM2F128 $0x31, Y5, Y1, Y13
	VPERM2F128 $0x31, Y6, Y2, Y14
	VPERM2F128 $0x31, Y7, Y3, Y15

	VMOVUPS Y8, (DI)
	VMOVUPS Y9, (DI)(DX*1)
	VMOVUPS Y10, (DI)(DX*2)
	VMOVUPS Y11, (DI)(BX*1)
	LEAQ    (DI)(DX*4), DI
	VMOVUPS Y12, (DI)
	VMOVUPS Y13, (DI)(DX*1)
	VMOVUPS Y14, (DI)(DX*2)
	VMOVUPS Y15, (DI)(BX*1)
	VZEROUPPER
	RET
