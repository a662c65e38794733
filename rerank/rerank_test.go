package rerank

import (
	"image"
	"image/color"
	"image/draw"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/deeprank/deeprank/imageio"
	xdraw "golang.org/x/image/draw"
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

// shapes draws a w x h picture of hard-edged rectangles from seed, as
// screenshots, icons and drawings have: corners at every scale, and no
// two seeds alike.
func shapes(seed uint64, w, h int) *image.RGBA {
	rng := rand.New(rand.NewPCG(seed, 3))
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Rect, image.NewUniform(color.RGBA{230, 230, 225, 255}), image.Point{}, draw.Src)
	for range 40 {
		x, y := rng.IntN(w), rng.IntN(h)
		rw, rh := 4+rng.IntN(w/4), 4+rng.IntN(h/4)
		c := color.RGBA{uint8(rng.IntN(256)), uint8(rng.IntN(256)), uint8(rng.IntN(256)), 255}
		draw.Draw(img, image.Rect(x, y, x+rw, y+rh), image.NewUniform(c), image.Point{}, draw.Src)
	}
	return img
}

// edited returns a copy of img with f applied to each colour channel.
func edited(img *image.RGBA, f func(v uint8) uint8) *image.RGBA {
	out := image.NewRGBA(img.Rect)
	for i, v := range img.Pix {
		out.Pix[i] = v
		if i%4 != 3 {
			out.Pix[i] = f(v)
		}
	}
	return out
}

// mirror returns img mirrored left to right.
func mirror(src *image.RGBA) *image.RGBA {
	b := src.Rect
	out := image.NewRGBA(b)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			out.SetRGBA(b.Max.X-1-(x-b.Min.X), y, src.RGBAAt(x, y))
		}
	}
	return out
}

// picture is the Picture of img as a search takes it: squared to 128.
func picture(img image.Image) *Picture {
	return NewPicture(imageio.Square(img, 128), img.Bounds().Size())
}

// crop returns the part of img of the given share of each side, its
// top-left corner at the given shares of what is left over.
func crop(img *image.RGBA, side, atX, atY float64) image.Image {
	return cropSides(img, side, side, atX, atY)
}

// cropSides is crop with a share of the width and another of the height.
func cropSides(img *image.RGBA, width, height, atX, atY float64) image.Image {
	b := img.Rect
	w, h := int(width*float64(b.Dx())), int(height*float64(b.Dy()))
	x, y := int(atX*float64(b.Dx()-w)), int(atY*float64(b.Dy()-h))
	return img.SubImage(image.Rect(x, y, x+w, y+h))
}

// TestMatch: a copy lines up with its source however it was edited, and
// another picture does not. Soft blobs (few corners) check the luma
// match; hard-edged shapes check the corners.
func TestMatch(t *testing.T) {
	type draw func(seed uint64) *image.RGBA
	blobs := func(seed uint64) *image.RGBA { return scene(seed, 240, 180) }
	hard := func(seed uint64) *image.RGBA { return shapes(seed, 320, 240) }
	edit := func(f func(src *image.RGBA) image.Image) func(draw) image.Image {
		return func(d draw) image.Image { return f(d(1)) }
	}
	tests := []struct {
		name  string
		query func(d draw) image.Image // of the picture d(1)
		// A copy lines up on blobs and keeps inliers on shapes at least
		// these; another picture stays below them.
		ncc     float64
		inliers int
		copy    bool
	}{
		{"the image itself", edit(func(s *image.RGBA) image.Image { return s }), 0.999, 100, true},
		{"a crop of 70% at the top left", edit(func(s *image.RGBA) image.Image { return crop(s, 0.7, 0, 0) }), 0.99, 20, true},
		{"a crop of 70% at the bottom right", edit(func(s *image.RGBA) image.Image { return crop(s, 0.7, 1, 1) }), 0.99, 20, true},
		{"a crop of 60% in the middle", edit(func(s *image.RGBA) image.Image { return crop(s, 0.6, 0.5, 0.5) }), 0.99, 12, true},
		{"its mirror image", edit(func(s *image.RGBA) image.Image { return mirror(s) }), 0.99, 100, true},
		{"a mirrored crop", edit(func(s *image.RGBA) image.Image { return mirror(crop(s, 0.7, 0.2, 0.8).(*image.RGBA)) }), 0.99, 20, true},
		{"its grey copy", edit(func(s *image.RGBA) image.Image {
			g := edited(s, func(v uint8) uint8 { return v })
			imageio.Grey(g)
			return g
		}), 0.98, 100, true},
		{"brighter, with more contrast", edit(func(s *image.RGBA) image.Image {
			return edited(s, func(v uint8) uint8 { return clamp(1.3*float64(v) - 10) })
		}), 0.95, 40, true},
		{"turned by 10 degrees", edit(func(s *image.RGBA) image.Image { return imageio.Rotate(s, 10, 0) }), 0.98, 50, true},
		// Corners are described turned to their own orientation, so a
		// turn the templates do not undo keeps them; a turn beyond 30
		// degrees is not a copy the transform is allowed to find. (Their
		// line-ups are not asserted: -1 and 2 are beyond any NCC.)
		{"turned by 25 degrees", edit(func(s *image.RGBA) image.Image { return imageio.Rotate(s, 25, 0) }), -1, 24, true},
		{"turned by 45 degrees", edit(func(s *image.RGBA) image.Image { return imageio.Rotate(s, 45, 0) }), 2, 8, false},
		{"another picture", func(d draw) image.Image { return d(2) }, 0.85, 8, false},
		{"a crop of another picture", func(d draw) image.Image { return crop(d(3), 0.7, 0.5, 0.5) }, 0.85, 8, false},
	}
	blobThumb, hardThumb := picture(blobs(1)).Thumb(), picture(hard(1)).Thumb()
	relation := map[bool]string{true: ">=", false: "<"}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ncc := picture(tc.query(blobs)).NewQuery().NCC(blobThumb)
			if ncc >= tc.ncc != tc.copy || ncc > 1 {
				t.Errorf("line-up %.4f, want %s %v", ncc, relation[tc.copy], tc.ncc)
			}
			if got := picture(tc.query(hard)).NewQuery().Inliers(hardThumb); got >= tc.inliers != tc.copy {
				t.Errorf("%d inliers, want %s %d", got, relation[tc.copy], tc.inliers)
			}
		})
	}
	// A mirror image is found through the query's mirrored corners, not
	// its own.
	if got := picture(mirror(hard(1))).features(false, false).inliers(hardThumb.corners()); got >= 8 {
		t.Errorf("the mirror image's own corners: %d inliers, want fewer than 8", got)
	}
}

// TestMatchShapes: a crop that changes the picture's shape lines up with
// its source through templates of its own shape, a copy stretched to
// another shape through the square ones, and neither made of another
// picture does.
func TestMatchShapes(t *testing.T) {
	blobs := func(seed uint64) *image.RGBA { return scene(seed, 240, 180) }
	hard := func(seed uint64) *image.RGBA { return shapes(seed, 320, 240) }
	cut := func(width, height float64) func(*image.RGBA) image.Image {
		return func(src *image.RGBA) image.Image { return cropSides(src, width, height, 0.3, 0.6) }
	}
	tests := []struct {
		name string
		edit func(src *image.RGBA) image.Image
	}{
		{"half the width, 90% of the height", cut(0.5, 0.9)},
		{"90% of the width, half the height", cut(0.9, 0.5)},
		{"60% of the width, the whole height", cut(0.6, 1)},
		{"a mirrored crop of half the width", func(src *image.RGBA) image.Image { return mirror(cut(0.5, 0.9)(src).(*image.RGBA)) }},
		{"stretched to half the width", func(src *image.RGBA) image.Image { return stretch(src, 0.5, 1) }},
		{"stretched to half the height", func(src *image.RGBA) image.Image { return stretch(src, 1, 0.5) }},
		{"stretched to 40% of the width", func(src *image.RGBA) image.Image { return stretch(src, 0.4, 1) }},
	}
	for _, tc := range tests {
		for name, draw := range map[string]func(uint64) *image.RGBA{"blobs": blobs, "shapes": hard} {
			t.Run(tc.name+", "+name, func(t *testing.T) {
				thumb := picture(draw(1)).Thumb()
				if got := picture(tc.edit(draw(1))).NewQuery().NCC(thumb); got < 0.95 {
					t.Errorf("its source: line-up %.4f, want >= 0.95", got)
				}
				if got := picture(tc.edit(draw(2))).NewQuery().NCC(thumb); got >= 0.85 {
					t.Errorf("another picture: line-up %.4f, want < 0.85", got)
				}
			})
		}
	}
}

// stretch resizes img to the given shares of its width and its height.
func stretch(img *image.RGBA, width, height float64) *image.RGBA {
	b := img.Rect
	out := image.NewRGBA(image.Rect(0, 0, int(width*float64(b.Dx())), int(height*float64(b.Dy()))))
	xdraw.BiLinear.Scale(out, out.Rect, img, b, xdraw.Src, nil)
	return out
}

// TestTemplatesFor: a hit of the query's shape, within 15%, is lined up
// with the square templates; one of another shape with those and
// templates of the ratio of their shapes, cut once; one beyond 18 steps
// (a ratio of about 2.9) with the square ones alone.
func TestTemplatesFor(t *testing.T) {
	q := picture(scene(9, 200, 100)).NewQuery() // aspect 2
	square := q.templates()
	tests := []struct {
		hitAspect float64
		ratio     float64 // of the shaped templates' width to their height; 0: none
	}{
		{2, 0},
		{2.2, 0},
		{1.8, 0},
		{1, 2},
		{4, 0.5},
		{2.5, 0.8},
		{0.75, 2.67},
		{2 / math.Exp2(1.5), 2.83}, // 18 steps
		{2 * math.Exp2(1.5), 1 / 2.83},
		{2.0 / 3, 0}, // 19 steps
		{6, 0},
		{0.5, 0},
		{8, 0},
	}
	for _, tc := range tests {
		got := q.templatesFor(tc.hitAspect)
		if tc.ratio == 0 {
			if &got[0] != &square[0] || len(got) != len(square) {
				t.Errorf("a hit of aspect %v: not the square templates alone", tc.hitAspect)
			}
			continue
		}
		if &got[0] == &square[0] {
			t.Errorf("a hit of aspect %v: the square templates' own array, which the shaped ones would overwrite", tc.hitAspect)
		}
		if len(got) != len(square)+2*len(scales) {
			t.Errorf("a hit of aspect %v: %d templates, want %d", tc.hitAspect, len(got), len(square)+2*len(scales))
			continue
		}
		for i, tp := range got[:len(square)] {
			if &tp.pix[0] != &square[i].pix[0] {
				t.Errorf("a hit of aspect %v: template %d is not the square one", tc.hitAspect, i)
			}
		}
		for _, tp := range got[len(square):] {
			if r := float64(tp.w) / float64(tp.h); math.Abs(math.Log2(r/tc.ratio)) > 0.2 || len(tp.pix) != tp.w*tp.h {
				t.Errorf("a hit of aspect %v: a template of %d x %d, want a ratio of %v", tc.hitAspect, tp.w, tp.h, tc.ratio)
			}
		}
		if again := q.templatesFor(tc.hitAspect); &again[0] != &got[0] {
			t.Errorf("a hit of aspect %v: templates cut again", tc.hitAspect)
		}
	}
}

func TestMatchFlat(t *testing.T) {
	flat := image.NewRGBA(image.Rect(0, 0, 64, 64))
	for i := range flat.Pix {
		flat.Pix[i] = 200
	}
	busy := picture(scene(4, 64, 64))
	if got := picture(flat).NewQuery().NCC(busy.Thumb()); got != -1 {
		t.Errorf("a flat query matches %v, want -1", got)
	}
	if got := busy.NewQuery().NCC(picture(flat).Thumb()); got != -1 {
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
		if got := p.NewQuery().NCC(want.Thumb()); got < 0.99 {
			t.Errorf("side %d: matches the 128-pixel picture at %.4f, want >= 0.99", side, got)
		}
	}
}

func TestNewPictureCopies(t *testing.T) {
	square := imageio.Square(scene(6, 200, 150), pictureSide)
	p := NewPicture(square, image.Pt(200, 150))
	want := p.NewQuery().NCC(p.Thumb())
	q := p.NewQuery() // made before the square is reused, used after
	clear(square.Pix) // the caller reuses its square
	if got := q.NCC(p.Thumb()); got != want || got < 0.999 {
		t.Errorf("after the square was cleared: match %.4f, want %.4f", got, want)
	}
}

func TestOrder(t *testing.T) {
	ncc := Options{Top: 3, Weight: 2, Floor: 0.85}
	corners := Options{Top: 3, Corners: 1, CornersFrom: 4, CornersTo: 28}
	tests := []struct {
		name    string
		o       Options
		dist    []float64
		matches []float64 // NCC
		inliers []int     // nil: none
		want    []int
	}{
		{"off", Options{}, []float64{0.1, 0.2, 0.3}, []float64{0, 1, 1}, nil, []int{0, 1, 2}},
		{"no weight", Options{Top: 3, Floor: 0.5}, []float64{0.1, 0.2, 0.3}, []float64{0, 1, 1}, nil, []int{0, 1, 2}},
		{"a line-up moves a hit up", ncc, []float64{0.1, 0.2, 0.3}, []float64{0.5, 0.6, 1}, nil, []int{2, 0, 1}},
		{"not above the floor: nothing", ncc, []float64{0.1, 0.2, 0.3}, []float64{0.1, 0.85, 0.8}, nil, []int{0, 1, 2}},
		{"too little to overtake", ncc, []float64{0.1, 0.5, 0.3}, []float64{0.5, 0.95, 0.5}, nil, []int{0, 2, 1}},
		{"only the top", Options{Top: 2, Weight: 2, Floor: 0.85}, []float64{0.1, 0.2, 0.3}, []float64{0.5, 0.5, 1}, nil, []int{0, 1, 2}},
		{"ties keep their order", Options{Top: 3, Weight: 1, Floor: 0}, []float64{0.5, 0.5, 0.6}, []float64{0.1, 0.1, 0.05}, nil, []int{0, 1, 2}},
		{"fewer hits than top", Options{Top: 5, Weight: 2, Floor: 0.85}, []float64{0.1, 0.2}, []float64{0, 1}, nil, []int{1, 0}},
		{"no hits", Options{Top: 5, Weight: 2, Floor: 0.85}, nil, nil, nil, []int{}},
		// Corners alone: 28 inliers or more take off all of 1, 16 half.
		{"corners move a hit up", corners, []float64{0.1, 0.2, 0.9}, []float64{0, 0, 0}, []int{3, 4, 40}, []int{2, 0, 1}},
		{"corners in proportion", corners, []float64{0.1, 0.55, 0.7}, []float64{0, 0, 0}, []int{0, 16, 28}, []int{2, 1, 0}},
		{"corners at the floor: nothing", corners, []float64{0.1, 0.2, 0.3}, []float64{1, 1, 1}, []int{0, 4, 4}, []int{0, 1, 2}},
		{"corners take off at most Corners", corners, []float64{0.1, 1.5}, []float64{0, 0}, []int{0, 100}, []int{0, 1}},
		{"corners_to at corners_from: a step", Options{Top: 3, Corners: 1, CornersFrom: 4, CornersTo: 4},
			[]float64{0.1, 0.2, 0.9}, []float64{0, 0, 0}, []int{4, 4, 9}, []int{2, 0, 1}},
		// Both: the two bonuses add up.
		{"line-up and corners together", Options{Top: 3, Weight: 2, Floor: 0.85, Corners: 1, CornersFrom: 4, CornersTo: 28},
			[]float64{0.1, 0.45, 1.35}, []float64{0.5, 1, 1}, []int{0, 0, 28}, []int{2, 0, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			got := tc.o.Order(tc.dist, func(i int) Match {
				calls++
				m := Match{NCC: tc.matches[i]}
				if tc.inliers != nil {
					m.Inliers = tc.inliers[i]
				}
				return m
			})
			if !slices.Equal(got, tc.want) {
				t.Errorf("order %v, want %v", got, tc.want)
			}
			if want := min(tc.o.Top, len(tc.dist)); tc.o.On() && calls != want {
				t.Errorf("match called %d times, want %d", calls, want)
			}
		})
	}
}

// TestOptionsMatch: a match computes only what the options weigh, and
// leaves the rest at the values that gain nothing.
func TestOptionsMatch(t *testing.T) {
	src := shapes(8, 240, 180)
	q := picture(crop(src, 0.7, 0.5, 0.5)).NewQuery()
	thumb := picture(src).Thumb()
	ncc, inliers, own := q.NCC(thumb), q.Inliers(thumb), q.InliersAtOwnAspect(thumb)
	if ncc < 0.9 || inliers < 20 || own < 20 || own == inliers {
		t.Fatalf("a crop matches at NCC %.4f with %d inliers, %d at its own aspect: too little for the test to tell", ncc, inliers, own)
	}
	tests := []struct {
		name string
		o    Options
		want Match
	}{
		{"both", Default(), Match{ncc, inliers}},
		{"the line-up only", Options{Top: 5, Weight: 2, Floor: 0.85}, Match{ncc, 0}},
		{"corners only", Options{Top: 5, Corners: 1, CornersTo: 10}, Match{-1, inliers}},
		{"corners at their own aspect", Options{Top: 5, Corners: 1, CornersTo: 10, OwnAspect: true}, Match{-1, own}},
		{"own aspect, no corners", Options{Top: 5, Weight: 2, OwnAspect: true}, Match{ncc, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.o.Match(q, thumb); got != tc.want {
				t.Errorf("%+v, want %+v", got, tc.want)
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
		{Options{Top: 1000, Weight: 1}, ""},
		{Options{Top: 1001, Weight: 1}, "top 1001 is above 1000: each hit ordered again reads its file"},
		{Options{Top: 5, Weight: -1}, "weight -1 must be a number of 0 or more"},
		{Options{Top: 5, Weight: math.Inf(1)}, "weight +Inf must be a number of 0 or more"},
		{Options{Top: 5, Weight: 1, Floor: 1}, "floor 1 must be in [-1, 1)"},
		{Options{Top: 5, Weight: 1, Floor: math.NaN()}, "floor NaN must be in [-1, 1)"},
		{Options{Top: 5, Corners: -1}, "corners -1 must be a number of 0 or more"},
		{Options{Top: 5, Corners: math.NaN()}, "corners NaN must be a number of 0 or more"},
		{Options{Top: 5, CornersFrom: -1}, "corners_from -1 is negative"},
		{Options{Top: 5, Corners: 1, CornersFrom: 10, CornersTo: 10}, "corners_to 10 must be above corners_from 10"},
		{Options{Top: 5, CornersFrom: 10, CornersTo: 10}, ""},
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
	q.NCC(thumb) // the templates are made on first use; BenchmarkTemplates times them
	b.ResetTimer()
	for b.Loop() {
		q.NCC(thumb)
	}
}

// BenchmarkMatchShaped times a hit of another shape than the query's,
// lined up by the square templates and those of the ratio of their
// shapes.
func BenchmarkMatchShaped(b *testing.B) {
	q := picture(cropSides(scene(1, 240, 180), 0.5, 0.9, 0.3, 0.6)).NewQuery()
	thumb := picture(scene(1, 240, 180)).Thumb()
	q.NCC(thumb)
	b.ResetTimer()
	for b.Loop() {
		q.NCC(thumb)
	}
}

func BenchmarkTemplates(b *testing.B) {
	p := picture(scene(1, 240, 180))
	for b.Loop() {
		p.templates()
	}
}
