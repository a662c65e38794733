package epilogue

import "fmt"

// Pool2x2 writes dst[i] = max(max(r0[2i], r0[2i+1], r1[2i], r1[2i+1]) +
// bias, floor) for every i < len(dst): one output row of a 2x2, stride-2
// max-pool over input rows r0 and r1, with the convolution's bias and ReLU
// (floor 0) applied after the maximum, which is the same as before it
// since adding a constant and clamping keep the order. r0 and r1 need at
// least 2*len(dst) values; fewer panics.
func Pool2x2(dst, r0, r1 []float32, bias, floor float32) {
	n := len(dst)
	if len(r0) < 2*n || len(r1) < 2*n {
		panic(fmt.Sprintf("epilogue: Pool2x2: input rows of %d and %d values for %d outputs", len(r0), len(r1), n))
	}
	done := 0
	if n >= poolVector {
		done = n / poolVector * poolVector
		pool2x2(dst[:done], r0, r1, bias, floor)
	}
	pool2x2Go(dst[done:], r0[2*done:], r1[2*done:], bias, floor)
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
// (epilogue_amd64.go), else the pure-Go ones. The dst of pool2x2 has a
// multiple of poolVector values, that of biasFloor of vector, and the
// caller has checked the lengths.
var (
	pool2x2   = pool2x2Go
	biasFloor = biasFloorGo
)

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
