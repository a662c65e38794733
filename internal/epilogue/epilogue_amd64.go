//go:build amd64 && !purego

package epilogue

import "golang.org/x/sys/cpu"

// pool2x2AVX2 is pool2x2 and biasFloorAVX2 biasFloorGo in AVX2 assembly
// (epilogue_amd64.s), for n outputs (a row), n a multiple of poolVector
// and of vector.
//
//go:noescape
func pool2x2AVX2(dst, r0, r1 *float32, n int, bias, floor float32, rows, dstStride, srcStride int)

//go:noescape
func biasFloorAVX2(dst, src *float32, n int, bias, floor float32)

// transpose8x8AVX2 is transpose8x8 in AVX2 assembly, on pointers to the
// blocks' first values.
//
//go:noescape
func transpose8x8AVX2(dst *float32, ldd int, src *float32, lds int)

func init() {
	// HasAVX2 is only set when the OS saves the ymm registers too.
	if !cpu.X86.HasAVX2 {
		return
	}
	kernelName = "AVX2"
	// The callers checked that r0, r1 and src hold what dst needs.
	pool2x2 = func(dst []float32, dstStride int, r0, r1 []float32, srcStride, rows, n int, bias, floor float32) {
		pool2x2AVX2(&dst[0], &r0[0], &r1[0], n, bias, floor, rows, dstStride, srcStride)
	}
	biasFloor = func(dst, src []float32, bias, floor float32) {
		biasFloorAVX2(&dst[0], &src[0], len(dst), bias, floor)
	}
	transpose8x8 = func(dst []float32, ldd int, src []float32, lds int) {
		// The last values of each block, checked once for the block.
		_ = src[7*lds+7]
		_ = dst[7*ldd+7]
		transpose8x8AVX2(&dst[0], ldd, &src[0], lds)
	}
}
