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

// thumbnailFade is the root mean square, over a thumbnail's values once
// centred, at and above which the thumbnail has its full share (two 8-bit
// grey levels of the box means, or of their sums when folded). Below it
// the share fades to none at a flat picture, which has no layout to
// compare: a nearly flat image and a recompressed copy of it, one on each
// side of a cut-off, would otherwise be far apart for a level of noise.
const thumbnailFade = 2.0 / 255

// thumbnail writes into dst (t.Dim() values) the luma of img, a
// normalised (3, size, size) image, box-averaged to t.Side x t.Side,
// folded if t says so, centred and scaled to unit length. It returns the
// share of t.Weight the thumbnail takes, in [0, 1]: 1 but for a nearly
// flat thumbnail (thumbnailFade), 0, dst all zero, for a flat one.
func thumbnail(img []float32, size int, t Thumbnail, norm Normalization, dst []float32) float64 {
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
		d := (float64(v) - mean) / float64(k*k)
		dst[i] = float32(d)
		sq += d * d
	}
	rms := math.Sqrt(sq / float64(len(dst)))
	if rms == 0 {
		clear(dst)
		return 0
	}
	inv := float32(1 / math.Sqrt(sq))
	for i := range dst {
		dst[i] *= inv
	}
	return min(1, rms/thumbnailFade)
}

// appendThumbnails returns Forward's rows for count images: each image's
// learned embedding (learned: unit rows of the architecture's Dim), then
// its thumbnail. With the thumbnail's share f of Weight w (thumbnail), the
// learned embedding is scaled by sqrt(1-w*f^2) and the thumbnail by
// sqrt(w)*f, so each row keeps unit length and the squared distance
// between two images of full shares is (1-w) times their learned
// distance plus w times their thumbnails'.
func (n *Net) appendThumbnails(x []float32, count int, learned []float32) []float32 {
	ldim, size := n.arch.Dim(), n.arch.Input.H
	dim, in := n.Dim(), n.arch.Input.Size()
	w := n.thumb.Weight
	out := make([]float32, count*dim)
	for i := range count {
		row, emb := out[i*dim:(i+1)*dim], learned[i*ldim:(i+1)*ldim]
		t := row[ldim:]
		f := thumbnail(x[i*in:(i+1)*in], size, *n.thumb, n.norm, t)
		a, b := float32(math.Sqrt(1-w*f*f)), float32(math.Sqrt(w)*f)
		for j, v := range emb {
			row[j] = a * v
		}
		for j := range t {
			t[j] *= b
		}
	}
	return out
}
