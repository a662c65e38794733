//go:build amd64 && !purego

package convkernel

import "golang.org/x/sys/cpu"

// kernelAVX2 is kernel in AVX2+FMA assembly (kernel_amd64.s) on pointers
// to the first values; offs has k entries.
//
//go:noescape
func kernelAVX2(k int, a *float32, b *float32, offs *int, c *float32, ldc int)

// windowAVX2 is windowKernel in AVX2+FMA assembly (kernel_amd64.s).
//
//go:noescape
func windowAVX2(k int, a *float32, img *float32, pos *int, offs *int, c *float32, ldc int)

func init() {
	// HasAVX2 is only set when the OS saves the ymm registers too.
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		kernel = kernelAsm
		windowKernel = windowAsm
		kernelName = "AVX2+FMA kernel"
	}
}

// kernelAsm calls the assembly kernel. Multiply has checked every read
// and write against the slices' lengths, once for all tiles.
func kernelAsm(a, b []float32, offs []int, c []float32, ldc int) {
	kernelAVX2(len(offs), &a[0], &b[0], &offs[0], &c[0], ldc)
}

// windowAsm calls the assembly window kernel. MultiplyWindows has checked
// every read and write against the slices' lengths, once for all tiles.
func windowAsm(a, img []float32, pos, offs []int, c []float32, ldc int) {
	windowAVX2(len(offs), &a[0], &img[0], &pos[0], &offs[0], &c[0], ldc)
}
