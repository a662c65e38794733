//go:build !amd64 || purego

package embedded

func dotBlockKernel(q, rows, out []float32) { dotBlockGeneric(q, rows, out) }

func dotCodesKernel(q []float32, codes []int8, out []float32) { dotCodesGeneric(q, codes, out) }
