//go:build !(openblas && cgo)

package trainer

import (
	G "gorgonia.org/gorgonia"

	"github.com/deeprank/deeprank/internal/sgemm"
)

// Gorgonia's convolutions and matrix products go through its BLAS: here the
// same blocked Sgemm as the fast forward pass (blas_openblas.go swaps in
// OpenBLAS for both).
func init() { G.Use(sgemm.Implementation{}) }
