package sgemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"

	"gonum.org/v1/gonum/blas"
)

// namedKernel is a micro-kernel and its name in subtest names.
type namedKernel struct {
	name string
	fn   kernelFunc
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

// useKernel makes Sgemm multiply with fn until the test ends.
func useKernel(t testing.TB, fn kernelFunc) {
	saved := kernel
	kernel = fn
	t.Cleanup(func() { kernel = saved })
}

// gemmCase is one call of Sgemm: shapes, transposes, how much each leading
// dimension exceeds its minimum, and the scalars.
type gemmCase struct {
	tA, tB      blas.Transpose
	m, n, k     int
	padA, padB  int
	padC        int
	alpha, beta float32
}

func (tc gemmCase) String() string {
	return fmt.Sprintf("tA=%c/tB=%c/m=%d/n=%d/k=%d/pad=%d,%d,%d/alpha=%g/beta=%g",
		tc.tA, tc.tB, tc.m, tc.n, tc.k, tc.padA, tc.padB, tc.padC, tc.alpha, tc.beta)
}

// check runs tc on random data with Sgemm and compares C with a float64
// reference, element by element, within float32 rounding over k terms. It
// also checks that A, B and the padding columns of C are left untouched,
// as gonum's testblas does.
func (tc gemmCase) check(t testing.TB, rng *rand.Rand) {
	t.Helper()
	rowA, colA := tc.m, tc.k
	if tc.tA != blas.NoTrans {
		rowA, colA = tc.k, tc.m
	}
	rowB, colB := tc.k, tc.n
	if tc.tB != blas.NoTrans {
		rowB, colB = tc.n, tc.k
	}
	lda, ldb, ldc := max(1, colA+tc.padA), max(1, colB+tc.padB), max(1, tc.n+tc.padC)
	a := randomSlice(rng, rowA*lda)
	b := randomSlice(rng, rowB*ldb)
	c := randomSlice(rng, tc.m*ldc)
	if tc.beta == 0 {
		// C must not be read when beta is zero: NaN would leak through.
		for i := range c {
			c[i] = float32(math.NaN())
		}
	}
	a0, b0, c0 := clone(a), clone(b), clone(c)

	Implementation{}.Sgemm(tc.tA, tc.tB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)

	at := func(i, p int) float64 {
		if tc.tA != blas.NoTrans {
			return float64(a0[p*lda+i])
		}
		return float64(a0[i*lda+p])
	}
	bt := func(p, j int) float64 {
		if tc.tB != blas.NoTrans {
			return float64(b0[j*ldb+p])
		}
		return float64(b0[p*ldb+j])
	}
	const eps = 0x1p-23
	for i := range tc.m {
		for j := range ldc {
			got := c[i*ldc+j]
			if j >= tc.n {
				if !same(got, c0[i*ldc+j]) {
					t.Fatalf("%v: C[%d][%d] past column n changed: %v, was %v", tc, i, j, got, c0[i*ldc+j])
				}
				continue
			}
			var sum, mag float64
			for p := range tc.k {
				x := at(i, p) * bt(p, j)
				sum += x
				mag += math.Abs(x)
			}
			want := float64(tc.alpha) * sum
			mag *= math.Abs(float64(tc.alpha))
			if tc.beta != 0 {
				want += float64(tc.beta) * float64(c0[i*ldc+j])
				mag += math.Abs(float64(tc.beta) * float64(c0[i*ldc+j]))
			}
			// Each of k sums rounds once in float32, plus alpha and beta.
			tol := float64(tc.k+3) * eps * mag
			if d := math.Abs(float64(got) - want); !(d <= tol) {
				t.Fatalf("%v: C[%d][%d] = %v, want %v (off by %g, tolerance %g)", tc, i, j, got, want, d, tol)
			}
		}
	}
	for i := range a {
		if !same(a[i], a0[i]) {
			t.Fatalf("%v: a[%d] changed", tc, i)
		}
	}
	for i := range b {
		if !same(b[i], b0[i]) {
			t.Fatalf("%v: b[%d] changed", tc, i)
		}
	}
}

// same is equality that counts NaN equal to NaN.
func same(x, y float32) bool { return x == y || x != x && y != y }

var transposes = []blas.Transpose{blas.NoTrans, blas.Trans}

// TestSgemm compares Sgemm with a float64 reference, with every kernel, on
// the edge sizes around the 6x16 tile and the KC/MC blocks, the network's
// own shapes, every transpose pair, padded leading dimensions and the
// special values of alpha and beta.
func TestSgemm(t *testing.T) {
	tests := []gemmCase{
		{m: 1, n: 1, k: 1, alpha: 1},
		{m: 6, n: 16, k: 1, alpha: 1, beta: 1},
		{m: 5, n: 15, k: 7, alpha: -0.5, beta: 2},
		{m: 7, n: 17, k: 3, padA: 1, padB: 2, padC: 3, alpha: 1, beta: -0.5},
		{m: 12, n: 32, k: 4, alpha: 2, beta: 0},
		{m: 13, n: 33, k: 5, padC: 16, alpha: 1, beta: 1},
		{m: 1, n: 100, k: 70, alpha: 1, beta: 0.5},
		{m: 70, n: 1, k: 70, alpha: 1, beta: 0},
		{m: 16, n: 4096, k: 27, alpha: 1, beta: 1},                               // stage 1 convolution
		{m: 32, n: 1024, k: 144, alpha: 1, beta: 1},                              // stage 2
		{m: 128, n: 64, k: 576, alpha: 1, beta: 1},                               // stage 4: k > KC
		{m: 64, n: 16, k: 768, alpha: 1, beta: 1},                                // shallow branch
		{m: 16, n: 128, k: 2336, alpha: 1, beta: 1},                              // embedding layer
		{m: 150, n: 40, k: 520, padA: 3, padB: 5, padC: 7, alpha: 0.5, beta: -1}, // m > MC, k > 2 KC
		{m: 256, n: 1152, k: 64, alpha: 1, beta: 0},                              // large: split across goroutines
		{m: 20, n: 4100, k: 9, alpha: 1, beta: 0.5},                              // n > NC
		{m: 80, n: 512, k: 40, alpha: 1, beta: 0},                                // B packed: its stride is 2 KiB
		{m: 100, n: 500, k: 30, padB: 12, alpha: -1, beta: 1},                    // the same by padding
		{m: 16, n: 1152, k: 27, alpha: 1, beta: 0},                               // a forward block of stage 1: edge rows copied
		{m: 7, n: 21, k: 3, padC: 5, alpha: 1, beta: 0},                          // edge tile in both directions, copied
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, kn := range kernels() {
		t.Run("kernel="+kn.name, func(t *testing.T) {
			useKernel(t, kn.fn)
			for _, tc := range tests {
				for _, tA := range transposes {
					for _, tB := range transposes {
						tc.tA, tc.tB = tA, tB
						t.Run(tc.String(), func(t *testing.T) { tc.check(t, rng) })
					}
				}
			}
		})
	}
}

// TestSgemmPacksB checks the cases in TestSgemm meant to pack B do: the
// paths must not drift apart unnoticed.
func TestSgemmPacksB(t *testing.T) {
	tests := []struct{ m, ldb int }{{80, 512}, {100, 512}}
	for _, tt := range tests {
		if readsBInPlace(tt.m, matrix{ld: tt.ldb}) {
			t.Errorf("m=%d, ldb=%d: B read in place, want packed", tt.m, tt.ldb)
		}
	}
}

// TestSgemmRandom draws shapes m, n, k in 1..70, transposes, paddings and
// scalars at random, like gonum's testblas.
func TestSgemmRandom(t *testing.T) {
	scalars := []float32{0, 1, -1, -0.5, 2.5}
	rng := rand.New(rand.NewPCG(3, 4))
	for _, kn := range kernels() {
		t.Run("kernel="+kn.name, func(t *testing.T) {
			useKernel(t, kn.fn)
			for range 400 {
				tc := gemmCase{
					tA: transposes[rng.IntN(2)], tB: transposes[rng.IntN(2)],
					m: 1 + rng.IntN(70), n: 1 + rng.IntN(70), k: 1 + rng.IntN(70),
					padA: rng.IntN(3), padB: rng.IntN(3), padC: rng.IntN(3),
					alpha: scalars[1+rng.IntN(len(scalars)-1)], beta: scalars[rng.IntN(len(scalars))],
				}
				tc.check(t, rng)
			}
		})
	}
}

// TestSgemmDegenerate checks the calls with nothing to multiply, which
// only scale C by beta (handed to gonum).
func TestSgemmDegenerate(t *testing.T) {
	tests := []struct {
		name        string
		m, n, k     int
		alpha, beta float32
		want        float32
	}{
		{"k zero scales C by beta", 2, 3, 0, 1, 3, 6},
		{"alpha zero scales C by beta", 2, 3, 4, 0, 0.5, 1},
		{"alpha and beta zero clear C", 2, 3, 4, 0, 0, 0},
		{"m zero", 0, 3, 4, 1, 1, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := make([]float32, max(tt.m*tt.k, 1)), make([]float32, max(tt.k*tt.n, 1))
			c := []float32{2, 2, 2, 2, 2, 2}
			Implementation{}.Sgemm(blas.NoTrans, blas.NoTrans, tt.m, tt.n, tt.k, tt.alpha, a, max(tt.k, 1), b, tt.n, tt.beta, c, tt.n)
			for i, v := range c[:tt.m*tt.n] {
				if v != tt.want {
					t.Fatalf("c[%d] = %v, want %v", i, v, tt.want)
				}
			}
		})
	}
}

// TestSgemmRefusesBadArguments checks that a size that would make the
// kernel read or write past a slice panics before any arithmetic.
func TestSgemmRefusesBadArguments(t *testing.T) {
	const m, n, k = 4, 5, 6
	tests := []struct {
		name          string
		tA            blas.Transpose
		la, lb, lc    int
		lda, ldb, ldc int
	}{
		{"a short", blas.NoTrans, m*k - 1, k * n, m * n, k, n, n},
		{"a short transposed", blas.Trans, k*m - 1, k * n, m * n, m, n, n},
		{"b short", blas.NoTrans, m * k, k*n - 1, m * n, k, n, n},
		{"c short", blas.NoTrans, m * k, k * n, m*n - 1, k, n, n},
		{"lda small", blas.NoTrans, m * k, k * n, m * n, k - 1, n, n},
		{"ldb small", blas.NoTrans, m * k, k * n, m * n, k, n - 1, n},
		{"ldc small", blas.NoTrans, m * k, k * n, m * n, k, n, n - 1},
		{"bad transpose", 'x', m * k, k * n, m * n, k, n, n},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			Implementation{}.Sgemm(tt.tA, blas.NoTrans, m, n, k, 1,
				make([]float32, tt.la), tt.lda, make([]float32, tt.lb), tt.ldb, 0, make([]float32, tt.lc), tt.ldc)
		})
	}
}

// TestSgemmConcurrent runs large and small products from several
// goroutines at once (run it with -race): the shared pool of packing
// buffers and the count of busy goroutines must not mix calls up.
func TestSgemmConcurrent(t *testing.T) {
	tests := []gemmCase{
		{tA: blas.NoTrans, tB: blas.NoTrans, m: 64, n: 300, k: 120, alpha: 1, beta: 0.5},
		{tA: blas.Trans, tB: blas.NoTrans, m: 300, n: 40, k: 90, padA: 1, alpha: -1, beta: 0},
		{tA: blas.NoTrans, tB: blas.Trans, m: 9, n: 10, k: 11, alpha: 1, beta: 1},
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 5))
			for i := range 6 {
				tests[(g+i)%len(tests)].check(t, rng)
			}
		})
	}
	wg.Wait()
	if n := active.Load(); n != 0 {
		t.Fatalf("%d goroutines still counted as busy", n)
	}
}

// TestSgemmSplit checks products large enough to be split across
// goroutines, along n and along m, into stripes that do not divide evenly
// (three workers).
func TestSgemmSplit(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(3))
	tests := []gemmCase{
		{tA: blas.NoTrans, tB: blas.NoTrans, m: 40, n: 500, k: 130, alpha: 1, beta: 0.5},
		{tA: blas.Trans, tB: blas.Trans, m: 500, n: 40, k: 130, padA: 1, padC: 2, alpha: -1, beta: 0},
		{tA: blas.NoTrans, tB: blas.Trans, m: 10, n: 2000, k: 110, alpha: 1, beta: 1},
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for _, tc := range tests {
		t.Run(tc.String(), func(t *testing.T) {
			if w := workersFor(tc.m, tc.n, tc.k); w != 3 {
				t.Fatalf("split across %d goroutines, want 3: the test proves nothing", w)
			}
			tc.check(t, rng)
		})
	}
}

// FuzzSgemm fuzzes shapes, transposes, paddings and scalars, with the
// kernel picked by the fuzzer too.
func FuzzSgemm(f *testing.F) {
	f.Add(uint8(6), uint8(16), uint8(1), uint8(0), uint8(0), uint8(0), uint8(0), float32(1), float32(0), uint64(1))
	f.Add(uint8(7), uint8(17), uint8(70), uint8(3), uint8(1), uint8(2), uint8(3), float32(-0.5), float32(2), uint64(2))
	f.Add(uint8(1), uint8(200), uint8(255), uint8(1), uint8(0), uint8(0), uint8(1), float32(2), float32(1), uint64(3))
	ks := kernels()
	f.Fuzz(func(t *testing.T, m, n, k, flags, padA, padB, padC uint8, alpha, beta float32, seed uint64) {
		if m == 0 || n == 0 || k == 0 || !finite(alpha) || !finite(beta) ||
			math.Abs(float64(alpha)) > 1e6 || math.Abs(float64(beta)) > 1e6 {
			// Empty products go to gonum; huge scalars only test overflow.
			t.Skip()
		}
		tc := gemmCase{
			tA: transposes[flags&1], tB: transposes[flags>>1&1],
			m: int(m), n: int(n), k: int(k),
			padA: int(padA % 8), padB: int(padB % 8), padC: int(padC % 8),
			alpha: alpha, beta: beta,
		}
		useKernel(t, ks[int(flags>>2)%len(ks)].fn)
		tc.check(t, rand.New(rand.NewPCG(seed, 6)))
	})
}

func finite(x float32) bool { return !math.IsNaN(float64(x)) && !math.IsInf(float64(x), 0) }

func randomSlice(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = rng.Float32()*2 - 1
	}
	return s
}

func clone(s []float32) []float32 { return append([]float32(nil), s...) }
