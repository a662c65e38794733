//go:build !purego

#include "textflag.h"

// ZERO4 clears the four accumulators Y0-Y3.
#define ZERO4 \
	VXORPS Y0, Y0, Y0; \
	VXORPS Y1, Y1, Y1; \
	VXORPS Y2, Y2, Y2; \
	VXORPS Y3, Y3, Y3

// SUM4 adds the four accumulators' 32 lanes into the low lane of X0.
#define SUM4 \
	VADDPS       Y1, Y0, Y0; \
	VADDPS       Y3, Y2, Y2; \
	VADDPS       Y2, Y0, Y0; \
	VEXTRACTF128 $1, Y0, X1; \
	VADDPS       X1, X0, X0; \
	VHADDPS      X0, X0, X0; \
	VHADDPS      X0, X0, X0

// func dotBlockAVX2(q, rows *float32, d, n int, out *float32)
//
// For each of n rows of d float32s: four 8-wide FMA accumulators over 32
// values at a time, one over the remaining multiples of 8, then a scalar
// tail after the horizontal sum.
TEXT ·dotBlockAVX2(SB), NOSPLIT, $0-40
	MOVQ q+0(FP), SI
	MOVQ rows+8(FP), DI
	MOVQ d+16(FP), CX
	MOVQ n+24(FP), DX
	MOVQ out+32(FP), R8
	MOVQ CX, R9
	ANDQ $-32, R9
	MOVQ CX, R10
	ANDQ $-8, R10

row:
	TESTQ DX, DX
	JE    done
	ZERO4
	XORQ   AX, AX

loop32:
	CMPQ        AX, R9
	JGE         loop8
	VMOVUPS     (SI)(AX*4), Y4
	VMOVUPS     32(SI)(AX*4), Y5
	VMOVUPS     64(SI)(AX*4), Y6
	VMOVUPS     96(SI)(AX*4), Y7
	VFMADD231PS (DI)(AX*4), Y4, Y0
	VFMADD231PS 32(DI)(AX*4), Y5, Y1
	VFMADD231PS 64(DI)(AX*4), Y6, Y2
	VFMADD231PS 96(DI)(AX*4), Y7, Y3
	ADDQ        $32, AX
	JMP         loop32

loop8:
	CMPQ        AX, R10
	JGE         reduce
	VMOVUPS     (SI)(AX*4), Y4
	VFMADD231PS (DI)(AX*4), Y4, Y0
	ADDQ        $8, AX
	JMP         loop8

reduce:
	SUM4

scalar:
	CMPQ        AX, CX
	JGE         store
	VMOVSS      (SI)(AX*4), X4
	VFMADD231SS (DI)(AX*4), X4, X0
	INCQ        AX
	JMP         scalar

store:
	VMOVSS X0, (R8)
	ADDQ   $4, R8
	LEAQ   (DI)(CX*4), DI
	DECQ   DX
	JMP    row

done:
	VZEROUPPER
	RET

// func dotCodesAVX2(q *float32, codes *int8, d, n int, out *float32)
//
// dotBlockAVX2's loops, each 8 codes widened to int32 and converted to
// float32 before the FMA.
TEXT ·dotCodesAVX2(SB), NOSPLIT, $0-40
	MOVQ q+0(FP), SI
	MOVQ codes+8(FP), DI
	MOVQ d+16(FP), CX
	MOVQ n+24(FP), DX
	MOVQ out+32(FP), R8
	MOVQ CX, R9
	ANDQ $-32, R9
	MOVQ CX, R10
	ANDQ $-8, R10

crow:
	TESTQ DX, DX
	JE    cdone
	ZERO4
	XORQ   AX, AX

cloop32:
	CMPQ        AX, R9
	JGE         cloop8
	VPMOVSXBD   (DI)(AX*1), Y4
	VPMOVSXBD   8(DI)(AX*1), Y5
	VPMOVSXBD   16(DI)(AX*1), Y6
	VPMOVSXBD   24(DI)(AX*1), Y7
	VCVTDQ2PS   Y4, Y4
	VCVTDQ2PS   Y5, Y5
	VCVTDQ2PS   Y6, Y6
	VCVTDQ2PS   Y7, Y7
	VFMADD231PS (SI)(AX*4), Y4, Y0
	VFMADD231PS 32(SI)(AX*4), Y5, Y1
	VFMADD231PS 64(SI)(AX*4), Y6, Y2
	VFMADD231PS 96(SI)(AX*4), Y7, Y3
	ADDQ        $32, AX
	JMP         cloop32

cloop8:
	CMPQ        AX, R10
	JGE         creduce
	VPMOVSXBD   (DI)(AX*1), Y4
	VCVTDQ2PS   Y4, Y4
	VFMADD231PS (SI)(AX*4), Y4, Y0
	ADDQ        $8, AX
	JMP         cloop8

creduce:
	SUM4

cscalar:
	CMPQ        AX, CX
	JGE         cstore
	MOVBLSX     (DI)(AX*1), BX
	VCVTSI2SSL  BX, X5, X5
	VFMADD231SS (SI)(AX*4), X5, X0
	INCQ        AX
	JMP         cscalar

cstore:
	VMOVSS X0, (R8)
	ADDQ   $4, R8
	ADDQ   CX, DI
	DECQ   DX
	JMP    crow

cdone:
	VZEROUPPER
	RET
