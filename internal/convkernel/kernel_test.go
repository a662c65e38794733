package convkernel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// namedKernel is a micro-kernel under test.
type namedKernel struct {
	name string
	fn   func(a, b []float32, offs []int, c []float32, ldc int)
}

// kernels are the micro-kernels this machine can run: the pure-Go one
// always, the assembly one where the CPU has it.
func kernels() []namedKernel {
	ks := []namedKernel{{"go", kernelGo}}
	if kernelName != "pure Go kernel" {
		ks = append(ks, namedKernel{"asm", kernel})
	}
	return ks
}

// useKernel makes Multiply use fn until the test ends.
func useKernel(t testing.TB, fn func(a, b []float32, offs []int, c []float32, ldc int)) {
	saved := kernel
	kernel = fn
	t.Cleanup(func() { kernel = saved })
}

// multiplyCase is one call of Multiply: m filters of depth len(offs),
// each offset drawn below maxOff, n columns, ldc-n columns of padding in c.
type multiplyCase struct {
	m, k, n, maxOff, padC int
}

func (tc multiplyCase) String() string {
	return fmt.Sprintf("m=%d/k=%d/n=%d/maxOff=%d/padC=%d", tc.m, tc.k, tc.n, tc.maxOff, tc.padC)
}

// check packs random filters, multiplies them by random runs of a random
// input and compares every output with a float64 sum (compareProduct);
// the rows past m must be zero.
func (tc multiplyCase) check(t testing.TB, rng *rand.Rand) {
	t.Helper()
	w := randomSlice(rng, tc.m*tc.k)
	b := randomSlice(rng, tc.maxOff+tc.n)
	offs := make([]int, tc.k)
	for p := range offs {
		offs[p] = rng.IntN(tc.maxOff + 1)
	}
	panels := Panels(tc.m)
	ldc := tc.n + tc.padC
	c := randomSlice(rng, panels*Rows*ldc)
	c0 := append([]float32(nil), c...)
	a := PackFilters(nil, w, tc.m, tc.k)
	Multiply(a, panels, b, offs, tc.n, c, ldc)
	compareProduct(t, tc, c, c0, panels*Rows, tc.n, ldc, tc.k, func(i, j int) (sum, mag float64) {
		if i < tc.m {
			for p, off := range offs {
				x := float64(w[i*tc.k+p]) * float64(b[off+j])
				sum += x
				mag += math.Abs(x)
			}
		}
		return sum, mag
	})
}

// compareProduct checks the rows x n values of c (row stride ldc) against
// ref's float64 sums of k terms, within float32 rounding, and that the
// columns from n to ldc still hold what c0 held.
func compareProduct(t testing.TB, tc fmt.Stringer, c, c0 []float32, rows, n, ldc, k int, ref func(i, j int) (sum, mag float64)) {
	t.Helper()
	for i := range rows {
		for j := range ldc {
			got := c[i*ldc+j]
			if j >= n {
				if got != c0[i*ldc+j] {
					t.Fatalf("%v: c[%d][%d] past column %d changed", tc, i, j, n)
				}
				continue
			}
			sum, mag := ref(i, j)
			// Each term of a float32 sum rounds once, at most.
			tol := float64(k+1) * 0x1p-23 * mag
			if d := math.Abs(float64(got) - sum); !(d <= tol) {
				t.Fatalf("%v: c[%d][%d] = %v, want %v (off by %g, tolerance %g)", tc, i, j, got, sum, d, tol)
			}
		}
	}
}

// TestMultiply compares Multiply with a float64 sum, with every kernel,
// on depths around the kernel's unrolling (3 steps), filter counts that
// fill and do not fill the last panel, several column blocks, padded
// output rows, and the default model's convolutions.
func TestMultiply(t *testing.T) {
	tests := []multiplyCase{
		{m: 1, k: 1, n: Cols, maxOff: 0},
		{m: 4, k: 2, n: Cols, maxOff: 5},
		{m: 3, k: 3, n: 2 * Cols, maxOff: 40, padC: 1},
		{m: 5, k: 4, n: Cols, maxOff: 100, padC: 7},
		{m: 8, k: 5, n: 3 * Cols, maxOff: 3},
		{m: 7, k: 7, n: Cols, maxOff: 1000},
		{m: 16, k: 27, n: 4 * Cols, maxOff: 12000},  // stage 1
		{m: 32, k: 144, n: 2 * Cols, maxOff: 18000}, // stage 2
		{m: 128, k: 576, n: Cols, maxOff: 6400},     // stage 4
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, kn := range kernels() {
		t.Run("kernel="+kn.name, func(t *testing.T) {
			useKernel(t, kn.fn)
			for _, tc := range tests {
				t.Run(tc.String(), func(t *testing.T) { tc.check(t, rng) })
			}
		})
	}
}

// TestPackFilters checks the panel layout and the zero filters that fill
// the last panel.
func TestPackFilters(t *testing.T) {
	w := []float32{1, 2, 3, 4, 5, 6} // 3 filters of depth 2
	got := PackFilters(nil, w, 3, 2)
	want := []float32{1, 3, 5, 0, 2, 4, 6, 0}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("PackFilters = %v, want %v", got, want)
	}
	// A reused buffer holding other values gets the same.
	got = PackFilters([]float32{9, 9, 9, 9, 9, 9, 9, 9, 9}, w, 3, 2)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("PackFilters into a used buffer = %v, want %v", got, want)
	}
}

// TestMultiplyRefusesBadArguments checks that a call whose reads or
// writes would fall outside its slices panics before the kernel runs.
func TestMultiplyRefusesBadArguments(t *testing.T) {
	a := make([]float32, Rows*3)
	tests := []struct {
		name   string
		a      []float32
		b      []float32
		offs   []int
		n      int
		c      []float32
		ldc    int
		panels int
	}{
		{"columns not whole tiles", a, make([]float32, 100), []int{0, 1, 2}, Cols - 1, make([]float32, Rows*Cols), Cols, 1},
		{"no depth", a, make([]float32, 100), nil, Cols, make([]float32, Rows*Cols), Cols, 1},
		{"filters short", a[:Rows*3-1], make([]float32, 100), []int{0, 1, 2}, Cols, make([]float32, Rows*Cols), Cols, 1},
		{"offset reads past b", a, make([]float32, 30), []int{0, 1, 7}, Cols, make([]float32, Rows*Cols), Cols, 1},
		{"negative offset", a, make([]float32, 100), []int{0, -1, 2}, Cols, make([]float32, Rows*Cols), Cols, 1},
		{"c short", a, make([]float32, 100), []int{0, 1, 2}, Cols, make([]float32, Rows*Cols-1), Cols, 1},
		{"ldc below n", a, make([]float32, 100), []int{0, 1, 2}, Cols, make([]float32, Rows*Cols), Cols - 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			Multiply(tt.a, tt.panels, tt.b, tt.offs, tt.n, tt.c, tt.ldc)
		})
	}
}

// FuzzMultiply fuzzes filter counts, depths, column blocks, offsets and
// output padding, with the kernel picked by the fuzzer too.
func FuzzMultiply(f *testing.F) {
	f.Add(uint8(4), uint16(9), uint8(1), uint16(50), uint8(0), uint8(0), uint64(1))
	f.Add(uint8(17), uint16(144), uint8(3), uint16(3000), uint8(5), uint8(1), uint64(2))
	ks := kernels()
	f.Fuzz(func(t *testing.T, m uint8, k uint16, blocks uint8, maxOff uint16, padC uint8, pick uint8, seed uint64) {
		if m == 0 || k == 0 || blocks == 0 {
			t.Skip()
		}
		tc := multiplyCase{m: int(m % 64), k: int(k % 700), n: int(blocks%8) * Cols, maxOff: int(maxOff), padC: int(padC % 8)}
		if tc.m == 0 || tc.k == 0 || tc.n == 0 {
			t.Skip()
		}
		useKernel(t, ks[int(pick)%len(ks)].fn)
		tc.check(t, rand.New(rand.NewPCG(seed, 3)))
	})
}

func randomSlice(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = rng.Float32()*2 - 1
	}
	return s
}
