//go:build openblas && cgo

package trainer

import (
	G "gorgonia.org/gorgonia"

	"github.com/deeprank/deeprank/internal/openblas"
)

// Gorgonia's convolutions and matrix products go through its BLAS.
func init() { G.Use(openblas.Implementation{}) }
