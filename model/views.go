package model

// view is one of a Net's inference views (Spec.CenterViews and
// Spec.GreyView): a transform of each input image, whose embedding is
// added, times weight, to the image's own before the sum is normalised.
type view struct {
	weight float32
	apply  func(src, dst []float32, size int)
}

// Views are a model's inference views (Spec.CenterViews, Spec.GreyView)
// for its input size: the images Net.Forward embeds beside each input and
// sums with it. A trainer that embeds as Forward does builds its batches
// with Expand and sums their embeddings with Weights.
type Views struct {
	views []view
	size  int // the input side, in pixels
}

// NewViews returns m's inference views; none when its spec has none.
func NewViews(m *Model) Views {
	size := m.Spec.InputSize
	var vs []view
	for _, f := range m.Spec.CenterViews {
		vs = append(vs, view{weight: 1, apply: newCenterView(size, f).resample})
	}
	if m.Spec.GreyView > 0 {
		vs = append(vs, view{weight: float32(m.Spec.GreyView), apply: greyView(m.Normalization)})
	}
	return Views{views: vs, size: size}
}

// Len is the number of views.
func (v Views) Len() int { return len(v.views) }

// Weights returns the weight of each view's embedding in the sum, in
// order; the image's own embedding has weight 1.
func (v Views) Weights() []float32 {
	w := make([]float32, len(v.views))
	for i, vw := range v.views {
		w[i] = vw.weight
	}
	return w
}

// Expand writes into dst, (1+Len())*count normalised images, the count
// images of x, then each view of all of them in turn, block after block:
// the batch whose embeddings, each block times its weight, sum to what
// Net.Forward gives for x.
func (v Views) Expand(dst, x []float32, count int) {
	in := 3 * v.size * v.size
	copy(dst, x[:count*in])
	for vi, vw := range v.views {
		block := dst[(1+vi)*count*in:]
		for i := range count {
			vw.apply(x[i*in:(i+1)*in], block[i*in:(i+1)*in], v.size)
		}
	}
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
