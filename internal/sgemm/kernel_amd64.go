//go:build amd64 && !purego

package sgemm

import "golang.org/x/sys/cpu"

// kernelAVX2 is kernel in AVX2+FMA assembly (kernel_amd64.s), on pointers
// to the first values of a, b and c.
//
//go:noescape
func kernelAVX2(k int, a *float32, rsA, csA int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32)

func init() {
	// HasAVX2 is only set when the OS saves the ymm registers too.
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		kernel = kernelAsm
		kernelName = "AVX2+FMA kernel"
	}
}

// kernelAsm checks that the last values the assembly reads and writes are
// inside a, b and c (once per tile, cheap next to k*96 FMAs) and calls it.
func kernelAsm(k int, a []float32, rsA, csA int, b []float32, ldb int, c []float32, ldc int, alpha, beta float32) {
	_ = a[(mr-1)*rsA+(k-1)*csA]
	_ = b[(k-1)*ldb+nr-1]
	_ = c[(mr-1)*ldc+nr-1]
	kernelAVX2(k, &a[0], rsA, csA, &b[0], ldb, &c[0], ldc, alpha, beta)
}
