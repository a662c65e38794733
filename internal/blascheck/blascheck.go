// Package blascheck checks the arguments of a matrix product before it is
// handed to code that does not check bounds itself (C, assembly): the
// same checks gonum makes, so a wrong size panics in Go instead of reading
// or writing past a slice.
package blascheck

import "gonum.org/v1/gonum/blas"

// Sgemm panics, with a message starting "pkg: ", unless C = op(A)*op(B)
// with op(A) m x k, op(B) k x n and C m x n fits the slices and leading
// dimensions given. The dimensions must be positive (callers hand empty
// products to gonum, which checks those).
func Sgemm(pkg string, tA, tB blas.Transpose, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	rowA, colA := m, k
	if tA != blas.NoTrans {
		rowA, colA = k, m
	}
	rowB, colB := k, n
	if tB != blas.NoTrans {
		rowB, colB = n, k
	}
	switch {
	case !valid(tA) || !valid(tB):
		panic(pkg + ": bad transpose")
	case m < 0 || n < 0 || k < 0:
		panic(pkg + ": negative dimension")
	case lda < max(1, colA) || ldb < max(1, colB) || ldc < max(1, n):
		panic(pkg + ": leading dimension too small")
	case len(a) < lda*(rowA-1)+colA:
		panic(pkg + ": a is too short")
	case len(b) < ldb*(rowB-1)+colB:
		panic(pkg + ": b is too short")
	case len(c) < ldc*(m-1)+n:
		panic(pkg + ": c is too short")
	}
}

func valid(t blas.Transpose) bool {
	return t == blas.NoTrans || t == blas.Trans || t == blas.ConjTrans
}
