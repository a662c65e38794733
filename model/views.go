package model

// view is one of a Net's inference views (Spec.CenterViews and
// Spec.GreyView): a transform of each input image, whose embedding is
// added, times weight, to the image's own before the sum is normalised.
type view struct {
	weight float32
	apply  func(src, dst []float32, size int)
}

// views returns the inference views of spec, in order, for normalised
// inputs of size pixels a side.
func views(spec Spec, size int, norm Normalization) []view {
	var vs []view
	for _, f := range spec.CenterViews {
		vs = append(vs, view{weight: 1, apply: newCenterView(size, f).resample})
	}
	if spec.GreyView > 0 {
		vs = append(vs, view{weight: float32(spec.GreyView), apply: greyView(norm)})
	}
	return vs
}

// greyView returns the transform of a normalised image to the same image
// in grey: each pixel's ITU-R BT.601 luma in all three channels, as
// imageio.Grey makes it of 8-bit pixels (without the rounding), taken on
// the pixels un-normalised and normalised again.
func greyView(norm Normalization) func(src, dst []float32, size int) {
	return func(src, dst []float32, size int) {
		plane := size * size
		for i := range plane {
			var luma float32
			for c, w := range [3]float32{0.299, 0.587, 0.114} {
				luma += w * (src[c*plane+i]*norm.Std[c] + norm.Mean[c])
			}
			for c := range 3 {
				dst[c*plane+i] = (luma - norm.Mean[c]) / norm.Std[c]
			}
		}
	}
}

// centerView resamples the centre of an image, a fraction of each side,
// to the whole input size (bilinear): for each row (and, the view being
// square and centred, each column) of the view, the two rows of the
// image it lies between and the weight of the second.
type centerView struct {
	lo, hi []int
	w      []float32
}

// newCenterView plans the view of the centre fraction of a size x size
// image.
func newCenterView(size int, fraction float64) centerView {
	v := centerView{lo: make([]int, size), hi: make([]int, size), w: make([]float32, size)}
	side := fraction * float64(size)
	origin := (float64(size) - side) / 2
	for o := range size {
		// Pixel centres: view pixel o covers the image's
		// [origin + o*side/size, origin + (o+1)*side/size).
		at := origin + (float64(o)+0.5)*side/float64(size) - 0.5
		at = min(max(at, 0), float64(size-1))
		lo := int(at)
		v.lo[o], v.hi[o], v.w[o] = lo, min(lo+1, size-1), float32(at-float64(lo))
	}
	return v
}

// resample writes the view of src, a normalised (3, size, size) image, to
// dst of the same shape.
func (v centerView) resample(src, dst []float32, size int) {
	plane := size * size
	for c := range 3 {
		in, out := src[c*plane:(c+1)*plane], dst[c*plane:(c+1)*plane]
		for y := range size {
			r0, r1, wy := in[v.lo[y]*size:], in[v.hi[y]*size:], v.w[y]
			row := out[y*size : (y+1)*size]
			for x := range row {
				lo, hi, wx := v.lo[x], v.hi[x], v.w[x]
				a := r0[lo] + wx*(r0[hi]-r0[lo])
				b := r1[lo] + wx*(r1[hi]-r1[lo])
				row[x] = a + wy*(b-a)
			}
		}
	}
}
