package sgemm

// kernel multiplies mr rows of A by nr columns of B over depth k and
// stores C[0:mr, 0:nr] = alpha*A*B + beta*C, with row stride ldc; C is not
// read when beta is zero. A[i, p] is a[i*rsA + p*csA], so the kernel reads
// A in place whatever its transpose, or a packed panel (rsA 1, csA
// mr); row p of B is b[p*ldb : p*ldb+nr]. It is the assembly kernel where
// the CPU has one (kernel_amd64.go), otherwise kernelGo.
var kernel kernelFunc = kernelGo

// kernelFunc is the signature every micro-kernel has.
type kernelFunc func(k int, a []float32, rsA, csA int, b []float32, ldb int, c []float32, ldc int, alpha, beta float32)

// kernelName says which kernel was chosen, for Describe.
var kernelName = "pure Go kernel"

// kernelGo is the portable micro-kernel on the same operands as the
// assembly one. The accumulators live in an array the compiler keeps on
// the stack; fixed-size views of B's rows let it drop bounds checks.
func kernelGo(k int, a []float32, rsA, csA int, b []float32, ldb int, c []float32, ldc int, alpha, beta float32) {
	var acc [mr][nr]float32
	for p := range k {
		bp := (*[nr]float32)(b[p*ldb:])
		for i := range mr {
			ai := a[i*rsA+p*csA]
			row := &acc[i]
			for j := range nr {
				row[j] += ai * bp[j]
			}
		}
	}
	for i := range mr {
		dst := (*[nr]float32)(c[i*ldc:])
		if beta == 0 {
			for j := range nr {
				dst[j] = alpha * acc[i][j]
			}
			continue
		}
		for j := range nr {
			dst[j] = alpha*acc[i][j] + beta*dst[j]
		}
	}
}
