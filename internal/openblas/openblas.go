//go:build openblas && cgo

package openblas

/*
#cgo LDFLAGS: -lopenblas
#include <cblas.h>
*/
import "C"

import (
	"fmt"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"

	"github.com/deeprank/deeprank/internal/blascheck"
)

func init() { C.openblas_set_num_threads(1) }

// Implementation is gonum's BLAS with Sgemm done by OpenBLAS. It satisfies
// gonum's blas.Float32Level3 and gorgonia's BLAS interface.
type Implementation struct{ gonum.Implementation }

// Describe names the library, its version, build options and the CPU
// kernel it chose: "OpenBLAS 0.3.21 ... , kernel Cooperlake".
func Describe() string {
	return fmt.Sprintf("%s, kernel %s", C.GoString(C.openblas_get_config()), C.GoString(C.openblas_get_corename()))
}

// Sgemm computes C = alpha * op(A) * op(B) + beta * C for row-major
// matrices, as gonum's Sgemm does, with the same checks on its arguments:
// a wrong size panics here rather than letting C read past a slice.
func (impl Implementation) Sgemm(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 || k == 0 || alpha == 0 {
		// Nothing to multiply: gonum scales C by beta and checks the rest.
		impl.Implementation.Sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	blascheck.Sgemm("openblas", tA, tB, m, n, k, a, lda, b, ldb, c, ldc)
	C.cblas_sgemm(C.CblasRowMajor, transpose(tA), transpose(tB),
		C.blasint(m), C.blasint(n), C.blasint(k), C.float(alpha),
		(*C.float)(&a[0]), C.blasint(lda), (*C.float)(&b[0]), C.blasint(ldb),
		C.float(beta), (*C.float)(&c[0]), C.blasint(ldc))
}

func transpose(t blas.Transpose) C.enum_CBLAS_TRANSPOSE {
	if t == blas.NoTrans {
		return C.CblasNoTrans
	}
	return C.CblasTrans
}
