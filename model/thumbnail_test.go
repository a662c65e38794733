package model

import (
	"cmp"
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"testing"
)

// referenceThumbnail is the thumbnail of an 8-bit image, computed apart
// from Net: mean luma over each box, each box added to its mirror image's
// if folded, centred; then, if chroma is not 0, the mean Cb and Cr over
// chroma x chroma boxes, likewise folded, weighted by the square root of
// their area against a luma box's; all of unit length. And its share of
// the weight, which fades from 1 at thumbnailFade (the root of the whole
// sum of squares over the number of luma values) to 0 at flat and grey.
func referenceThumbnail(img *image.RGBA, side, chroma int, fold bool) (t []float64, share float64) {
	size := img.Rect.Dx()
	planes := func(side int, value func(c color.RGBA) float64) []float64 {
		k := size / side
		boxes := make([]float64, side*side)
		for y := range size {
			for x := range size {
				boxes[(y/k)*side+x/k] += value(img.RGBAAt(x, y)) / 255 / float64(k*k)
			}
		}
		if !fold {
			return boxes
		}
		var folded []float64
		for y := range side {
			for x := range side / 2 {
				folded = append(folded, boxes[y*side+x]+boxes[y*side+side-1-x])
			}
		}
		return folded
	}
	luma := func(c color.RGBA) float64 { return 0.299*float64(c.R) + 0.587*float64(c.G) + 0.114*float64(c.B) }
	t = planes(side, luma)
	var mean, sq float64
	for _, v := range t {
		mean += v / float64(len(t))
	}
	for i := range t {
		t[i] -= mean
		sq += t[i] * t[i]
	}
	lumaDim := len(t)
	if chroma != 0 {
		cb := planes(chroma, func(c color.RGBA) float64 { return 0.564 * (float64(c.B) - luma(c)) })
		cr := planes(chroma, func(c color.RGBA) float64 { return 0.713 * (float64(c.R) - luma(c)) })
		for _, v := range append(cb, cr...) {
			v *= float64(side) / float64(chroma)
			t = append(t, v)
			sq += v * v
		}
	}
	if sq == 0 {
		return make([]float64, len(t)), 0
	}
	for i := range t {
		t[i] /= math.Sqrt(sq)
	}
	return t, min(1, math.Sqrt(sq/float64(lumaDim))/thumbnailFade)
}

func TestForwardThumbnail(t *testing.T) {
	norm := Normalization{Mean: [3]float32{0.5, 0.4, 0.3}, Std: [3]float32{0.2, 0.25, 0.5}}
	size := tinySpec().InputSize
	rng := rand.New(rand.NewPCG(7, 8))
	noise := image.NewRGBA(image.Rect(0, 0, size, size))
	for i := range noise.Pix {
		noise.Pix[i] = uint8(rng.IntN(256))
	}
	flat := image.NewRGBA(noise.Rect)
	gradient := image.NewRGBA(noise.Rect)
	for y := range size {
		for x := range size {
			flat.SetRGBA(x, y, color.RGBA{90, 140, 200, 255})
			gradient.SetRGBA(x, y, color.RGBA{uint8(12 * x), uint8(150 - 9*y), 60, 255})
		}
	}
	// The gradient with contrast x1.3 and brightness +20, no value
	// clipped: the same thumbnail.
	brighter := image.NewRGBA(noise.Rect)
	for i, v := range gradient.Pix {
		brighter.Pix[i] = uint8(math.Round(1.3*float64(v) + 20))
		if i%4 == 3 {
			brighter.Pix[i] = 255
		}
	}
	mirrored := image.NewRGBA(noise.Rect)
	for y := range size {
		for x := range size {
			mirrored.SetRGBA(size-1-x, y, gradient.RGBAAt(x, y))
		}
	}
	// Flat but for one pixel a grey level up: a thumbnail of a small
	// share, but for its colour.
	faint := image.NewRGBA(noise.Rect)
	copy(faint.Pix, flat.Pix)
	faint.SetRGBA(3, 5, color.RGBA{91, 141, 201, 255})
	// The gradient's grey copy: the same luma, no colour.
	grey := image.NewRGBA(noise.Rect)
	for y := range size {
		for x := range size {
			c := gradient.RGBAAt(x, y)
			l := uint8(math.Round(0.299*float64(c.R) + 0.587*float64(c.G) + 0.114*float64(c.B)))
			grey.SetRGBA(x, y, color.RGBA{l, l, l, 255})
		}
	}
	// Grey, flat but for one pixel a level up: a small share, colour or
	// not.
	greyFaint := image.NewRGBA(noise.Rect)
	for i := range greyFaint.Pix {
		greyFaint.Pix[i] = cmp.Or(uint8(i%4/3*255), 128)
	}
	greyFaint.SetRGBA(3, 5, color.RGBA{129, 129, 129, 255})
	images := []*image.RGBA{noise, flat, gradient, brighter, mirrored, faint, grey, greyFaint}
	in := 3 * size * size
	x := make([]float32, len(images)*in)
	for i, img := range images {
		ToTensor(img, norm, x[i*in:(i+1)*in])
	}
	for _, tc := range []struct {
		side, chroma int
		weight       float64
		fold         bool
	}{
		{2, 0, 0.5, false}, {4, 0, 0.15, false}, {8, 0, 0.2, false}, {16, 0, 0.9, false}, {2, 0, 0.5, true}, {8, 0, 0.1, true},
		{16, 8, 0.3, false}, {4, 16, 0.5, false}, {8, 4, 0.2, true}, {2, 2, 0.7, true},
	} {
		m, err := New(tinySpec(), norm)
		if err != nil {
			t.Fatal(err)
		}
		m.Initialize(3)
		plain, err := NewNet(m, &NetOptions{Workers: 2})
		if err != nil {
			t.Fatal(err)
		}
		m.Spec.Thumbnail = &Thumbnail{Side: tc.side, Weight: tc.weight, Fold: tc.fold, ChromaSide: tc.chroma}
		if err := m.Spec.Validate(); err != nil {
			t.Fatal(err)
		}
		net, err := NewNet(m, &NetOptions{Workers: 2})
		if err != nil {
			t.Fatal(err)
		}
		ldim, dim := plain.Dim(), net.Dim()
		tdim := tc.side*tc.side + 2*tc.chroma*tc.chroma
		if tc.fold {
			tdim /= 2
		}
		if dim != ldim+tdim {
			t.Fatalf("%+v: Dim %d, want %d", tc, dim, ldim+tdim)
		}
		learned, got := plain.Forward(x, len(images)), net.Forward(x, len(images))
		for i, img := range images {
			row := got[i*dim : (i+1)*dim]
			want, share := referenceThumbnail(img, tc.side, tc.chroma, tc.fold)
			wantShare := map[int]string{1: "none", 5: "part", 7: "part"}[i]
			if tc.chroma != 0 && (i == 1 || i == 5) { // coloured
				wantShare = ""
			}
			if wantShare == "none" && !(share < 1e-6) || wantShare == "part" && !(share > 0 && share < 1) || wantShare == "" && share != 1 {
				t.Fatalf("%+v, image %d: the reference's share %g, want %s", tc, i, share, cmp.Or(wantShare, "all"))
			}
			a, b := math.Sqrt(1-tc.weight*share*share), math.Sqrt(tc.weight)*share
			var norm2 float64
			for j, v := range row {
				norm2 += float64(v) * float64(v)
				w := b * want[max(j-ldim, 0)]
				if j < ldim {
					w = a * float64(learned[i*ldim+j])
				}
				if !(math.Abs(float64(v)-w) <= 2e-4) { // NaN fails too
					t.Fatalf("%+v, image %d, value %d: %g, want %g", tc, i, j, v, w)
				}
			}
			if !(math.Abs(norm2-1) <= 1e-4) {
				t.Errorf("%+v, image %d: squared length %g, want 1", tc, i, norm2)
			}
		}
		if d := thumbnailDistance(got, 2, 3, ldim, dim); !(d <= 1e-4) {
			t.Errorf("%+v: the gradient and its brighter, more contrasted copy have thumbnails %g apart, want about 0", tc, d)
		}
		if d := thumbnailDistance(got, 2, 4, ldim, dim); tc.fold != (d <= 1e-6) {
			t.Errorf("%+v: the gradient and its mirror image have thumbnails %g apart, want 0 only when folded", tc, d)
		}
		if d := thumbnailDistance(got, 2, 6, ldim, dim); (tc.chroma == 0) != (d <= 1e-4) {
			t.Errorf("%+v: the gradient and its grey copy have thumbnails %g apart, want about 0 only without colour", tc, d)
		}
	}
}

// thumbnailDistance is the squared distance between rows i and j's
// thumbnails.
func thumbnailDistance(rows []float32, i, j, ldim, dim int) float64 {
	var d float64
	for k := ldim; k < dim; k++ {
		e := float64(rows[i*dim+k] - rows[j*dim+k])
		d += e * e
	}
	return d
}
