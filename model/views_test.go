package model

import (
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestCenterViewResample checks the bilinear resampling of centre views on
// images it must reproduce exactly: a constant stays constant, and a ramp
// along x (or y) becomes the ramp at the view's pixel centres, origin +
// (o+0.5)*fraction - 0.5 in the image's pixels.
func TestCenterViewResample(t *testing.T) {
	for _, tc := range []struct {
		size     int
		fraction float64
	}{{8, 0.5}, {8, 0.85}, {16, 0.25}, {64, 0.8}, {5, 0.9}} {
		n := tc.size
		v := newCenterView(n, tc.fraction)
		origin := float64(n) * (1 - tc.fraction) / 2
		want := func(o int) float64 { return origin + (float64(o)+0.5)*tc.fraction - 0.5 }
		src, dst := make([]float32, 3*n*n), make([]float32, 3*n*n)
		for c := range 3 {
			for y := range n {
				for x := range n {
					// Channel 0 a constant, 1 a ramp along x, 2 along y.
					src[c*n*n+y*n+x] = [3]float32{0.25, float32(x), float32(y)}[c]
				}
			}
		}
		v.resample(src, dst, n)
		for y := range n {
			for x := range n {
				for c, w := range [3]float64{0.25, want(x), want(y)} {
					if got := dst[c*n*n+y*n+x]; math.Abs(float64(got)-w) > 1e-5 {
						t.Fatalf("size %d, fraction %g: channel %d at (%d, %d) = %g, want %g", n, tc.fraction, c, x, y, got, w)
					}
				}
			}
		}
	}
}

// TestGreyView checks the grey view on pixels of known luma, under a
// normalisation that is not the identity: every channel of the view must
// hold the luma of the pixel, normalised for that channel.
func TestGreyView(t *testing.T) {
	norm := Normalization{Mean: [3]float32{0.5, 0.4, 0.3}, Std: [3]float32{0.2, 0.25, 0.5}}
	pixels := [][3]float32{{0, 0, 0}, {1, 1, 1}, {1, 0, 0}, {0, 1, 0}, {0, 0, 1}, {0.2, 0.6, 0.9}}
	lumas := []float32{0, 1, 0.299, 0.587, 0.114, 0.299*0.2 + 0.587*0.6 + 0.114*0.9}
	const size = 3 // nine pixels: the six above, then black
	src, dst := make([]float32, 3*size*size), make([]float32, 3*size*size)
	for c := range 3 {
		for i := range size * size {
			var p float32
			if i < len(pixels) {
				p = pixels[i][c]
			}
			src[c*size*size+i] = (p - norm.Mean[c]) / norm.Std[c]
		}
	}
	greyView(norm)(src, dst, size)
	for i := range size * size {
		var luma float32
		if i < len(lumas) {
			luma = lumas[i]
		}
		for c := range 3 {
			if got, want := dst[c*size*size+i], (luma-norm.Mean[c])/norm.Std[c]; math.Abs(float64(got-want)) > 1e-5 {
				t.Errorf("pixel %d, channel %d: %g, want %g (luma %g)", i, c, got, want, luma)
			}
		}
	}
}

// TestTrimView checks the trimmed view under a normalisation that is not
// the identity: an image with a plain border becomes its content box
// (known by construction) resampled to the input, as a sampler of that box
// makes it; an image with no plain border has no view.
func TestTrimView(t *testing.T) {
	norm := Normalization{Mean: [3]float32{0.5, 0.4, 0.3}, Std: [3]float32{0.2, 0.25, 0.5}}
	const size = 32
	for _, tc := range []struct {
		name       string
		background color.RGBA
		box        image.Rectangle // the content; empty: none, noise everywhere
	}{
		{"white border", color.RGBA{255, 255, 255, 255}, image.Rect(6, 9, 26, 21)},
		{"coloured border", color.RGBA{30, 140, 200, 255}, image.Rect(0, 4, 17, 32)},
		{"content at the edges", color.RGBA{255, 255, 255, 255}, image.Rect(0, 0, size, size)},
		{"no border", color.RGBA{}, image.Rectangle{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(7, 8))
			img := image.NewRGBA(image.Rect(0, 0, size, size))
			for y := range size {
				for x := range size {
					p := tc.background
					if tc.box.Empty() || (image.Point{x, y}).In(tc.box) {
						// Content: dark enough in luma to stand out from
						// either background, and varied.
						p = color.RGBA{uint8(rng.IntN(60)), uint8(rng.IntN(60)), uint8(rng.IntN(256)), 255}
					}
					img.SetRGBA(x, y, p)
				}
			}
			src, got, want := make([]float32, 3*size*size), make([]float32, 3*size*size), make([]float32, 3*size*size)
			ToTensor(img, norm, src)
			trimmed := newTrimView(size, norm)(src, got, size)
			box := tc.box
			if box.Empty() {
				box = img.Bounds()
			}
			if whole := box == img.Bounds(); trimmed == whole {
				t.Fatalf("trimmed %t for the content box %v of %v, want %t", trimmed, box, img.Bounds(), !whole)
			}
			if !trimmed {
				return
			}
			at := sampler{x: newAxisPlan(size), y: newAxisPlan(size)}
			at.x.span(size, float64(box.Min.X), float64(box.Dx()))
			at.y.span(size, float64(box.Min.Y), float64(box.Dy()))
			at.resample(src, want, size)
			for i := range want {
				if math.Abs(float64(got[i]-want[i])) > 1e-5 {
					t.Fatalf("value %d: %g, want %g (the content box %v resampled)", i, got[i], want[i], box)
				}
			}
		})
	}
}

// TestForwardViews checks that a Net with views (two centre views, a grey
// view at half weight and a trimmed view at 1.5) embeds each image of a
// batch as the normalised sum of its own embedding and its views', each
// times its weight, as the same Net without views gives them: the
// trimmed view for the image framed by a plain border only. And that in
// steady state it still allocates only the result.
func TestForwardViews(t *testing.T) {
	m, err := New(tinySpec(), Normalization{Mean: [3]float32{0.5, 0.4, 0.3}, Std: [3]float32{0.2, 0.25, 0.5}})
	if err != nil {
		t.Fatal(err)
	}
	m.Initialize(3)
	plain, err := NewNet(m, &NetOptions{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	fractions := []float64{0.5, 0.8}
	m.Spec.CenterViews, m.Spec.GreyView, m.Spec.TrimView = fractions, 0.5, 1.5
	viewed, err := NewNet(m, &NetOptions{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	const batch = 3
	size, in, dim := m.Spec.InputSize, plain.InputShape().Size(), plain.Dim()
	x := randomValues(rand.New(rand.NewPCG(5, 6)), batch*in)
	// The second image framed in white: its trimmed view is its inside.
	plane := size * size
	for c := range 3 {
		for p := range plane {
			if px, py := p%size, p/size; px < 3 || py < 3 || px >= size-3 || py >= size-3 {
				x[in+c*plane+p] = (1 - m.Normalization.Mean[c]) / m.Normalization.Std[c]
			}
		}
	}
	want := plain.Forward(x, batch)
	for _, f := range fractions {
		view := make([]float32, len(x))
		for i := range batch {
			newCenterView(size, f).resample(x[i*in:(i+1)*in], view[i*in:(i+1)*in], size)
		}
		for i, e := range plain.Forward(view, batch) {
			want[i] += e
		}
	}
	grey := make([]float32, len(x))
	for i := range batch {
		greyView(m.Normalization)(x[i*in:(i+1)*in], grey[i*in:(i+1)*in], size)
	}
	for i, e := range plain.Forward(grey, batch) {
		want[i] += 0.5 * e
	}
	trimmed := make([]float32, len(x))
	var framed []bool
	for i := range batch {
		framed = append(framed, newTrimView(size, m.Normalization)(x[i*in:(i+1)*in], trimmed[i*in:(i+1)*in], size))
	}
	if !slices.Equal(framed, []bool{false, true, false}) {
		t.Fatalf("trimmed views %v, want the framed image's only", framed)
	}
	for i, e := range plain.Forward(trimmed, batch) {
		if framed[i/dim] {
			want[i] += 1.5 * e
		}
	}
	l2Normalize(want, dim)
	got := viewed.Forward(x, batch)
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > 1e-5 {
			t.Fatalf("image %d, value %d: %g, want %g", i/dim, i%dim, got[i], want[i])
		}
	}
	if raceEnabled {
		return // the race detector makes sync.Pool drop buffers at random
	}
	one, err := NewNet(m, &NetOptions{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	one.Forward(x, batch) // the first batch sizes the buffers
	if allocs := testing.AllocsPerRun(5, func() { one.Forward(x, batch) }); allocs > 1 {
		t.Errorf("%.1f allocations a batch on one worker, want 1 (the result)", allocs)
	}
}
