package sgemm

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"

	"github.com/deeprank/deeprank/internal/cputime"
)

// benchImpls are the BLAS implementations BenchmarkSgemm compares side by
// side; a build with the openblas tag adds OpenBLAS (bench_openblas_test.go).
var benchImpls = []struct {
	name string
	impl blas.Float32Level3
}{{"gonum", gonum.Implementation{}}, {"sgemm", Implementation{}}}

// BenchmarkSgemm multiplies the default model's shapes with each BLAS, on
// one and on two threads (GOMAXPROCS), in one run so the GFLOP/s compare:
// the shapes im2col gave the fast forward pass's convolutions before
// internal/convkernel took them (filters x im2col columns x window), its
// dense layers (a batch of 32 x outputs x inputs),
// gorgonia's in training at batch 48 (the whole batch's im2col rows at
// once: the second convolution's forward, weight gradient and input
// gradient, with their transposes, and the third's weight gradient) and
// one larger product. GFLOP/cpu-s is
// the work per second of CPU the process used: with two threads it shows
// what splitting costs, GFLOP/s what it gains.
func BenchmarkSgemm(b *testing.B) {
	N, T := blas.NoTrans, blas.Trans
	shapes := []struct {
		name    string
		tA, tB  blas.Transpose
		m, n, k int
	}{
		{"stage1", N, N, 16, 64 * 64, 27},
		{"color", N, N, 32, 32 * 32, 12},
		{"stage2", N, N, 32, 32 * 32, 144},
		{"stage3", N, N, 64, 16 * 16, 288},
		{"stage4", N, N, 128, 8 * 8, 576},
		{"shallow1", N, N, 64, 8 * 8, 192},
		{"shallow2", N, N, 64, 4 * 4, 768},
		{"fc1", N, N, 32, 256, 128},
		{"fc2", N, N, 32, 256, 256},
		{"embedding", N, N, 32, 128, 2336},
		{"train-stage2", N, T, 144 * 32 * 32, 32, 144},
		{"train-stage2-dw", T, N, 32, 144, 144 * 32 * 32},
		{"train-stage2-dx", N, N, 144 * 32 * 32, 144, 32},
		{"train-stage3-dw", T, N, 64, 288, 144 * 16 * 16},
		{"large", N, N, 256, 1152, 256},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, s := range shapes {
		// Stored shapes: op(A) is m x k, op(B) k x n.
		lda, ldb := s.k, s.n
		if s.tA == T {
			lda = s.m
		}
		if s.tB == T {
			ldb = s.k
		}
		a, x := randomSlice(rng, s.m*s.k), randomSlice(rng, s.k*s.n)
		c := make([]float32, s.m*s.n)
		for _, threads := range []int{1, 2} {
			for _, im := range benchImpls {
				b.Run(fmt.Sprintf("%s/%c%c/m=%d/n=%d/k=%d/threads=%d/blas=%s", s.name, s.tA, s.tB, s.m, s.n, s.k, threads, im.name), func(b *testing.B) {
					defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(threads))
					cpu0 := cputime.Seconds()
					for b.Loop() {
						im.impl.Sgemm(s.tA, s.tB, s.m, s.n, s.k, 1, a, lda, x, ldb, 0, c, s.n)
					}
					gflop := 2 * float64(s.m*s.n*s.k) * float64(b.N) / 1e9
					b.ReportMetric(gflop/b.Elapsed().Seconds(), "GFLOP/s")
					if cpu := cputime.Seconds() - cpu0; cpu > 0 {
						b.ReportMetric(gflop/cpu, "GFLOP/cpu-s")
					}
				})
			}
		}
	}
}
