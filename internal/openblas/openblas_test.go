//go:build openblas && cgo

package openblas

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// TestSgemmMatchesGonum compares every transpose combination, padded
// leading dimensions, beta != 0 and the degenerate sizes with gonum's Sgemm.
func TestSgemmMatchesGonum(t *testing.T) {
	tests := []struct {
		name    string
		tA, tB  blas.Transpose
		m, n, k int
		pad     int // extra columns in every leading dimension
		alpha   float32
		beta    float32
	}{
		{"conv-like", blas.NoTrans, blas.NoTrans, 32, 1024, 144, 0, 1, 1},
		{"weight-gradient", blas.NoTrans, blas.Trans, 16, 27, 4096, 0, 1, 0},
		{"input-gradient", blas.Trans, blas.NoTrans, 144, 1024, 32, 0, 1, 0},
		{"both-transposed", blas.Trans, blas.Trans, 7, 5, 3, 0, 0.5, 2},
		{"padded", blas.NoTrans, blas.NoTrans, 9, 11, 13, 3, -1.5, 0.25},
		{"row", blas.NoTrans, blas.NoTrans, 1, 256, 384, 0, 1, 0},
		{"k zero scales C by beta", blas.NoTrans, blas.NoTrans, 4, 4, 0, 0, 1, 3},
		{"alpha zero", blas.NoTrans, blas.NoTrans, 4, 4, 4, 0, 0, 0.5},
		{"empty", blas.NoTrans, blas.NoTrans, 0, 4, 4, 0, 1, 1},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rowA, colA := tt.m, tt.k
			if tt.tA == blas.Trans {
				rowA, colA = tt.k, tt.m
			}
			rowB, colB := tt.k, tt.n
			if tt.tB == blas.Trans {
				rowB, colB = tt.n, tt.k
			}
			lda, ldb, ldc := max(1, colA+tt.pad), max(1, colB+tt.pad), max(1, tt.n+tt.pad)
			a := randomSlice(rng, max(0, rowA*lda))
			b := randomSlice(rng, max(0, rowB*ldb))
			want := randomSlice(rng, max(0, tt.m*ldc))
			got := append([]float32(nil), want...)

			gonum.Implementation{}.Sgemm(tt.tA, tt.tB, tt.m, tt.n, tt.k, tt.alpha, a, lda, b, ldb, tt.beta, want, ldc)
			Implementation{}.Sgemm(tt.tA, tt.tB, tt.m, tt.n, tt.k, tt.alpha, a, lda, b, ldb, tt.beta, got, ldc)
			for i := range want {
				// Sums in another order: allow float32 rounding over k terms.
				tol := 1e-5 * float64(tt.k+1)
				if d := math.Abs(float64(got[i] - want[i])); d > tol*math.Max(1, math.Abs(float64(want[i]))) {
					t.Fatalf("c[%d] = %v, gonum gives %v", i, got[i], want[i])
				}
			}
		})
	}
}

// TestSgemmRefusesShortSlices checks that a size that would make OpenBLAS
// read or write past a slice panics in Go first.
func TestSgemmRefusesShortSlices(t *testing.T) {
	const m, n, k = 4, 5, 6
	tests := []struct {
		name          string
		la, lb, lc    int
		lda, ldb, ldc int
	}{
		{"a short", m*k - 1, k * n, m * n, k, n, n},
		{"b short", m * k, k*n - 1, m * n, k, n, n},
		{"c short", m * k, k * n, m*n - 1, k, n, n},
		{"lda small", m * k, k * n, m * n, k - 1, n, n},
		{"ldc small", m * k, k * n, m * n, k, n, n - 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			Implementation{}.Sgemm(blas.NoTrans, blas.NoTrans, m, n, k, 1,
				make([]float32, tt.la), tt.lda, make([]float32, tt.lb), tt.ldb, 0, make([]float32, tt.lc), tt.ldc)
		})
	}
}

func randomSlice(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = rng.Float32()*2 - 1
	}
	return s
}
