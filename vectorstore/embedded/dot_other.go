//go:build !amd64 || purego

package embedded

func dotBlockKernel(q, rows, out []float32) { dotBlockGeneric(q, rows, out) }
