package epilogue

import "fmt"

// Transpose writes dst[j*ldd+i] = src[i*lds+j] for i < rows and j < cols:
// a product that came out a position a row, laid out a channel a row. It
// goes in 8x8 blocks, each transposed in registers on CPUs with AVX2 (a
// value at a time, a transpose reads or writes across rows, and on the
// colour branch's 1024 positions x 32 channels that took longer than the
// product itself); the rows and columns past the last whole block go a
// value at a time. Slices too short for their strides panic.
func Transpose(dst []float32, ldd int, src []float32, lds, rows, cols int) {
	if rows <= 0 || cols <= 0 {
		return
	}
	if lds < cols || ldd < rows || len(src) < (rows-1)*lds+cols || len(dst) < (cols-1)*ldd+rows {
		panic(fmt.Sprintf("epilogue: Transpose: %d x %d from %d values (stride %d) into %d values (stride %d)", rows, cols, len(src), lds, len(dst), ldd))
	}
	r8, c8 := rows/block*block, cols/block*block
	for i := 0; i < r8; i += block {
		for j := 0; j < c8; j += block {
			transpose8x8(dst[j*ldd+i:], ldd, src[i*lds+j:], lds)
		}
	}
	transposeGo(dst, ldd, src, lds, 0, r8, c8, cols)
	transposeGo(dst, ldd, src, lds, r8, rows, 0, cols)
}

// block is the side of the blocks transpose8x8 takes.
const block = 8

// transpose8x8 transposes the 8x8 block at src into dst. It is the
// assembly one where the CPU has AVX2 (epilogue_amd64.go); the callers
// checked the slices hold the block.
var transpose8x8 = func(dst []float32, ldd int, src []float32, lds int) {
	transposeGo(dst, ldd, src, lds, 0, block, 0, block)
}

// transposeGo transposes rows r0..r1 and columns c0..c1 of src into dst, a
// value at a time.
func transposeGo(dst []float32, ldd int, src []float32, lds, r0, r1, c0, c1 int) {
	for i := r0; i < r1; i++ {
		for j, v := range src[i*lds+c0 : i*lds+c1] {
			dst[(c0+j)*ldd+i] = v
		}
	}
}
