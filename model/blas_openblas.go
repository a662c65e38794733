//go:build openblas && cgo

package model

import "github.com/deeprank/deeprank/internal/openblas"

// The openblas tag gives the trainer OpenBLAS; the fast forward pass keeps
// its own kernels (see Net), so only the name changes here.
func init() { trainingBLAS = openblas.Describe() }
