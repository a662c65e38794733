package model

import (
	"image"
	"sync"

	"github.com/deeprank/deeprank/imageio/contentbox"
)

// view is one of a Net's inference views (Spec.CenterViews,
// Spec.GreyView and Spec.TrimView): a transform of each input image, whose
// embedding is added, times weight, to the image's own before the sum is
// normalised.
type view struct {
	weight float32
	// apply writes the view of src to dst and reports whether it is one:
	// false for a view that would be the image itself (the trimmed view of
	// an image with no plain border), whose embedding then adds nothing,
	// so that the image embeds as without the view.
	apply func(src, dst []float32, size int) bool
}

// Views are a model's inference views (Spec.CenterViews, Spec.GreyView,
// Spec.TrimView) for its input size: the images Net.Forward embeds beside
// each input and sums with it. A trainer that embeds as Forward does
// builds its batches, and the weights of their embeddings in the sum, with
// Expand.
type Views struct {
	views []view
	size  int // the input side, in pixels
}

// NewViews returns m's inference views; none when its spec has none.
func NewViews(m *Model) Views {
	size := m.Spec.InputSize
	var vs []view
	for _, f := range m.Spec.CenterViews {
		centre := newCenterView(size, f)
		vs = append(vs, view{weight: 1, apply: func(src, dst []float32, size int) bool {
			centre.resample(src, dst, size)
			return true
		}})
	}
	if m.Spec.GreyView > 0 {
		vs = append(vs, view{weight: float32(m.Spec.GreyView), apply: greyView(m.Normalization)})
	}
	if m.Spec.TrimView > 0 {
		vs = append(vs, view{weight: float32(m.Spec.TrimView), apply: newTrimView(size, m.Normalization)})
	}
	return Views{views: vs, size: size}
}

// Len is the number of views.
func (v Views) Len() int { return len(v.views) }

// Expand writes into dst, (1+Len())*count normalised images, the count
// images of x, then each view of all of them in turn, block after block;
// and into weights, Len()*count values, the weight of each view's
// embedding of each image in the sum, view after view (0 for a view that
// is the image itself). The embeddings of dst, the first count with
// weight 1 and each view's times its weight, sum to what Net.Forward
// gives for x.
func (v Views) Expand(dst, weights, x []float32, count int) {
	in := 3 * v.size * v.size
	copy(dst, x[:count*in])
	for vi, vw := range v.views {
		block := dst[(1+vi)*count*in:]
		for i := range count {
			weights[vi*count+i] = 0
			if vw.apply(x[i*in:(i+1)*in], block[i*in:(i+1)*in], v.size) {
				weights[vi*count+i] = vw.weight
			}
		}
	}
}

// greyView returns the transform of a normalised image to the same image
// in grey: each pixel's ITU-R BT.601 luma in all three channels, as
// imageio.Grey makes it of 8-bit pixels (without the rounding), taken on
// the pixels un-normalised and normalised again.
func greyView(norm Normalization) func(src, dst []float32, size int) bool {
	return func(src, dst []float32, size int) bool {
		plane := size * size
		for i := range plane {
			luma := lumaAt(src, plane, i, norm)
			for c := range 3 {
				dst[c*plane+i] = (luma - norm.Mean[c]) / norm.Std[c]
			}
		}
		// An image already grey is its own view, and counts: a greyscale
		// copy then embeds as the grey view of its original does.
		return true
	}
}

// sampler resamples a box of an image to the whole input size
// (bilinear), one plan per axis.
type sampler struct{ x, y axisPlan }

// axisPlan resamples one axis: output pixel o lies between the input's
// pixels lo[o] and hi[o], with weight w[o] on the second.
type axisPlan struct {
	lo, hi []int
	w      []float32
}

func newAxisPlan(size int) axisPlan {
	return axisPlan{lo: make([]int, size), hi: make([]int, size), w: make([]float32, size)}
}

// span plans the input's pixels [origin, origin+side), of size in all,
// onto all len(p.lo) output pixels.
func (p axisPlan) span(size int, origin, side float64) {
	out := float64(len(p.lo))
	for o := range p.lo {
		// Pixel centres: output pixel o covers the input's
		// [origin + o*side/out, origin + (o+1)*side/out).
		at := origin + (float64(o)+0.5)*side/out - 0.5
		at = min(max(at, 0), float64(size-1))
		lo := int(at)
		p.lo[o], p.hi[o], p.w[o] = lo, min(lo+1, size-1), float32(at-float64(lo))
	}
}

// newCenterView plans the view of the centre fraction of a size x size
// image: the same span on both axes.
func newCenterView(size int, fraction float64) sampler {
	p := newAxisPlan(size)
	side := fraction * float64(size)
	p.span(size, (float64(size)-side)/2, side)
	return sampler{x: p, y: p}
}

// resample writes the view of src, a normalised (3, size, size) image, to
// dst of the same shape.
func (v sampler) resample(src, dst []float32, size int) {
	plane := size * size
	for c := range 3 {
		in, out := src[c*plane:(c+1)*plane], dst[c*plane:(c+1)*plane]
		for y := range size {
			r0, r1, wy := in[v.y.lo[y]*size:], in[v.y.hi[y]*size:], v.y.w[y]
			row := out[y*size : (y+1)*size]
			for x := range row {
				lo, hi, wx := v.x.lo[x], v.x.hi[x], v.x.w[x]
				a := r0[lo] + wx*(r0[hi]-r0[lo])
				b := r1[lo] + wx*(r1[hi]-r1[lo])
				row[x] = a + wy*(b-a)
			}
		}
	}
}

// trimScratch is what one trim view of a size x size image works in.
type trimScratch struct {
	img *image.RGBA
	at  sampler
}

// newTrimView returns the transform of a normalised size x size image to
// its content: the box contentbox.Find finds on the image in 8-bit
// pixels (un-normalised and rounded, as it was decoded), resampled to the
// whole input. An image with no plain border (a photo, mostly) has no
// view: it reports false, and embeds as without the view, where counting
// the image a second time would weigh it against its centre views. Its
// scratch is pooled: Forward may run on many goroutines, and allocates
// nothing per image in steady state.
func newTrimView(size int, norm Normalization) func(src, dst []float32, size int) bool {
	pool := sync.Pool{New: func() any {
		// Alpha stays 0: contentbox.Find takes every image as opaque.
		return &trimScratch{img: image.NewRGBA(image.Rect(0, 0, size, size)), at: sampler{x: newAxisPlan(size), y: newAxisPlan(size)}}
	}}
	return func(src, dst []float32, size int) bool {
		s := pool.Get().(*trimScratch)
		defer pool.Put(s)
		plane := size * size
		for c := range 3 {
			for i, v := range src[c*plane : (c+1)*plane] {
				level := (v*norm.Std[c] + norm.Mean[c]) * 255
				switch {
				case level < 0:
					level = 0
				case level > 255:
					level = 255
				}
				// Rounded half up, as math.Round does at these levels.
				s.img.Pix[4*i+c] = uint8(float64(level) + 0.5)
			}
		}
		box := contentbox.Find(s.img)
		if box == s.img.Rect {
			return false
		}
		s.at.x.span(size, float64(box.Min.X), float64(box.Dx()))
		s.at.y.span(size, float64(box.Min.Y), float64(box.Dy()))
		s.at.resample(src, dst, size)
		return true
	}
}
