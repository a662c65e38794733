package trainer

import (
	"slices"
)

// scaledKernel reports whether a convolution weight of shape to is one of
// shape from whose kernel was scaled with the input, from a fromInput-pixel
// spec to a toInput-pixel one: the same channels, a kernel side that
// differs from from's by exactly toInput/fromInput. Such a kernel, with its
// stride scaled alike, sees the same part of the image at either size, so
// resampling it (resampleKernel) keeps what it computes.
func scaledKernel(from, to []int, fromInput, toInput int) bool {
	if len(from) != 4 || len(to) != 4 || fromInput == toInput || !slices.Equal(from[:2], to[:2]) ||
		from[2] != from[3] || to[2] != to[3] {
		return false
	}
	return from[2]*toInput == to[2]*fromInput
}

// resampleKernel fills dst, convolution weights of shape [out, in, k', k'],
// from src, of shape [out, in, k, k], resampled bilinearly (each of dst's
// taps reads src where its centre falls) and scaled by (k/k')^2. On an
// image resampled by k'/k, the convolution then gives what src gave on
// the original: each tap of src now covers (k'/k)^2 taps of dst.
func resampleKernel(dst, src []float32, k, kd int) {
	scale := float32(k*k) / float32(kd*kd)
	// For each of dst's rows (and columns, alike): the two rows of src it
	// reads and the weight of the second.
	lo, hi, frac := make([]int, kd), make([]int, kd), make([]float32, kd)
	for i := range kd {
		c := (float64(i)+0.5)*float64(k)/float64(kd) - 0.5
		c = min(max(c, 0), float64(k-1))
		lo[i] = int(c)
		hi[i] = min(lo[i]+1, k-1)
		frac[i] = float32(c - float64(lo[i]))
	}
	for f := range len(src) / (k * k) {
		s, d := src[f*k*k:(f+1)*k*k], dst[f*kd*kd:(f+1)*kd*kd]
		for y := range kd {
			for x := range kd {
				top := s[lo[y]*k+lo[x]]*(1-frac[x]) + s[lo[y]*k+hi[x]]*frac[x]
				bottom := s[hi[y]*k+lo[x]]*(1-frac[x]) + s[hi[y]*k+hi[x]]*frac[x]
				d[y*kd+x] = scale * (top*(1-frac[y]) + bottom*frac[y])
			}
		}
	}
}
