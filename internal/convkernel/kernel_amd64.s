//go:build amd64 && !purego

#include "textflag.h"

// ZEROTILE clears Y0-Y11, the sums of a tile in both kernels.
#define ZEROTILE \
	VXORPS Y0, Y0, Y0;    \
	VXORPS Y1, Y1, Y1;    \
	VXORPS Y2, Y2, Y2;    \
	VXORPS Y3, Y3, Y3;    \
	VXORPS Y4, Y4, Y4;    \
	VXORPS Y5, Y5, Y5;    \
	VXORPS Y6, Y6, Y6;    \
	VXORPS Y7, Y7, Y7;    \
	VXORPS Y8, Y8, Y8;    \
	VXORPS Y9, Y9, Y9;    \
	VXORPS Y10, Y10, Y10; \
	VXORPS Y11, Y11, Y11

// FMAROW adds the filter value at ADDR, broadcast into Y15, times the run
// of input in Y12-Y14 to the three sums R0-R2 of one row of the tile.
#define FMAROW(ADDR, R0, R1, R2) \
	VBROADCASTSS ADDR, Y15;  \
	VFMADD231PS  Y12, Y15, R0; \
	VFMADD231PS  Y13, Y15, R1; \
	VFMADD231PS  Y14, Y15, R2

// STEP is one step p of the depth: loads the 24 inputs at b + offs[p]
// (SI walks offs, BX is b), adds the four filters' values at AX times
// them to the tile, and moves AX and SI on.
#define STEP \
	MOVQ    (SI), DX;             \
	VMOVUPS (BX)(DX*4), Y12;      \
	VMOVUPS 32(BX)(DX*4), Y13;    \
	VMOVUPS 64(BX)(DX*4), Y14;    \
	FMAROW((AX), Y0, Y1, Y2);     \
	FMAROW(4(AX), Y3, Y4, Y5);    \
	FMAROW(8(AX), Y6, Y7, Y8);    \
	FMAROW(12(AX), Y9, Y10, Y11); \
	ADDQ    $16, AX;              \
	ADDQ    $8, SI

// ROW stores the sums R0-R2 of one row of the tile at DI and moves DI to
// the next row.
#define ROW(R0, R1, R2) \
	VMOVUPS R0, (DI);   \
	VMOVUPS R1, 32(DI); \
	VMOVUPS R2, 64(DI); \
	ADDQ    R8, DI

// func kernelAVX2(k int, a *float32, b *float32, offs *int, c *float32, ldc int)
//
// C[0:4, 0:24] = A * B over k steps, where A[i, p] is a[p*4+i] and B[p,
// 0:24] is at b + offs[p]. Y0-Y11 hold the tile, three registers a row.
TEXT ·kernelAVX2(SB), NOSPLIT, $0-48
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), AX
	MOVQ b+16(FP), BX
	MOVQ offs+24(FP), SI
	MOVQ c+32(FP), DI
	MOVQ ldc+40(FP), R8
	SHLQ $2, R8

	ZEROTILE

	// Three steps an iteration: 3x3 kernels make depths that are
	// multiples of 9.
	CMPQ CX, $3
	JLT  tail

loop3:
	STEP
	STEP
	STEP
	SUBQ $3, CX
	CMPQ CX, $3
	JGE  loop3

tail:
	TESTQ CX, CX
	JZ   store

loop1:
	STEP
	DECQ CX
	JNZ  loop1

store:
	ROW(Y0, Y1, Y2)
	ROW(Y3, Y4, Y5)
	ROW(Y6, Y7, Y8)
	ROW(Y9, Y10, Y11)
	VZEROUPPER
	RET

// WROW adds the input value at BASE + offs[p] (DX), broadcast into T,
// times the filters in Y12/Y13 to the sums R0/R1 of one row (position)
// of the tile.
#define WROW(BASE, T, R0, R1) \
	VBROADCASTSS (BASE)(DX*4), T; \
	VFMADD231PS  Y12, T, R0;      \
	VFMADD231PS  Y13, T, R1

// WSTEP is one step p of the depth: loads offs[p] (SI walks offs) and
// the 16 filters' values at AX, adds each position's input value times
// them to its row, and moves AX and SI on. Y14 and Y15 take turns as the
// broadcast, so one row's FMAs need not wait for the next broadcast.
#define WSTEP \
	MOVQ    (SI), DX;             \
	VMOVUPS (AX), Y12;            \
	VMOVUPS 32(AX), Y13;          \
	WROW(BX, Y14, Y0, Y1);        \
	WROW(R8, Y15, Y2, Y3);        \
	WROW(R9, Y14, Y4, Y5);        \
	WROW(R10, Y15, Y6, Y7);       \
	WROW(R11, Y14, Y8, Y9);       \
	WROW(R12, Y15, Y10, Y11);     \
	ADDQ    $64, AX;              \
	ADDQ    $8, SI

// WSTORE stores the sums R0/R1 of one row of the tile at DI and moves DI
// to the next row.
#define WSTORE(R0, R1) \
	VMOVUPS R0, (DI);   \
	VMOVUPS R1, 32(DI); \
	ADDQ    R13, DI

// func windowAVX2(k int, a *float32, img *float32, pos *int, offs *int, c *float32, ldc int)
//
// C[0:6, 0:16] = sum over p < k of img[pos[i] + offs[p]] * a[p*16 + f].
// BX, R8-R12 point at the six positions' windows; Y0-Y11 hold the tile,
// two registers a row.
TEXT ·windowAVX2(SB), NOSPLIT, $0-56
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), AX
	MOVQ img+16(FP), DX
	MOVQ pos+24(FP), SI
	MOVQ 0(SI), BX
	LEAQ (DX)(BX*4), BX
	MOVQ 8(SI), R8
	LEAQ (DX)(R8*4), R8
	MOVQ 16(SI), R9
	LEAQ (DX)(R9*4), R9
	MOVQ 24(SI), R10
	LEAQ (DX)(R10*4), R10
	MOVQ 32(SI), R11
	LEAQ (DX)(R11*4), R11
	MOVQ 40(SI), R12
	LEAQ (DX)(R12*4), R12
	MOVQ offs+32(FP), SI
	MOVQ c+40(FP), DI
	MOVQ ldc+48(FP), R13
	SHLQ $2, R13

	ZEROTILE

	// Four steps an iteration: the shallow branches' depths are multiples
	// of 4 (3 channels times an even kernel squared).
	CMPQ CX, $4
	JLT  wtail

wloop4:
	WSTEP
	WSTEP
	WSTEP
	WSTEP
	SUBQ $4, CX
	CMPQ CX, $4
	JGE  wloop4

wtail:
	TESTQ CX, CX
	JZ    wstore

wloop1:
	WSTEP
	DECQ CX
	JNZ  wloop1

wstore:
	WSTORE(Y0, Y1)
	WSTORE(Y2, Y3)
	WSTORE(Y4, Y5)
	WSTORE(Y6, Y7)
	WSTORE(Y8, Y9)
	WSTORE(Y10, Y11)
	VZEROUPPER
	RET
