package convkernel

import "fmt"

// Rows is how many filters a tile has, Cols how many output columns.
// Four rows of three 8-float vectors keep 12 of the 16 ymm registers
// as sums; each step loads three vectors of input for twelve FMAs and
// four broadcast filter values, and filter counts that are multiples of 4
// (every convolution of the default model) leave no idle rows.
const (
	Rows = 4
	Cols = 24
)

// kernel computes one tile: c[i*ldc+j] = sum over p < k of a[p*Rows+i] *
// b[offs[p]+j], for i < Rows and j < Cols. It is the assembly kernel where
// the CPU has one (kernel_amd64.go), otherwise kernelGo.
var kernel = kernelGo

// kernelName says which kernel was chosen, for Describe.
var kernelName = "pure Go kernel"

// Describe names the micro-kernel this process multiplies with.
func Describe() string { return kernelName }

// kernelGo is the portable micro-kernel: a row of the tile at a time, in
// three groups of 8 sums. It is there for correctness on CPUs without the
// assembly, not for speed.
func kernelGo(a, b []float32, offs []int, c []float32, ldc int) {
	for i := range Rows {
		for j0 := 0; j0 < Cols; j0 += 8 {
			var sums [8]float32
			for p, off := range offs {
				madd8(&sums, a[p*Rows+i], b[off+j0:])
			}
			copy(c[i*ldc+j0:], sums[:])
		}
	}
}

// madd8 adds x times v[0:8] to sums.
func madd8(sums *[8]float32, x float32, v []float32) {
	w := (*[8]float32)(v)
	for i := range sums {
		sums[i] += x * w[i]
	}
}

// PackFilters lays out m filters of depth k (row-major, filter i at
// w[i*k:]) as panels of Rows filters, value p of panel filter i at
// [p*Rows+i], into dst, which it returns grown to Panels(m)*Rows*k values.
// The filters past m in the last panel are zero.
func PackFilters(dst, w []float32, m, k int) []float32 {
	return pack(dst, w, m, k, Rows)
}

// pack lays out m filters of depth k as panels of width filters, value p
// of panel filter i at [p*width+i], into dst, grown as needed, with zero
// filters past m.
func pack(dst, w []float32, m, k, width int) []float32 {
	if len(w) < m*k {
		panic(fmt.Sprintf("convkernel: %d values for %d filters of depth %d", len(w), m, k))
	}
	n := (m + width - 1) / width * width * k
	if cap(dst) < n {
		dst = make([]float32, n)
	}
	dst = dst[:n]
	for i0 := 0; i0 < m; i0 += width {
		panel := dst[i0*k : (i0+width)*k]
		if i0+width > m {
			clear(panel)
		}
		for i := range min(width, m-i0) {
			for p, v := range w[(i0+i)*k : (i0+i+1)*k] {
				panel[p*width+i] = v
			}
		}
	}
	return dst
}

// Panels is how many panels of Rows filters m filters take.
func Panels(m int) int { return (m + Rows - 1) / Rows }

// Multiply computes c[i*ldc+j] = sum over p of a[i, p] * b[offs[p]+j] for
// every row i of the packed filters a (Panels*Rows rows, PackFilters's
// layout, depth len(offs)) and every column j < n; n must be a multiple
// of Cols. It panics, before anything is written, if a read of a or b or
// a write of c would fall outside them.
//
// The tiles of a column block are computed one after another, so the
// block's runs of b stay in the core's L1 cache while each panel of
// filters streams past them.
func Multiply(a []float32, panels int, b []float32, offs []int, n int, c []float32, ldc int) {
	k := len(offs)
	if n%Cols != 0 || n < 0 || panels < 0 || k == 0 {
		panic(fmt.Sprintf("convkernel: Multiply: %d columns (want a multiple of %d), %d panels, depth %d", n, Cols, panels, k))
	}
	if n == 0 || panels == 0 {
		return
	}
	if len(a) < panels*Rows*k {
		panic(fmt.Sprintf("convkernel: Multiply: %d filter values for %d panels of depth %d", len(a), panels, k))
	}
	if ldc < n || len(c) < (panels*Rows-1)*ldc+n {
		panic(fmt.Sprintf("convkernel: Multiply: output of %d values, stride %d, for %d rows of %d", len(c), ldc, panels*Rows, n))
	}
	lo, hi := span(offs)
	if lo < 0 || hi+n > len(b) {
		panic(fmt.Sprintf("convkernel: Multiply: offsets %d..%d and %d columns read past %d input values", lo, hi, n, len(b)))
	}
	for j := 0; j < n; j += Cols {
		for t := range panels {
			kernel(a[t*Rows*k:(t+1)*Rows*k], b[j:], offs, c[t*Rows*ldc+j:], ldc)
		}
	}
}
