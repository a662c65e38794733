package rerank

import (
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/deeprank/deeprank/imageio"
)

// scene draws a w x h picture of soft coloured blobs from seed: detail at
// several scales, as photos and drawings have, and no two seeds alike.
func scene(seed uint64, w, h int) *image.RGBA {
	rng := rand.New(rand.NewPCG(seed, 7))
	type blob struct{ x, y, r, cr, cg, cb float64 }
	blobs := make([]blob, 60)
	for i := range blobs {
		blobs[i] = blob{rng.Float64() * float64(w), rng.Float64() * float64(h), (0.03 + 0.12*rng.Float64()) * float64(w),
			rng.Float64()*2 - 1, rng.Float64()*2 - 1, rng.Float64()*2 - 1}
	}
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			r, g, b := 128.0, 128.0, 128.0
			for _, bl := range blobs {
				dx, dy := float64(x)-bl.x, float64(y)-bl.y
				k := 90 * math.Exp(-(dx*dx+dy*dy)/(2*bl.r*bl.r))
				r, g, b = r+k*bl.cr, g+k*bl.cg, b+k*bl.cb
			}
			img.SetRGBA(x, y, color.RGBA{clamp(r), clamp(g), clamp(b), 255})
		}
	}
	return img
}

func clamp(v float64) uint8 { return uint8(min(max(v, 0), 255)) }

// picture is the Picture of img as a search takes it: squared to 128.
func picture(img image.Image) *Picture {
	return NewPicture(imageio.Square(img, 128), img.Bounds().Size())
}

// crop returns the part of img of the given shares of each side, its
// top-left corner at the given shares of what is left over.
func crop(img *image.RGBA, side, atX, atY float64) image.Image {
	b := img.Rect
	w, h := int(side*float64(b.Dx())), int(side*float64(b.Dy()))
	x, y := int(atX*float64(b.Dx()-w)), int(atY*float64(b.Dy()-h))
	return img.SubImage(image.Rect(x, y, x+w, y+h))
}

func TestMatch(t *testing.T) {
	src := scene(1, 240, 180)
	rotated := imageio.Rotate(src, 10, 1)
	grey := image.NewRGBA(src.Rect)
	copy(grey.Pix, src.Pix)
	imageio.Grey(grey)
	brighter := image.NewRGBA(src.Rect)
	for i, v := range src.Pix {
		brighter.Pix[i] = v
		if i%4 != 3 {
			brighter.Pix[i] = clamp(1.3*float64(v) - 10)
		}
	}
	mirrored := image.NewRGBA(src.Rect)
	for y := range 180 {
		for x := range 240 {
			mirrored.SetRGBA(239-x, y, src.RGBAAt(x, y))
		}
	}
	thumb := picture(src).Thumb()
	tests := []struct {
		name     string
		query    image.Image
		atLeast  float64
		lessThan float64
	}{
		{"the image itself", src, 0.999, 2},
		{"a crop of 70% at the top left", crop(src, 0.7, 0, 0), 0.99, 2},
		{"a crop of 70% at the bottom right", crop(src, 0.7, 1, 1), 0.99, 2},
		{"a crop of 60% in the middle", crop(src, 0.6, 0.5, 0.5), 0.99, 2},
		{"its mirror image", mirrored, 0.99, 2},
		{"its grey copy", grey, 0.98, 2},
		{"brighter, with more contrast", brighter, 0.95, 2},
		{"turned by 10 degrees", rotated, 0.98, 2},
		{"another picture", scene(2, 240, 180), -1, 0.85},
		{"a crop of another picture", crop(scene(3, 240, 180), 0.7, 0.5, 0.5), -1, 0.85},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := picture(tc.query).NewQuery().Match(thumb)
			if got < tc.atLeast || got >= tc.lessThan || got > 1+1e-6 {
				t.Errorf("match %.4f, want in [%v, %v)", got, tc.atLeast, tc.lessThan)
			}
		})
	}
}

func TestMatchFlat(t *testing.T) {
	flat := image.NewRGBA(image.Rect(0, 0, 64, 64))
	for i := range flat.Pix {
		flat.Pix[i] = 200
	}
	busy := picture(scene(4, 64, 64))
	if got := picture(flat).NewQuery().Match(busy.Thumb()); got != -1 {
		t.Errorf("a flat query matches %v, want -1", got)
	}
	if got := busy.NewQuery().Match(picture(flat).Thumb()); got != -1 {
		t.Errorf("a flat hit matches %v, want -1", got)
	}
}

func TestNewPictureSizes(t *testing.T) {
	src := scene(5, 300, 200)
	want := picture(src)
	for _, side := range []int{64, 96, 128, 256} {
		p := NewPicture(imageio.Square(src, side), src.Bounds().Size())
		if p.square.Rect.Size() != image.Pt(pictureSide, pictureSide) || p.aspect != 1.5 {
			t.Fatalf("side %d: a square of %v, aspect %v", side, p.square.Rect.Size(), p.aspect)
		}
		if got := p.NewQuery().Match(want.Thumb()); got < 0.99 {
			t.Errorf("side %d: matches the 128-pixel picture at %.4f, want >= 0.99", side, got)
		}
	}
}

func TestNewPictureCopies(t *testing.T) {
	square := imageio.Square(scene(6, 200, 150), pictureSide)
	p := NewPicture(square, image.Pt(200, 150))
	want := p.NewQuery().Match(p.Thumb())
	clear(square.Pix) // the caller reuses its square
	if got := p.NewQuery().Match(p.Thumb()); got != want || got < 0.999 {
		t.Errorf("after the square was cleared: match %.4f, want %.4f", got, want)
	}
}

func TestOrder(t *testing.T) {
	tests := []struct {
		name    string
		o       Options
		dist    []float64
		matches []float64
		want    []int
	}{
		{"off", Options{}, []float64{0.1, 0.2, 0.3}, []float64{0, 1, 1}, []int{0, 1, 2}},
		{"no weight", Options{Top: 3, Floor: 0.5}, []float64{0.1, 0.2, 0.3}, []float64{0, 1, 1}, []int{0, 1, 2}},
		{"a line-up moves a hit up", Options{Top: 3, Weight: 2, Floor: 0.85}, []float64{0.1, 0.2, 0.3}, []float64{0.5, 0.6, 1}, []int{2, 0, 1}},
		{"not above the floor: nothing", Options{Top: 3, Weight: 2, Floor: 0.85}, []float64{0.1, 0.2, 0.3}, []float64{0.1, 0.85, 0.8}, []int{0, 1, 2}},
		{"too little to overtake", Options{Top: 3, Weight: 2, Floor: 0.85}, []float64{0.1, 0.5, 0.3}, []float64{0.5, 0.95, 0.5}, []int{0, 2, 1}},
		{"only the top", Options{Top: 2, Weight: 2, Floor: 0.85}, []float64{0.1, 0.2, 0.3}, []float64{0.5, 0.5, 1}, []int{0, 1, 2}},
		{"ties keep their order", Options{Top: 3, Weight: 1, Floor: 0}, []float64{0.5, 0.5, 0.6}, []float64{0.1, 0.1, 0.05}, []int{0, 1, 2}},
		{"fewer hits than top", Options{Top: 5, Weight: 2, Floor: 0.85}, []float64{0.1, 0.2}, []float64{0, 1}, []int{1, 0}},
		{"no hits", Options{Top: 5, Weight: 2, Floor: 0.85}, nil, nil, []int{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			got := tc.o.Order(tc.dist, func(i int) float64 { calls++; return tc.matches[i] })
			if !slices.Equal(got, tc.want) {
				t.Errorf("order %v, want %v", got, tc.want)
			}
			if want := min(tc.o.Top, len(tc.dist)); tc.o.On() && calls != want {
				t.Errorf("match called %d times, want %d", calls, want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		o    Options
		want string
	}{
		{Default(), ""},
		{Options{}, ""},
		{Options{Top: -1}, "top -1 is negative; 0 turns re-ranking off"},
		{Options{Top: 5, Weight: -1}, "weight -1 must be a number of 0 or more"},
		{Options{Top: 5, Weight: math.Inf(1)}, "weight +Inf must be a number of 0 or more"},
		{Options{Top: 5, Weight: 1, Floor: 1}, "floor 1 must be in [-1, 1)"},
		{Options{Top: 5, Weight: 1, Floor: math.NaN()}, "floor NaN must be in [-1, 1)"},
	}
	for _, tc := range tests {
		err := tc.o.Validate()
		if got := ""; err != nil {
			got = err.Error()
			if got != tc.want {
				t.Errorf("%+v: %q, want %q", tc.o, got, tc.want)
			}
		} else if tc.want != "" {
			t.Errorf("%+v: no error, want %q", tc.o, tc.want)
		}
	}
}

func BenchmarkMatch(b *testing.B) {
	q := picture(crop(scene(1, 240, 180), 0.7, 0.3, 0.6)).NewQuery()
	thumb := picture(scene(1, 240, 180)).Thumb()
	b.ResetTimer()
	for b.Loop() {
		q.Match(thumb)
	}
}

func BenchmarkNewQuery(b *testing.B) {
	p := picture(scene(1, 240, 180))
	for b.Loop() {
		p.NewQuery()
	}
}
