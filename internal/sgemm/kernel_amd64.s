//go:build amd64 && !purego

#include "textflag.h"

// FMAROW adds the A value at ADDR, broadcast into T, times the row of B in
// Y12/Y13 to the accumulators R0/R1 of one row of the tile.
#define FMAROW(ADDR, T, R0, R1) \
	VBROADCASTSS ADDR, T;    \
	VFMADD231PS  Y12, T, R0; \
	VFMADD231PS  Y13, T, R1

// STEP is one step of k: C[0:6, 0:16] += A[0:6, p] * B[p, 0:16], then
// moves AX and BX to the next step. Row i of A is at AX + i*R8 (R9 = 3*R8,
// R10 = 5*R8, so every row is one addressing mode). Y14 and Y15 take turns
// as the broadcast of A, so one row's FMAs need not wait for the next
// broadcast.
#define STEP \
	VMOVUPS (BX), Y12;                     \
	VMOVUPS 32(BX), Y13;                   \
	FMAROW((AX), Y14, Y0, Y1);             \
	FMAROW((AX)(R8*1), Y15, Y2, Y3);       \
	FMAROW((AX)(R8*2), Y14, Y4, Y5);       \
	FMAROW((AX)(R9*1), Y15, Y6, Y7);       \
	FMAROW((AX)(R8*4), Y14, Y8, Y9);       \
	FMAROW((AX)(R10*1), Y15, Y10, Y11);    \
	ADDQ    R11, AX;                       \
	ADDQ    R12, BX

// ROW stores row R0/R1 of the tile at DI, as is (alpha already applied).
#define ROW(R0, R1) \
	VMOVUPS R0, (DI);   \
	VMOVUPS R1, 32(DI); \
	ADDQ    SI, DI

// ROWBETA stores row R0/R1 plus beta (Y15) times what C held.
#define ROWBETA(R0, R1) \
	VFMADD231PS (DI), Y15, R0;   \
	VFMADD231PS 32(DI), Y15, R1; \
	ROW(R0, R1)

// func kernelAVX2(k int, a *float32, rsA, csA int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32)
//
// C[0:6, 0:16] = alpha * A*B + beta * C over k steps, where A[i, p] is at
// a[i*rsA + p*csA] and B[p, 0:16] at b[p*ldb:]. Y0-Y11 hold the 6x16 tile,
// two registers a row. C is not read when beta is zero (BLAS says C need
// not be set then, and NaN*0 must not leak in).
TEXT ·kernelAVX2(SB), NOSPLIT, $0-72
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), AX
	MOVQ rsA+16(FP), R8
	SHLQ $2, R8
	LEAQ (R8)(R8*2), R9
	LEAQ (R8)(R8*4), R10
	MOVQ csA+24(FP), R11
	SHLQ $2, R11
	MOVQ b+32(FP), BX
	MOVQ ldb+40(FP), R12
	SHLQ $2, R12
	MOVQ c+48(FP), DI
	MOVQ ldc+56(FP), SI
	SHLQ $2, SI
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11

	// Four steps an iteration, so the loop's own instructions are few next
	// to 48 FMAs.
	MOVQ CX, DX
	SHRQ $2, DX
	JZ   tail

loop4:
	STEP
	STEP
	STEP
	STEP
	DECQ DX
	JNZ  loop4

tail:
	ANDQ $3, CX
	JZ   store

loop1:
	STEP
	DECQ CX
	JNZ  loop1

store:
	VBROADCASTSS alpha+64(FP), Y14
	VMULPS Y14, Y0, Y0
	VMULPS Y14, Y1, Y1
	VMULPS Y14, Y2, Y2
	VMULPS Y14, Y3, Y3
	VMULPS Y14, Y4, Y4
	VMULPS Y14, Y5, Y5
	VMULPS Y14, Y6, Y6
	VMULPS Y14, Y7, Y7
	VMULPS Y14, Y8, Y8
	VMULPS Y14, Y9, Y9
	VMULPS Y14, Y10, Y10
	VMULPS Y14, Y11, Y11

	// beta == 0 (either sign): overwrite C without reading it.
	MOVL beta+68(FP), DX
	ANDL $0x7fffffff, DX
	JZ   overwrite
	VBROADCASTSS beta+68(FP), Y15
	ROWBETA(Y0, Y1)
	ROWBETA(Y2, Y3)
	ROWBETA(Y4, Y5)
	ROWBETA(Y6, Y7)
	ROWBETA(Y8, Y9)
	ROWBETA(Y10, Y11)
	VZEROUPPER
	RET

overwrite:
	ROW(Y0, Y1)
	ROW(Y2, Y3)
	ROW(Y4, Y5)
	ROW(Y6, Y7)
	ROW(Y8, Y9)
	ROW(Y10, Y11)
	VZEROUPPER
	RET
