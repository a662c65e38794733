//go:build openblas && cgo

package sgemm

import (
	"gonum.org/v1/gonum/blas"

	"github.com/deeprank/deeprank/internal/openblas"
)

func init() {
	benchImpls = append(benchImpls, struct {
		name string
		impl blas.Float32Level3
	}{"openblas", openblas.Implementation{}})
}
