package model

import "math"

// lumaAt is the ITU-R BT.601 luma, in [0, 1], of pixel i of a normalised
// image of planes of plane values, taken on the pixel un-normalised.
func lumaAt(src []float32, plane, i int, norm Normalization) float32 {
	var luma float32
	for c, w := range [3]float32{0.299, 0.587, 0.114} {
		luma += w * (src[c*plane+i]*norm.Std[c] + norm.Mean[c])
	}
	return luma
}

// flatThumbnail bounds the root mean square of a centred thumbnail below
// which it is taken as flat: a quarter of one 8-bit grey level. Rounding
// alone would otherwise be scaled up to a unit vector of noise.
const flatThumbnail = 0.25 / 255

// thumbnail writes into dst (t.Dim() values) the luma of img, a
// normalised (3, size, size) image, box-averaged to t.Side x t.Side,
// folded if t says so, centred and scaled to unit length. It reports
// false, dst all zero, for an image whose thumbnail is flat: it has no
// layout to compare.
func thumbnail(img []float32, size int, t Thumbnail, norm Normalization, dst []float32) bool {
	clear(dst)
	side, k, plane := t.Side, size/t.Side, size*size
	cols := side
	if t.Fold {
		cols = side / 2
	}
	for y := range size {
		row := dst[(y/k)*cols : (y/k+1)*cols]
		for x := range size {
			c := x / k
			if c >= cols { // folded: the mirror image's column
				c = side - 1 - c
			}
			row[c] += lumaAt(img, plane, y*size+x, norm)
		}
	}
	var mean float64
	for _, v := range dst {
		mean += float64(v)
	}
	mean /= float64(len(dst))
	var sq float64
	for i, v := range dst {
		d := float64(v)/float64(k*k) - mean/float64(k*k)
		dst[i] = float32(d)
		sq += d * d
	}
	if sq < float64(len(dst))*flatThumbnail*flatThumbnail {
		clear(dst)
		return false
	}
	inv := float32(1 / math.Sqrt(sq))
	for i := range dst {
		dst[i] *= inv
	}
	return true
}

// appendThumbnails returns Forward's rows for count images: each image's
// learned embedding (learned: unit rows of the architecture's Dim) times
// sqrt(1-Weight), then its thumbnail times sqrt(Weight), so each row
// keeps unit length. An image with a flat thumbnail has its learned
// embedding alone, at full length, and a zero thumbnail.
func (n *Net) appendThumbnails(x []float32, count int, learned []float32) []float32 {
	ldim, size := n.arch.Dim(), n.arch.Input.H
	dim, in := n.Dim(), n.arch.Input.Size()
	a, b := float32(math.Sqrt(1-n.thumb.Weight)), float32(math.Sqrt(n.thumb.Weight))
	out := make([]float32, count*dim)
	for i := range count {
		row, emb := out[i*dim:(i+1)*dim], learned[i*ldim:(i+1)*ldim]
		t := row[ldim:]
		if !thumbnail(x[i*in:(i+1)*in], size, *n.thumb, n.norm, t) {
			copy(row, emb)
			continue
		}
		for j, v := range emb {
			row[j] = a * v
		}
		for j := range t {
			t[j] *= b
		}
	}
	return out
}
