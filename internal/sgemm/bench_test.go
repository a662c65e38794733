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

// BenchmarkSgemm multiplies the default model's shapes (convolutions:
// filters x im2col columns x window; dense layers: batch of 16 images per
// worker x outputs x inputs) and one larger product, with each BLAS, on one
// and on two threads (GOMAXPROCS), in one run so the GFLOP/s compare.
// GFLOP/cpu-s is the work per second of CPU the process used: with two
// threads it shows what splitting costs, GFLOP/s what it gains.
func BenchmarkSgemm(b *testing.B) {
	shapes := []struct {
		name    string
		m, n, k int
	}{
		{"stage1", 16, 64 * 64, 27},
		{"color", 32, 32 * 32, 12},
		{"stage2", 32, 32 * 32, 144},
		{"stage3", 64, 16 * 16, 288},
		{"stage4", 128, 8 * 8, 576},
		{"shallow1", 64, 8 * 8, 192},
		{"shallow2", 64, 4 * 4, 768},
		{"fc1", 16, 256, 128},
		{"embedding", 16, 128, 2336},
		{"large", 256, 1152, 256},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, s := range shapes {
		a, x := randomSlice(rng, s.m*s.k), randomSlice(rng, s.k*s.n)
		c := make([]float32, s.m*s.n)
		for _, threads := range []int{1, 2} {
			for _, im := range benchImpls {
				b.Run(fmt.Sprintf("%s/m=%d/n=%d/k=%d/threads=%d/blas=%s", s.name, s.m, s.n, s.k, threads, im.name), func(b *testing.B) {
					defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(threads))
					cpu0 := cputime.Seconds()
					for b.Loop() {
						im.impl.Sgemm(blas.NoTrans, blas.NoTrans, s.m, s.n, s.k, 1, a, s.k, x, s.n, 0, c, s.n)
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
