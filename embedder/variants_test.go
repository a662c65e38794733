package embedder

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/deeprank/deeprank/imageio"
	"github.com/deeprank/deeprank/internal/fixture"
	"github.com/deeprank/deeprank/model"
)

func TestCropRects(t *testing.T) {
	b := image.Rect(10, 20, 110, 70) // 100 x 50
	for _, tc := range []struct {
		grid model.CropGrid
		want []image.Rectangle
	}{
		{model.CropGrid{Grid: 1, Side: 0.5}, []image.Rectangle{image.Rect(35, 32, 85, 57)}},
		{model.CropGrid{Grid: 2, Side: 0.8}, []image.Rectangle{
			image.Rect(10, 20, 90, 60), image.Rect(30, 20, 110, 60),
			image.Rect(10, 30, 90, 70), image.Rect(30, 30, 110, 70),
		}},
		{model.CropGrid{Grid: 3, Side: 0.7}, []image.Rectangle{
			image.Rect(10, 20, 80, 55), image.Rect(25, 20, 95, 55), image.Rect(40, 20, 110, 55),
			image.Rect(10, 27, 80, 62), image.Rect(25, 27, 95, 62), image.Rect(40, 27, 110, 62),
			image.Rect(10, 35, 80, 70), image.Rect(25, 35, 95, 70), image.Rect(40, 35, 110, 70),
		}},
		{model.CropGrid{Grid: 3, Width: 0.5, Height: 1}, []image.Rectangle{
			image.Rect(10, 20, 60, 70), image.Rect(35, 20, 85, 70), image.Rect(60, 20, 110, 70),
		}},
		{model.CropGrid{Grid: 3, Width: 1, Height: 0.5}, []image.Rectangle{
			image.Rect(10, 20, 110, 45), image.Rect(10, 32, 110, 57), image.Rect(10, 45, 110, 70),
		}},
		{model.CropGrid{Grid: 2, Width: 0.6, Height: 0.9}, []image.Rectangle{
			image.Rect(10, 20, 70, 65), image.Rect(50, 20, 110, 65),
			image.Rect(10, 25, 70, 70), image.Rect(50, 25, 110, 70),
		}},
	} {
		if got := cropRects(b, tc.grid); !slices.Equal(got, tc.want) {
			t.Errorf("%+v: %v, want %v", tc.grid, got, tc.want)
		}
	}
}

// gradient is a picture whose every region differs from the others.
func gradient(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetRGBA(x, y, color.RGBA{uint8(x * 255 / w), uint8(y * 255 / h), uint8((x*y)%200 + 30), 255})
		}
	}
	return img
}

// TestItemSquares: a stored image's squares are its own input, its grey
// copy, its mirror image, its rotations, each crop and each downscaled
// copy, in that order, a rotation being the input of the square turned as
// the image is, a crop the same part of the square cut out on its own and
// resampled to the input size, and a downscaled copy the input of the square shrunk from the
// image's size.
func TestItemSquares(t *testing.T) {
	spec := model.DefaultSpec()
	spec.InputSize = 16
	spec.Variants = &model.Variants{Grey: true, Mirror: true, Rotations: []float64{-8, 8}, Crops: []model.CropGrid{{Grid: 2, Side: 0.75}}, Downscales: []float64{0.2, 0.1}}
	square := imageio.Square(gradient(90, 60), spec.SquareSide())
	got := ItemSquares(spec, square, image.Pt(90, 60))
	if len(got) != spec.PerItem() || len(got) != 11 {
		t.Fatalf("%d squares, want PerItem %d = 11", len(got), spec.PerItem())
	}
	whole := Prepare(spec, square)
	if !bytes.Equal(got[0].Pix, whole.Pix) {
		t.Error("the first square is not the image's own input")
	}
	grey := imageio.Square(whole, spec.InputSize)
	imageio.Grey(grey)
	if !bytes.Equal(got[1].Pix, grey.Pix) {
		t.Error("the second square is not the grey copy of the first")
	}
	if bytes.Equal(square.Pix[:4], got[1].Pix[:4]) {
		t.Error("the grey copy was made in the square itself")
	}
	size := spec.InputSize
	for y := range size {
		for x := range size {
			if got[2].RGBAAt(x, y) != whole.RGBAAt(size-1-x, y) {
				t.Fatalf("the third square at (%d, %d) is not the first's at (%d, %d): not its mirror image", x, y, size-1-x, y)
			}
		}
	}
	for i, deg := range spec.Variants.Rotations {
		if want := Prepare(spec, imageio.Rotate(square, deg, 1.5)); !bytes.Equal(got[3+i].Pix, want.Pix) {
			t.Errorf("square %d is not the rotation by %g of the image", 3+i, deg)
		}
	}
	for i, r := range cropRects(square.Rect, spec.Variants.Crops[0]) {
		cut := image.NewRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
		draw.Draw(cut, cut.Rect, square, r.Min, draw.Src)
		want := imageio.Square(cut, spec.InputSize)
		if got := got[5+i]; got.Rect.Dx() != spec.InputSize || !bytes.Equal(got.Pix, want.Pix) {
			t.Errorf("crop %d (%v) differs from the same part cut out on its own and resampled to the input", i, r)
		}
	}
	for i, f := range spec.Variants.Downscales {
		if want := Prepare(spec, imageio.Downscaled(square, image.Pt(90, 60), f)); !bytes.Equal(got[9+i].Pix, want.Pix) {
			t.Errorf("square %d is not the image downscaled to %g", 9+i, f)
		}
	}
	if bytes.Equal(got[9].Pix, got[10].Pix) || bytes.Equal(got[9].Pix, whole.Pix) {
		t.Error("the downscaled copies are alike, or like the image's own input")
	}
}

// TestItemSquaresTrim: with borders trimmed, a crop is framed by its
// content at the square's size, as a whole image is.
func TestItemSquaresTrim(t *testing.T) {
	spec := model.DefaultSpec()
	spec.InputSize, spec.TrimBorders = 16, true
	spec.Variants = &model.Variants{Crops: []model.CropGrid{{Grid: 1, Side: 0.5}}}
	square := imageio.Square(gradient(90, 60), spec.SquareSide())
	got := ItemSquares(spec, square, image.Pt(90, 60))
	r := cropRects(square.Rect, spec.Variants.Crops[0])[0]
	cut := image.NewRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
	draw.Draw(cut, cut.Rect, square, r.Min, draw.Src)
	if want := Prepare(spec, imageio.Square(cut, spec.SquareSide())); len(got) != 2 || !bytes.Equal(got[1].Pix, want.Pix) {
		t.Error("the crop is not its part of the square framed by its content")
	}
}

// TestEmbedItems: an image's stored vectors begin with the one a query of
// it gets, and each is the network's vector of its square.
func TestEmbedItems(t *testing.T) {
	m, e := variantsEmbedder(t, &model.Variants{Grey: true, Rotations: []float64{10}, Crops: []model.CropGrid{{Grid: 1, Side: 0.6}}}, nil)
	buf := pngOf(t, gradient(70, 50))
	query, err := e.Decode(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	item, err := e.DecodeItem(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	dim, per := e.Dim(), e.PerItem()
	q := e.Embed([]*Input{query})[0]
	stored := e.EmbedItems([]*Input{item, item})
	if per != 4 || len(stored) != 2 || len(stored[0]) != per*dim {
		t.Fatalf("EmbedItems: %d items of %d values, want 2 of %d x %d", len(stored), len(stored[0]), per, dim)
	}
	if !slices.Equal(stored[0][:dim], q) {
		t.Error("the stored image's own vector differs from its query's")
	}
	if !slices.Equal(e.Embed([]*Input{item})[0], q) {
		t.Error("Embed of an input from DecodeItem differs from its query's")
	}
	square, _, err := imageio.DecodeSquare(buf.Bytes(), m.Spec.SquareSide(), nil)
	if err != nil {
		t.Fatal(err)
	}
	net, err := model.NewNet(m, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := EmbedSquares(net, m.Normalization, []string{"x"}, func(string) []*image.RGBA { return ItemSquares(m.Spec, square, image.Pt(70, 50)) })["x"]
	for j := range want {
		if d := want[j] - stored[1][j]; d > 1e-5 || d < -1e-5 {
			t.Fatalf("value %d (vector %d): %g by EmbedItems, %g by EmbedSquares of ItemSquares", j, j/dim, stored[1][j], want[j])
		}
	}
	small, err := New(m, &Options{BatchSize: 2}) // passes of 2 images cut across items
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range small.EmbedItems([]*Input{item, item}) {
		for j := range v {
			if d := v[j] - stored[i][j]; d > 1e-5 || d < -1e-5 {
				t.Fatalf("item %d value %d: %g in passes of 2 images, %g in one", i, j, v[j], stored[i][j])
			}
		}
	}
	if slices.Equal(stored[0][dim:2*dim], q) || slices.Equal(stored[0][2*dim:], q) {
		t.Error("a variant's vector is the image's own")
	}
}

// TestOwnOnly: with Options.OwnOnly an image to store has its own vector
// alone, the one a query of it gets.
func TestOwnOnly(t *testing.T) {
	_, e := variantsEmbedder(t, &model.Variants{Grey: true}, &Options{OwnOnly: true})
	item, err := e.DecodeItem(pngOf(t, gradient(40, 30)).Bytes())
	if err != nil {
		t.Fatal(err)
	}
	stored := e.EmbedItems([]*Input{item})[0]
	if e.PerItem() != 1 || !slices.Equal(stored, e.Embed([]*Input{item})[0]) {
		t.Errorf("PerItem %d, a stored image of %d values: want 1 and its own vector of %d", e.PerItem(), len(stored), e.Dim())
	}
}

// variantsEmbedder is an embedder of the tiny test model given variants.
func variantsEmbedder(t *testing.T, v *model.Variants, opts *Options) (*model.Model, *Embedder) {
	t.Helper()
	m, err := model.Load(fixture.TinyModel(t, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	m.Spec.Variants = v
	e, err := New(m, opts)
	if err != nil {
		t.Fatal(err)
	}
	return m, e
}

// pngOf encodes img as a PNG file's bytes.
func pngOf(t *testing.T, img image.Image) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return &buf
}

// TestRotationsUpright: a photo whose EXIF says to turn it a quarter gets
// rotated variants of its upright picture, in the upright proportions (50
// wide, 70 tall), not the stored 70x50.
func TestRotationsUpright(t *testing.T) {
	m, e := variantsEmbedder(t, &model.Variants{Rotations: []float64{15}}, nil)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, gradient(70, 50), &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	data := fixture.WithOrientation(buf.Bytes(), 6, binary.BigEndian)
	item, err := e.DecodeItem(data)
	if err != nil {
		t.Fatal(err)
	}
	if item.Width != 50 || item.Height != 70 {
		t.Fatalf("decoded %dx%d, want the upright 50x70", item.Width, item.Height)
	}
	square, _, err := imageio.DecodeSquare(data, m.Spec.SquareSide(), nil)
	if err != nil {
		t.Fatal(err)
	}
	net, err := model.NewNet(m, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := e.EmbedItems([]*Input{item})[0]
	for _, tc := range []struct {
		full image.Point
		same bool
	}{{image.Pt(50, 70), true}, {image.Pt(70, 50), false}} {
		want := EmbedSquares(net, m.Normalization, []string{"x"}, func(string) []*image.RGBA { return ItemSquares(m.Spec, square, tc.full) })["x"]
		var most float32
		for j := range want {
			most = max(most, abs32(want[j]-got[j]))
		}
		if same := most <= 1e-5; same != tc.same {
			t.Errorf("against rotations of an image of %v: largest difference %g, want the same %v", tc.full, most, tc.same)
		}
	}
}

func abs32(x float32) float32 { return max(x, -x) }

// BenchmarkItemSquares: the inputs of a stored image of the default
// model's sixteen vectors, from its square (what EmbedItems adds to a
// query's decode).
func BenchmarkItemSquares(b *testing.B) {
	spec := model.DefaultSpec()
	spec.Variants = &model.Variants{Grey: true, Mirror: true, Rotations: []float64{-10, 10},
		Crops: []model.CropGrid{{Grid: 3, Side: 0.8}, {Grid: 1, Side: 0.7}}, Downscales: []float64{0.4}}
	square := imageio.Square(gradient(640, 480), spec.SquareSide())
	for b.Loop() {
		ItemSquares(spec, square, image.Pt(640, 480))
	}
}

// TestAspects: each vector's aspect value is the weight times log2 of the
// width over the height of what it describes, in ItemSquares' order.
func TestAspects(t *testing.T) {
	strips := &model.Variants{Grey: true, Mirror: true, Rotations: []float64{-10, 10},
		Crops:      []model.CropGrid{{Grid: 2, Side: 0.8}, {Grid: 3, Width: 0.5, Height: 1}, {Grid: 2, Width: 1, Height: 0.25}},
		Downscales: []float64{0.4}}
	for _, tc := range []struct {
		name     string
		weight   float64
		variants *model.Variants
		full     image.Point
		item     bool
		want     []float32
	}{
		{"no aspect value", 0, strips, image.Pt(200, 100), true, nil},
		{"a query, twice as wide", 0.5, strips, image.Pt(200, 100), false, []float32{0.5}},
		{"a query, twice as tall", 0.5, strips, image.Pt(100, 200), false, []float32{-0.5}},
		{"a square image without variants", 0.25, nil, image.Pt(64, 64), true, []float32{0}},
		// Its own, grey, mirror and two rotations; 2x2 crops of 80%, of its
		// shape; strips of half the width, square; strips of a quarter of
		// the height; shrunk.
		{"an image to store", 0.5, strips, image.Pt(200, 100), true, []float32{
			0.5, 0.5, 0.5, 0.5, 0.5,
			0.5, 0.5, 0.5, 0.5,
			0, 0, 0,
			1.5, 1.5,
			0.5,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := model.DefaultSpec()
			spec.Variants, spec.AspectWeight = tc.variants, tc.weight
			got := Aspects(spec, tc.full, tc.item)
			if !slices.EqualFunc(got, tc.want, func(a, b float32) bool { return math.Abs(float64(a-b)) < 1e-6 }) {
				t.Errorf("Aspects = %v, want %v", got, tc.want)
			}
			if tc.item && got != nil && len(got) != spec.PerItem() {
				t.Errorf("%d values for %d vectors an image", len(got), spec.PerItem())
			}
		})
	}
}

// TestEmbedAspect: with an aspect value, every vector is the network's
// followed by its value, for a query and for each of a stored image's
// vectors, and the learned part is the whole network's output.
func TestEmbedAspect(t *testing.T) {
	v := &model.Variants{Grey: true, Crops: []model.CropGrid{{Grid: 2, Width: 0.5, Height: 1}}}
	plainModel, plain := variantsEmbedder(t, v, nil)
	m := plainModel.Clone()
	m.Spec.AspectWeight = 0.5
	e, err := New(m, nil)
	if err != nil {
		t.Fatal(err)
	}
	if e.Dim() != plain.Dim()+1 || e.Learned() != plain.Dim() || plain.Learned() != 0 {
		t.Fatalf("Dim %d, Learned %d; without the value Dim %d, Learned %d", e.Dim(), e.Learned(), plain.Dim(), plain.Learned())
	}
	buf := pngOf(t, gradient(80, 40))
	decode := func(e *Embedder, item bool) *Input {
		t.Helper()
		in, err := e.decode(buf.Bytes(), item)
		if err != nil {
			t.Fatal(err)
		}
		return in
	}
	dim := plain.Dim()
	q, wantQ := e.Embed([]*Input{decode(e, false)})[0], plain.Embed([]*Input{decode(plain, false)})[0]
	if !slices.Equal(q[:dim], wantQ) || q[dim] != 0.5 {
		t.Errorf("query: %v..., value %g; want the plain vector and 0.5", q[:3], q[dim])
	}
	if own := e.Embed([]*Input{decode(e, true)})[0]; !slices.Equal(own, q) {
		t.Errorf("Embed of an input from DecodeItem: %d values, not the query's %d", len(own), len(q))
	}
	ownOnly, err := New(m, &Options{OwnOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if own := ownOnly.EmbedItems([]*Input{decode(ownOnly, true)})[0]; !slices.Equal(own, q) {
		t.Errorf("EmbedItems with OwnOnly: %d values, not the query's %d", len(own), len(q))
	}
	stored, wantS := e.EmbedItems([]*Input{decode(e, true)})[0], plain.EmbedItems([]*Input{decode(plain, true)})[0]
	// Own and grey, twice as wide as high; two strips of half the width,
	// square.
	values := []float32{0.5, 0.5, 0, 0}
	if len(stored) != len(values)*(dim+1) {
		t.Fatalf("%d values stored, want %d x %d", len(stored), len(values), dim+1)
	}
	for i, a := range values {
		got := stored[i*(dim+1) : (i+1)*(dim+1)]
		if !slices.Equal(got[:dim], wantS[i*dim:(i+1)*dim]) || got[dim] != a {
			t.Errorf("vector %d: value %g, want %g after the plain vector", i, got[dim], a)
		}
	}
}

// TestQueryVariants: a query's variants are its own input, its mirror
// image and its turns back, those the spec stores, and no others.
func TestQueryVariants(t *testing.T) {
	spec := model.DefaultSpec()
	spec.InputSize = 16
	square := imageio.Square(gradient(90, 60), spec.SquareSide())
	whole := Prepare(spec, square)
	turned := func(deg float64) *image.RGBA { return Prepare(spec, imageio.Rotate(square, deg, 1.5)) }
	for _, tc := range []struct {
		name     string
		variants *model.Variants
		want     []*image.RGBA
	}{
		{"no variants", nil, []*image.RGBA{whole}},
		{"grey and crops only", &model.Variants{Grey: true, Crops: []model.CropGrid{{Grid: 2, Side: 0.75}}}, []*image.RGBA{whole}},
		{"mirror", &model.Variants{Mirror: true}, []*image.RGBA{whole, mirror(whole)}},
		{"turns back", &model.Variants{Rotations: []float64{-8, 12}}, []*image.RGBA{whole, turned(8), turned(-12)}},
		{"all", &model.Variants{Grey: true, Mirror: true, Rotations: []float64{-10, 10}, Downscales: []float64{0.4}},
			[]*image.RGBA{whole, mirror(whole), turned(10), turned(-10)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec.Variants = tc.variants
			got := QueryVariants(spec, square, image.Pt(90, 60))
			if len(got) != len(tc.want) {
				t.Fatalf("%d variants, want %d", len(got), len(tc.want))
			}
			for i := range got {
				if !bytes.Equal(got[i].Pix, tc.want[i].Pix) {
					t.Errorf("variant %d differs from the one wanted", i)
				}
			}
		})
	}
}

// TestEmbedQueryVariants: with Options.QueryVariants a query's first
// vector is the one Embed gives, the others its mirror image's and
// turns', each ending in the query's own aspect value; without it, the
// query has one vector.
func TestEmbedQueryVariants(t *testing.T) {
	variants := &model.Variants{Mirror: true, Rotations: []float64{10}, Crops: []model.CropGrid{{Grid: 1, Width: 0.5, Height: 1}}}
	buf := pngOf(t, gradient(70, 50))
	for _, tc := range []struct {
		opts  *Options
		views int
	}{
		{nil, 1},
		{&Options{QueryVariants: true}, 3},
	} {
		m, err := model.Load(fixture.TinyModel(t, t.TempDir()))
		if err != nil {
			t.Fatal(err)
		}
		m.Spec.Variants, m.Spec.AspectWeight = variants, 0.25
		e, err := New(m, tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		in, err := e.Decode(buf.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		views := e.EmbedQueryVariants([]*Input{in, in})
		if len(views) != 2 || len(views[0]) != tc.views {
			t.Fatalf("QueryVariants %v: %d inputs of %d vectors, want 2 of %d", tc.opts != nil, len(views), len(views[0]), tc.views)
		}
		own := e.Embed([]*Input{in})[0]
		if !slices.Equal(views[0][0], own) || !slices.Equal(views[1][0], own) {
			t.Error("the first vector is not the query's own")
		}
		aspect := float32(0.25 * math.Log2(70.0/50))
		for i, v := range views[0] {
			if len(v) != e.Dim() || v[len(v)-1] != aspect {
				t.Errorf("vector %d: %d values ending %g, want %d ending the query's aspect %g", i, len(v), v[len(v)-1], e.Dim(), aspect)
			}
			if i > 0 && slices.Equal(v, own) {
				t.Errorf("variant %d's vector is the query's own", i)
			}
		}
		path := filepath.Join(t.TempDir(), "q.png")
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		res, err := e.EmbedFiles(t.Context(), []string{path})
		if err != nil || res[0].Err != nil {
			t.Fatal(err, res[0].Err)
		}
		if !slices.Equal(res[0].Vector, own) || len(res[0].Variants) != tc.views || !slices.Equal(res[0].Variants[0], own) {
			t.Errorf("EmbedFiles: Vector or Variants unlike Embed's and EmbedQueryVariants'")
		}
	}
}
