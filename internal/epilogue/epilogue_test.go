package epilogue

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// impls are the passes this machine runs: the pure-Go ones always, the
// assembly ones where the CPU has them.
func impls() []struct {
	name      string
	pool      func(dst []float32, dstStride int, r0, r1 []float32, srcStride, rows, n int, bias, floor float32)
	biasFloor func(dst, src []float32, bias, floor float32)
} {
	type impl = struct {
		name      string
		pool      func(dst []float32, dstStride int, r0, r1 []float32, srcStride, rows, n int, bias, floor float32)
		biasFloor func(dst, src []float32, bias, floor float32)
	}
	out := []impl{{"go", pool2x2RowsGo, biasFloorGo}}
	if kernelName != "pure Go" {
		out = append(out, impl{kernelName, pool2x2, biasFloor})
	}
	return out
}

// use makes Pool2x2Rows and BiasFloor run pool and bf until the test ends.
func use(t *testing.T, pool func(dst []float32, dstStride int, r0, r1 []float32, srcStride, rows, n int, bias, floor float32), bf func(dst, src []float32, bias, floor float32)) {
	p, b := pool2x2, biasFloor
	pool2x2, biasFloor = pool, bf
	t.Cleanup(func() { pool2x2, biasFloor = p, b })
}

func random(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = rng.Float32()*4 - 2
	}
	return s
}

// floors are the clamps a convolution uses: ReLU's, none, and one that
// cuts through the random values.
var floors = []float32{0, float32(math.Inf(-1)), 0.5}

// TestPool2x2 checks one row of every length around the vector width (the
// assembly's whole blocks and the pure-Go rest) against the definition,
// with input rows longer than needed, and that nothing past dst is written.
func TestPool2x2(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, im := range impls() {
		t.Run(im.name, func(t *testing.T) {
			use(t, im.pool, im.biasFloor)
			for n := range 3*vector + 2 {
				for _, floor := range floors {
					for _, extra := range []int{0, 3} {
						t.Run(fmt.Sprintf("n=%d/floor=%g/extra=%d", n, floor, extra), func(t *testing.T) {
							src := random(rng, 2*(2*n+extra))
							r0, r1 := src[:2*n+extra], src[2*n+extra:]
							bias := rng.Float32() - 0.5
							dst := random(rng, n+1)
							sentinel := dst[n]
							Pool2x2Rows(dst[:n], n, src, 2*n+extra, 1, n, bias, floor)
							for i := range n {
								m := math.Max(math.Max(float64(r0[2*i]), float64(r0[2*i+1])), math.Max(float64(r1[2*i]), float64(r1[2*i+1])))
								want := float32(math.Max(float64(float32(m)+bias), float64(floor)))
								if dst[i] != want {
									t.Fatalf("dst[%d] = %g, want %g", i, dst[i], want)
								}
							}
							if dst[n] != sentinel {
								t.Fatalf("wrote past dst: %g", dst[n])
							}
						})
					}
				}
			}
		})
	}
}

// TestPool2x2Rows checks blocks of rows, with row lengths around the
// vector width and strides longer than the rows, against the definition,
// and that the values between dst's rows are left alone.
func TestPool2x2Rows(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, im := range impls() {
		t.Run(im.name, func(t *testing.T) {
			use(t, im.pool, im.biasFloor)
			for _, n := range []int{1, 4, 5, 8, 12, 16, 19, 32} {
				for _, rows := range []int{1, 2, 5} {
					t.Run(fmt.Sprintf("n=%d/rows=%d", n, rows), func(t *testing.T) {
						dstStride, srcStride := n+3, 2*n+1
						src := random(rng, 2*rows*srcStride)
						dst := random(rng, rows*dstStride)
						dst0 := append([]float32(nil), dst...)
						bias, floor := rng.Float32()-0.5, float32(0)
						Pool2x2Rows(dst, dstStride, src, srcStride, rows, n, bias, floor)
						for r := range rows {
							r0, r1 := src[2*r*srcStride:], src[(2*r+1)*srcStride:]
							for i := range dstStride {
								want := dst0[r*dstStride+i]
								if i < n {
									m := max(r0[2*i], r0[2*i+1], r1[2*i], r1[2*i+1])
									want = max(m+bias, floor)
								}
								if got := dst[r*dstStride+i]; got != want {
									t.Fatalf("row %d, dst[%d] = %g, want %g", r, i, got, want)
								}
							}
						}
					})
				}
			}
		})
	}
}

// TestBiasFloor checks every length around the vector width, out of place
// and in place, against the definition.
func TestBiasFloor(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, im := range impls() {
		t.Run(im.name, func(t *testing.T) {
			use(t, im.pool, im.biasFloor)
			for n := range 3*vector + 2 {
				for _, floor := range floors {
					for _, inPlace := range []bool{false, true} {
						t.Run(fmt.Sprintf("n=%d/floor=%g/inplace=%v", n, floor, inPlace), func(t *testing.T) {
							src := random(rng, n+1)
							want := make([]float32, n)
							bias := rng.Float32() - 0.5
							for i := range want {
								want[i] = float32(math.Max(float64(src[i]+bias), float64(floor)))
							}
							dst := random(rng, n+1)
							if inPlace {
								dst = src
							}
							sentinel := dst[n]
							BiasFloor(dst[:n], src, bias, floor)
							for i := range want {
								if dst[i] != want[i] {
									t.Fatalf("dst[%d] = %g, want %g", i, dst[i], want[i])
								}
							}
							if dst[n] != sentinel {
								t.Fatalf("wrote past dst: %g", dst[n])
							}
						})
					}
				}
			}
		})
	}
}

// TestShortInput checks that inputs too short for dst panic before
// anything is read, whichever pass runs.
func TestShortInput(t *testing.T) {
	cases := []struct {
		name string
		call func()
	}{
		{"pool rows src", func() { Pool2x2Rows(make([]float32, 8), 4, make([]float32, 23), 8, 2, 4, 0, 0) }},
		{"pool rows dst", func() { Pool2x2Rows(make([]float32, 7), 4, make([]float32, 24), 8, 2, 4, 0, 0) }},
		{"pool rows stride", func() { Pool2x2Rows(make([]float32, 8), 4, make([]float32, 24), 7, 2, 4, 0, 0) }},
		{"bias src", func() { BiasFloor(make([]float32, 8), make([]float32, 7), 0, 0) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			tc.call()
		})
	}
}
