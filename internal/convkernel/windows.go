package convkernel

import "fmt"

// WindowRows is how many output positions a tile of MultiplyWindows has,
// WindowCols how many filters. Six rows of two 8-float vectors keep 12 of
// the 16 ymm registers as sums; each step loads two vectors of filters
// for twelve FMAs and broadcasts one input value a position, and filter
// counts that are multiples of 16 (the default model's shallow and colour
// branches: 32 and 64) leave no idle columns.
const (
	WindowRows = 6
	WindowCols = 16
)

// windowKernel computes one tile of MultiplyWindows: c[i*ldc+f] = sum over
// p < len(offs) of img[pos[i]+offs[p]] * a[p*WindowCols+f], for i <
// WindowRows and f < WindowCols. It is the assembly kernel where the CPU
// has one (kernel_amd64.go), otherwise windowKernelGo.
var windowKernel = windowKernelGo

// windowKernelGo is the portable windowKernel, a row of the tile at a
// time, in two groups of 8 sums.
func windowKernelGo(a, img []float32, pos, offs []int, c []float32, ldc int) {
	for i := range WindowRows {
		win := img[pos[i]:]
		for f0 := 0; f0 < WindowCols; f0 += 8 {
			var sums [8]float32
			for p, off := range offs {
				madd8(&sums, win[off], a[p*WindowCols+f0:])
			}
			copy(c[i*ldc+f0:], sums[:])
		}
	}
}

// PackWindowFilters lays out m filters of depth k (row-major, filter f at
// w[f*k:]) as panels of WindowCols filters, value p of panel filter f at
// [p*WindowCols+f], into dst, which it returns grown to
// WindowPanels(m)*WindowCols*k values. The filters past m in the last
// panel are zero.
func PackWindowFilters(dst, w []float32, m, k int) []float32 {
	return pack(dst, w, m, k, WindowCols)
}

// WindowPanels is how many panels of WindowCols filters m filters take.
func WindowPanels(m int) int { return (m + WindowCols - 1) / WindowCols }

// MultiplyWindows computes c[i*ldc+f] = sum over p of img[pos[i]+offs[p]]
// * a[f, p] for every output position i < len(pos), which must be a
// multiple of WindowRows, and every filter f of the packed filters a
// (panels*WindowCols of them, PackWindowFilters's layout, depth
// len(offs)). Position i's window is the image's values at pos[i] plus
// each offset: a convolution of any stride reads its windows in place,
// with no im2col matrix; the product comes out a position a row. It
// panics, before anything is written, if a read of a or img or a write of
// c would fall outside them.
func MultiplyWindows(a []float32, panels int, img []float32, pos, offs []int, c []float32, ldc int) {
	k, m := len(offs), len(pos)
	if m%WindowRows != 0 || panels < 0 || k == 0 {
		panic(fmt.Sprintf("convkernel: MultiplyWindows: %d positions (want a multiple of %d), %d panels, depth %d", m, WindowRows, panels, k))
	}
	if m == 0 || panels == 0 {
		return
	}
	n := panels * WindowCols
	if len(a) < n*k {
		panic(fmt.Sprintf("convkernel: MultiplyWindows: %d filter values for %d panels of depth %d", len(a), panels, k))
	}
	if ldc < n || len(c) < (m-1)*ldc+n {
		panic(fmt.Sprintf("convkernel: MultiplyWindows: output of %d values, stride %d, for %d rows of %d", len(c), ldc, m, n))
	}
	lo, hi := span(offs)
	plo, phi := span(pos)
	if lo+plo < 0 || hi+phi >= len(img) {
		panic(fmt.Sprintf("convkernel: MultiplyWindows: positions %d..%d and offsets %d..%d read outside %d input values", plo, phi, lo, hi, len(img)))
	}
	for i := 0; i < m; i += WindowRows {
		for t := range panels {
			windowKernel(a[t*WindowCols*k:(t+1)*WindowCols*k], img, pos[i:i+WindowRows], offs, c[i*ldc+t*WindowCols:], ldc)
		}
	}
}

// span returns the least and the greatest of v, which is not empty.
func span(v []int) (lo, hi int) {
	lo, hi = v[0], v[0]
	for _, x := range v {
		lo, hi = min(lo, x), max(hi, x)
	}
	return lo, hi
}
