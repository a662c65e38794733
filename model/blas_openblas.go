//go:build openblas && cgo

package model

import "github.com/deeprank/deeprank/internal/openblas"

func init() {
	sgemm = openblas.Implementation{}
	blasName = openblas.Describe()
}
