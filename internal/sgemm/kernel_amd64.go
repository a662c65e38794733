//go:build amd64 && !purego

package sgemm

import "golang.org/x/sys/cpu"

// kernelAVX2 is kernel in AVX2+FMA assembly (kernel_amd64.s). The pointers
// must have k*mr values of a, k*nr of b and mr rows of nr in c.
//
//go:noescape
func kernelAVX2(k int, a, b, c *float32, ldc int, alpha, beta float32)

func init() {
	// HasAVX2 is only set when the OS saves the ymm registers too.
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		kernel = kernelAsm
		kernelName = "AVX2+FMA kernel"
	}
}

// kernelAsm checks the slices the assembly is about to read and write
// (once per tile, cheap next to k*96 FMAs) and calls it.
func kernelAsm(k int, a, b, c []float32, ldc int, alpha, beta float32) {
	_ = a[k*mr-1]
	_ = b[k*nr-1]
	_ = c[(mr-1)*ldc+nr-1]
	kernelAVX2(k, &a[0], &b[0], &c[0], ldc, alpha, beta)
}
