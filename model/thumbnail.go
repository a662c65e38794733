package model

import "math"

// channelAt is channel c, in [0, 1], of pixel i of a normalised image of
// planes of plane values, un-normalised.
func channelAt(src []float32, plane, c, i int, norm Normalization) float32 {
	return src[c*plane+i]*norm.Std[c] + norm.Mean[c]
}

// lumaAt is the ITU-R BT.601 luma, in [0, 1], of pixel i of a normalised
// image of planes of plane values, taken on the pixel un-normalised.
func lumaAt(src []float32, plane, i int, norm Normalization) float32 {
	var luma float32
	for c, w := range [3]float32{0.299, 0.587, 0.114} {
		luma += w * channelAt(src, plane, c, i, norm)
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
// folded if t says so and centred, then its colour-difference planes if
// t has them (Thumbnail.ChromaSide), all scaled to unit length. It
// returns the share of t.Weight the thumbnail takes, in [0, 1]: 1 but for
// a nearly flat thumbnail (thumbnailFade), 0, dst all zero, for a flat
// grey one (a flat tint keeps its colour values).
func thumbnail(img []float32, size int, t Thumbnail, norm Normalization, dst []float32) float64 {
	clear(dst)
	plane := size * size
	luma := dst[:t.lumaDim()]
	boxSums(size, t.Side, t.Fold, func(i int) float32 { return lumaAt(img, plane, i, norm) }, luma)
	var mean float64
	for _, v := range luma {
		mean += float64(v)
	}
	mean /= float64(len(luma))
	k := size / t.Side
	var sq float64
	for i, v := range luma {
		d := (float64(v) - mean) / float64(k*k)
		luma[i] = float32(d)
		sq += d * d
	}
	if c := t.ChromaSide; c != 0 {
		n := planeDim(c, t.Fold)
		cb, cr := dst[len(luma):len(luma)+n], dst[len(luma)+n:]
		// BT.601's colour differences, each in [-0.5, 0.5].
		boxSums(size, c, t.Fold, func(i int) float32 {
			return 0.564 * (channelAt(img, plane, 2, i, norm) - lumaAt(img, plane, i, norm))
		}, cb)
		boxSums(size, c, t.Fold, func(i int) float32 {
			return 0.713 * (channelAt(img, plane, 0, i, norm) - lumaAt(img, plane, i, norm))
		}, cr)
		// A box's mean, weighted as the area it covers against a luma
		// box's, so colour and luma count alike per pixel.
		kc := size / c
		scale := float64(t.Side) / float64(c) / float64(kc*kc)
		for _, p := range [][]float32{cb, cr} {
			for i, v := range p {
				d := float64(v) * scale
				p[i] = float32(d)
				sq += d * d
			}
		}
	}
	// The whole thumbnail's sum of squares over the number of luma
	// values: a grey picture fades as it did without colour, and a flat
	// tint of more than thumbnailFade keeps its share.
	rms := math.Sqrt(sq / float64(len(luma)))
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

// boxSums adds into dst, side x side values (side/2 a row when folded),
// the value of each pixel of a size x size image over the box of
// size/side pixels a side that holds it, a folded box also over its
// mirror image's.
func boxSums(size, side int, fold bool, value func(i int) float32, dst []float32) {
	k, cols := size/side, side
	if fold {
		cols = side / 2
	}
	for y := range size {
		row := dst[(y/k)*cols : (y/k+1)*cols]
		for x := range size {
			c := x / k
			if c >= cols { // folded: the mirror image's column
				c = side - 1 - c
			}
			row[c] += value(y*size + x)
		}
	}
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
