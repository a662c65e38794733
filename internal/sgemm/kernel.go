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
// assembly one. It works one row of the tile at a time, with the row's 16
// sums in local variables the compiler keeps in registers (an array of
// all 96 would live in memory, five times slower); the row of B is a
// fixed-size view, so its loads need no bounds checks.
func kernelGo(k int, a []float32, rsA, csA int, b []float32, ldb int, c []float32, ldc int, alpha, beta float32) {
	for i := range mr {
		var s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11, s12, s13, s14, s15 float32
		ai := a[i*rsA:]
		for p := range k {
			x := ai[p*csA]
			bp := (*[nr]float32)(b[p*ldb:])
			s0 += x * bp[0]
			s1 += x * bp[1]
			s2 += x * bp[2]
			s3 += x * bp[3]
			s4 += x * bp[4]
			s5 += x * bp[5]
			s6 += x * bp[6]
			s7 += x * bp[7]
			s8 += x * bp[8]
			s9 += x * bp[9]
			s10 += x * bp[10]
			s11 += x * bp[11]
			s12 += x * bp[12]
			s13 += x * bp[13]
			s14 += x * bp[14]
			s15 += x * bp[15]
		}
		sums := [nr]float32{s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11, s12, s13, s14, s15}
		dst := (*[nr]float32)(c[i*ldc:])
		if beta == 0 {
			for j, v := range sums {
				dst[j] = alpha * v
			}
			continue
		}
		for j, v := range sums {
			dst[j] = alpha*v + beta*dst[j]
		}
	}
}
