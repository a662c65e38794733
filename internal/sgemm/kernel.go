package sgemm

// kernel multiplies a packed mr-row panel of A by a packed nr-column panel
// of B over depth k and stores C[0:mr, 0:nr] = alpha*A*B + beta*C, with row
// stride ldc; C is not read when beta is zero. It is the assembly kernel
// where the CPU has one (kernel_amd64.go), otherwise kernelGo.
var kernel = kernelGo

// kernelName says which kernel was chosen, for Describe.
var kernelName = "pure Go kernel"

// kernelGo is the portable micro-kernel on the same packed panels as the
// assembly one. The accumulators live in an array the compiler keeps on
// the stack; fixed-size slices of the panels let it drop bounds checks.
func kernelGo(k int, a, b, c []float32, ldc int, alpha, beta float32) {
	var acc [mr][nr]float32
	a, b = a[:k*mr], b[:k*nr]
	for p := range k {
		ap := (*[mr]float32)(a[p*mr:])
		bp := (*[nr]float32)(b[p*nr:])
		for i := range mr {
			ai := ap[i]
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
