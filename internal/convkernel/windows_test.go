package convkernel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// windowFunc is the signature of a window micro-kernel.
type windowFunc = func(a, img []float32, pos, offs []int, c []float32, ldc int)

// windowKernels are the window micro-kernels this machine can run: the
// pure-Go one always, the assembly one where the CPU has it.
func windowKernels() []struct {
	name string
	fn   windowFunc
} {
	ks := []struct {
		name string
		fn   windowFunc
	}{{"go", windowKernelGo}}
	if kernelName != "pure Go kernel" {
		ks = append(ks, struct {
			name string
			fn   windowFunc
		}{"asm", windowKernel})
	}
	return ks
}

// useWindowKernel makes MultiplyWindows use fn until the test ends.
func useWindowKernel(t testing.TB, fn windowFunc) {
	saved := windowKernel
	windowKernel = fn
	t.Cleanup(func() { windowKernel = saved })
}

// windowCase is one call of MultiplyWindows: m filters of depth k, rows
// positions (a multiple of WindowRows), positions and offsets drawn below
// maxPos and maxOff, ldc-n columns of padding in c.
type windowCase struct {
	m, k, rows, maxPos, maxOff, padC int
}

func (tc windowCase) String() string {
	return fmt.Sprintf("m=%d/k=%d/rows=%d/maxPos=%d/maxOff=%d/padC=%d", tc.m, tc.k, tc.rows, tc.maxPos, tc.maxOff, tc.padC)
}

// check packs random filters, multiplies them by random windows of a
// random image and compares every output with a float64 sum
// (compareProduct); the filters past m give zero.
func (tc windowCase) check(t testing.TB, rng *rand.Rand) {
	t.Helper()
	w := randomSlice(rng, tc.m*tc.k)
	img := randomSlice(rng, tc.maxPos+tc.maxOff+1)
	pos := make([]int, tc.rows)
	for i := range pos {
		pos[i] = rng.IntN(tc.maxPos + 1)
	}
	offs := make([]int, tc.k)
	for p := range offs {
		offs[p] = rng.IntN(tc.maxOff + 1)
	}
	panels := WindowPanels(tc.m)
	n := panels * WindowCols
	ldc := n + tc.padC
	c := randomSlice(rng, tc.rows*ldc)
	c0 := append([]float32(nil), c...)
	a := PackWindowFilters(nil, w, tc.m, tc.k)
	MultiplyWindows(a, panels, img, pos, offs, c, ldc)
	compareProduct(t, tc, c, c0, tc.rows, n, ldc, tc.k, func(i, f int) (sum, mag float64) {
		if f < tc.m {
			for p, off := range offs {
				x := float64(img[pos[i]+off]) * float64(w[f*tc.k+p])
				sum += x
				mag += math.Abs(x)
			}
		}
		return sum, mag
	})
}

// TestMultiplyWindows compares MultiplyWindows with a float64 sum, with
// every kernel, on depths around the kernel's unrolling (4 steps), filter
// counts that fill and do not fill the last panel, several tiles of
// positions, padded output rows, and the default model's shallow and
// colour convolutions.
func TestMultiplyWindows(t *testing.T) {
	tests := []windowCase{
		{m: 1, k: 1, rows: WindowRows, maxPos: 0, maxOff: 0},
		{m: 16, k: 3, rows: WindowRows, maxPos: 10, maxOff: 5, padC: 1},
		{m: 5, k: 4, rows: 2 * WindowRows, maxPos: 100, maxOff: 40},
		{m: 17, k: 5, rows: 3 * WindowRows, maxPos: 7, maxOff: 9, padC: 3},
		{m: 40, k: 9, rows: WindowRows, maxPos: 1000, maxOff: 1000},
		{m: 64, k: 192, rows: 66, maxPos: 12000, maxOff: 12000}, // shallow 1: 8x8, stride 8
		{m: 64, k: 768, rows: 18, maxPos: 12000, maxOff: 12000}, // shallow 2: 16x16, stride 16
		{m: 32, k: 12, rows: 1026, maxPos: 12000, maxOff: 8000}, // colour: 2x2, stride 2
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for _, kn := range windowKernels() {
		t.Run("kernel="+kn.name, func(t *testing.T) {
			useWindowKernel(t, kn.fn)
			for _, tc := range tests {
				t.Run(tc.String(), func(t *testing.T) { tc.check(t, rng) })
			}
		})
	}
}

// TestPackWindowFilters checks the panel layout and the zero filters that
// fill the last panel.
func TestPackWindowFilters(t *testing.T) {
	w := []float32{1, 2, 3, 4, 5, 6} // 3 filters of depth 2
	want := make([]float32, 2*WindowCols)
	copy(want, []float32{1, 3, 5})
	copy(want[WindowCols:], []float32{2, 4, 6})
	for _, dst := range [][]float32{nil, randomSlice(rand.New(rand.NewPCG(1, 1)), 2*WindowCols)} {
		if got := PackWindowFilters(dst, w, 3, 2); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("PackWindowFilters = %v, want %v", got, want)
		}
	}
}

// TestMultiplyWindowsRefusesBadArguments checks that a call whose reads
// or writes would fall outside its slices panics before the kernel runs.
func TestMultiplyWindowsRefusesBadArguments(t *testing.T) {
	a := make([]float32, WindowCols*3)
	pos := make([]int, WindowRows)
	offs := []int{0, 1, 2}
	c := make([]float32, WindowRows*WindowCols)
	tests := []struct {
		name      string
		a, img, c []float32
		pos, offs []int
		ldc       int
	}{
		{"positions not whole tiles", a, make([]float32, 10), c, pos[:WindowRows-1], offs, WindowCols},
		{"no depth", a, make([]float32, 10), c, pos, nil, WindowCols},
		{"filters short", a[:len(a)-1], make([]float32, 10), c, pos, offs, WindowCols},
		{"window reads past img", a, make([]float32, 2), c, pos, offs, WindowCols},
		{"window reads before img", a, make([]float32, 10), c, pos, []int{0, -1, 2}, WindowCols},
		{"c short", a, make([]float32, 10), c[:len(c)-1], pos, offs, WindowCols},
		{"ldc below the filters", a, make([]float32, 10), c, pos, offs, WindowCols - 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			MultiplyWindows(tt.a, 1, tt.img, tt.pos, tt.offs, tt.c, tt.ldc)
		})
	}
}

// FuzzMultiplyWindows fuzzes filter counts, depths, positions, offsets
// and output padding, with the kernel picked by the fuzzer too.
func FuzzMultiplyWindows(f *testing.F) {
	f.Add(uint8(16), uint16(12), uint8(1), uint16(50), uint16(30), uint8(0), uint8(0), uint64(1))
	f.Add(uint8(33), uint16(193), uint8(3), uint16(3000), uint16(900), uint8(5), uint8(1), uint64(2))
	ks := windowKernels()
	f.Fuzz(func(t *testing.T, m uint8, k uint16, tiles uint8, maxPos, maxOff uint16, padC, pick uint8, seed uint64) {
		tc := windowCase{m: int(m % 80), k: int(k % 800), rows: int(tiles%8) * WindowRows, maxPos: int(maxPos), maxOff: int(maxOff), padC: int(padC % 8)}
		if tc.m == 0 || tc.k == 0 || tc.rows == 0 {
			t.Skip()
		}
		useWindowKernel(t, ks[int(pick)%len(ks)].fn)
		tc.check(t, rand.New(rand.NewPCG(seed, 4)))
	})
}
