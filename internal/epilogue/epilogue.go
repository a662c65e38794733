package epilogue

import "fmt"

// Pool2x2Rows pools rows rows of a 2x2, stride-2 max-pool, n outputs a
// row: output row r, at dst[r*dstStride:], pools input rows 2r and 2r+1,
// at src[2r*srcStride:] and src[(2r+1)*srcStride:], with dst[i] =
// max(max(r0[2i], r0[2i+1], r1[2i], r1[2i+1]) + bias, floor): the
// convolution's bias and ReLU (floor 0) applied after the maximum, which
// is the same as before it since adding a constant and clamping keep the
// order. It takes a convolution's block of rows in one call, where a call
// a row cost more than the pooling of a short row (the default model's
// stages pool 2,048 rows of 4 to 32 outputs an image). Slices too short
// for their rows panic.
func Pool2x2Rows(dst []float32, dstStride int, src []float32, srcStride, rows, n int, bias, floor float32) {
	if rows <= 0 || n <= 0 {
		return
	}
	if dstStride < n || srcStride < 2*n || len(dst) < (rows-1)*dstStride+n || len(src) < (2*rows-1)*srcStride+2*n {
		panic(fmt.Sprintf("epilogue: Pool2x2Rows: %d rows of %d outputs, %d values at stride %d from %d at stride %d", rows, n, len(dst), dstStride, len(src), srcStride))
	}
	pools(dst, dstStride, src, src[srcStride:], 2*srcStride, rows, n, bias, floor)
}

// pools pools rows rows of n outputs, row r of dst at r*dstStride from
// rows r0 and r1 at r*srcStride: the whole blocks of poolVector by
// pool2x2, the rest of each row by pool2x2Go. The callers checked the
// lengths.
func pools(dst []float32, dstStride int, r0, r1 []float32, srcStride, rows, n int, bias, floor float32) {
	done := n / poolVector * poolVector
	if done > 0 {
		pool2x2(dst, dstStride, r0, r1, srcStride, rows, done, bias, floor)
	}
	if done == n {
		return
	}
	for r := range rows {
		pool2x2Go(dst[r*dstStride+done:r*dstStride+n], r0[r*srcStride+2*done:], r1[r*srcStride+2*done:], bias, floor)
	}
}

// BiasFloor writes dst[i] = max(src[i] + bias, floor) for every i <
// len(dst): a convolution's bias and ReLU (floor 0; -Inf for none) on one
// channel of its product. src needs at least len(dst) values and may be
// dst itself.
func BiasFloor(dst, src []float32, bias, floor float32) {
	n := len(dst)
	if len(src) < n {
		panic(fmt.Sprintf("epilogue: BiasFloor: %d source values for %d outputs", len(src), n))
	}
	done := 0
	if n >= vector {
		done = n / vector * vector
		biasFloor(dst[:done], src, bias, floor)
	}
	biasFloorGo(dst[done:], src[done:], bias, floor)
}

// vector is how many outputs the assembly makes at a time, poolVector the
// least it makes at a time when pooling (the backbone's last pool has
// rows of 4); the pure-Go passes take the rest.
const (
	vector     = 8
	poolVector = 4
)

// pool2x2 and biasFloor are the assembly passes where the CPU has them
// (epilogue_amd64.go), else the pure-Go ones. pool2x2 pools rows rows of
// n outputs (see pools), n a multiple of poolVector; the dst of biasFloor
// has a multiple of vector values; the caller has checked the lengths.
var (
	pool2x2   = pool2x2RowsGo
	biasFloor = biasFloorGo
)

// pool2x2RowsGo is pool2x2 a row at a time with pool2x2Go.
func pool2x2RowsGo(dst []float32, dstStride int, r0, r1 []float32, srcStride, rows, n int, bias, floor float32) {
	for r := range rows {
		pool2x2Go(dst[r*dstStride:r*dstStride+n], r0[r*srcStride:], r1[r*srcStride:], bias, floor)
	}
}

// Kernel names the implementation in use, for logs and benchmarks.
func Kernel() string { return kernelName }

var kernelName = "pure Go"

func pool2x2Go(dst, r0, r1 []float32, bias, floor float32) {
	r0, r1 = r0[:2*len(dst)], r1[:2*len(dst)]
	for i := range dst {
		x := 2 * i
		dst[i] = max(max(r0[x], r0[x+1], r1[x], r1[x+1])+bias, floor)
	}
}

func biasFloorGo(dst, src []float32, bias, floor float32) {
	src = src[:len(dst)]
	for i, v := range src {
		dst[i] = max(v+bias, floor)
	}
}
