package imageio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gen2brain/avif"
	"golang.org/x/image/bmp"
	xdraw "golang.org/x/image/draw"

	"github.com/deeprank/deeprank/internal/fixture"
)

func testImage() *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, 40, 30))
	for y := range 30 {
		for x := range 40 {
			img.SetRGBA(x, y, color.RGBA{uint8(6 * x), uint8(8 * y), 100, 255})
		}
	}
	return img
}

func encode(t *testing.T, enc func(*bytes.Buffer, image.Image) error, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := enc(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// hugePNG is a valid PNG header declaring width x height, without pixels.
func hugePNG(t *testing.T, width, height int) []byte {
	small := encode(t, func(b *bytes.Buffer, i image.Image) error { return png.Encode(b, i) }, image.NewGray(image.Rect(0, 0, 1, 1)))
	// IHDR: type at bytes 12..15, width and height at 16..23, CRC of type
	// and data at 29..32.
	b := bytes.Clone(small)
	binary.BigEndian.PutUint32(b[16:], uint32(width))
	binary.BigEndian.PutUint32(b[20:], uint32(height))
	binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
	return b
}

func TestDecode(t *testing.T) {
	img := testImage()
	pngData := encode(t, func(b *bytes.Buffer, i image.Image) error { return png.Encode(b, i) }, img)
	jpegData := encode(t, func(b *bytes.Buffer, i image.Image) error { return jpeg.Encode(b, i, nil) }, img)
	bmpData := encode(t, func(b *bytes.Buffer, i image.Image) error { return bmp.Encode(b, i) }, img)
	cases := []struct {
		name    string
		data    []byte
		opts    *Options
		want    error
		wantDim image.Point
	}{
		{"png", pngData, nil, nil, image.Pt(40, 30)},
		{"jpeg", jpegData, nil, nil, image.Pt(40, 30)},
		{"bmp", bmpData, nil, nil, image.Pt(40, 30)},
		{"zero bytes", nil, nil, ErrNotImage, image.Point{}},
		{"text", []byte("just some text"), nil, ErrNotImage, image.Point{}},
		{"truncated jpeg", jpegData[:len(jpegData)/2], nil, ErrNotImage, image.Point{}},
		{"declares 100000x100000", hugePNG(t, 100000, 100000), nil, ErrTooLarge, image.Point{}},
		{"over a custom limit", pngData, &Options{MaxPixels: 100}, ErrTooLarge, image.Point{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decode(tc.data, tc.opts)
			if tc.want != nil {
				if !errors.Is(err, tc.want) {
					t.Fatalf("err = %v, want %v", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Bounds().Size() != tc.wantDim {
				t.Errorf("size %v, want %v", got.Bounds().Size(), tc.wantDim)
			}
		})
	}
}

// pngHeader is a PNG's signature and header chunk declaring width x height
// at a bit depth and colour type, without pixels: enough for DecodeConfig.
func pngHeader(width, height int, depth, colorType byte) []byte {
	b := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR")
	b = binary.BigEndian.AppendUint32(b, uint32(width))
	b = binary.BigEndian.AppendUint32(b, uint32(height))
	b = append(b, depth, colorType, 0, 0, 0)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b[12:]))
}

func TestDecodeMemory(t *testing.T) {
	img := testImage() // 40 x 30
	jpegData := encode(t, func(b *bytes.Buffer, i image.Image) error { return jpeg.Encode(b, i, nil) }, img)
	// image/jpeg writes baseline files; marking the frame header SOF2 makes
	// the header of a progressive one.
	progressive := bytes.Clone(jpegData)
	progressive[bytes.Index(progressive, []byte{0xFF, 0xC0})+1] = 0xC2
	paletted := encode(t, func(b *bytes.Buffer, i image.Image) error { return png.Encode(b, i) },
		image.NewPaletted(image.Rect(0, 0, 40, 30), color.Palette{color.Black, color.White}))
	cases := []struct {
		name string
		data []byte
		opts *Options
		want int64 // bytes; 0 when err is set
		err  error
	}{
		// Issue 17, item 7: 600 MB to decode a file of 390 KB.
		{"16-bit RGB PNG 7000x7000", pngHeader(7000, 7000, 16, 2), nil, 7000 * 7000 * 8, nil},
		{"8-bit grey PNG", pngHeader(100, 50, 8, 0), nil, 100 * 50 * 1, nil},
		{"16-bit grey PNG", pngHeader(100, 50, 16, 0), nil, 100 * 50 * 2, nil},
		{"8-bit RGBA PNG", pngHeader(100, 50, 8, 6), nil, 100 * 50 * 4, nil},
		{"paletted PNG", paletted, nil, 40 * 30 * 1, nil},
		{"baseline JPEG", jpegData, nil, 40 * 30 * 3, nil},
		{"progressive JPEG", progressive, nil, 40 * 30 * (3 + 3*4), nil},
		{"rotated JPEG", fixture.WithOrientation(jpegData, 6, binary.BigEndian), nil, 40 * 30 * (3 + 8), nil},
		{"over the pixel limit", pngHeader(7000, 7000, 16, 2), &Options{MaxPixels: 1000}, 0, ErrTooLarge},
		{"text", []byte("not a picture"), nil, 0, ErrNotImage},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeMemory(tc.data, tc.opts)
			if !errors.Is(err, tc.err) || got != tc.want {
				t.Errorf("DecodeMemory = %d, %v; want %d, %v", got, err, tc.want, tc.err)
			}
		})
	}
}

func TestSniff(t *testing.T) {
	pngData := encode(t, func(b *bytes.Buffer, i image.Image) error { return png.Encode(b, i) }, testImage())
	cases := []struct {
		name string
		head []byte
		want error
	}{
		{"PNG head", pngData[:16], nil},
		{"PNG signature alone", pngData[:8], nil},
		{"text", []byte("this is not a picture\n"), ErrNotImage},
		{"zeros", make([]byte, 512), ErrNotImage},
		{"nothing", nil, ErrNotImage},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := Sniff(tc.head); !errors.Is(err, tc.want) {
				t.Errorf("Sniff = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestSquare(t *testing.T) {
	sq := Square(testImage(), 8)
	if sq.Rect.Dx() != 8 || sq.Rect.Dy() != 8 {
		t.Fatalf("size %v", sq.Rect)
	}
	// Blue is 100 everywhere.
	if b := sq.RGBAAt(2, 1).B; b < 98 || b > 102 {
		t.Errorf("blue %d, want 100", b)
	}
	// A transparent image is composited on white.
	clear := image.NewNRGBA(image.Rect(0, 0, 4, 4))
	if px := Square(clear, 4).RGBAAt(1, 1); px != (color.RGBA{255, 255, 255, 255}) {
		t.Errorf("transparent pixel became %v, want white", px)
	}
}

func TestAugmentDeterministic(t *testing.T) {
	img := Square(testImage(), 32)
	a := Augment{HorizontalFlip: true, VerticalFlip: true, Rotation: 30, Shear: 10, Zoom: 0.2, Crop: 0.3, Downscale: 0.5, ColorJitter: 0.3, JPEGProbability: 1, JPEGMinQuality: 30}
	one := a.Apply(img, rand.New(rand.NewPCG(1, 2)))
	two := a.Apply(img, rand.New(rand.NewPCG(1, 2)))
	other := a.Apply(img, rand.New(rand.NewPCG(3, 4)))
	if !bytes.Equal(one.Pix, two.Pix) {
		t.Error("the same seed gave different augmentations")
	}
	if bytes.Equal(one.Pix, other.Pix) || bytes.Equal(one.Pix, img.Pix) {
		t.Error("augmentation changed nothing")
	}
	if same := (Augment{}).Apply(img, rand.New(rand.NewPCG(1, 2))); !bytes.Equal(same.Pix, img.Pix) {
		t.Error("the zero Augment changed the image")
	}
	// Each flip mirrors the whole image with probability 1/2: over 64 seeds
	// both outcomes must occur, and nothing else.
	mirror := func(horizontal bool) *image.RGBA {
		m := image.NewRGBA(img.Rect)
		w, h := img.Rect.Dx(), img.Rect.Dy()
		for y := range h {
			for x := range w {
				sx, sy := w-1-x, y
				if !horizontal {
					sx, sy = x, h-1-y
				}
				m.SetRGBA(x, y, img.RGBAAt(sx, sy))
			}
		}
		return m
	}
	for _, horizontal := range []bool{true, false} {
		flip := Augment{HorizontalFlip: horizontal, VerticalFlip: !horizontal}
		want := mirror(horizontal)
		flipped, kept := 0, 0
		for seed := range uint64(64) {
			out := flip.Apply(img, rand.New(rand.NewPCG(seed, 0)))
			switch {
			case bytes.Equal(out.Pix, want.Pix):
				flipped++
			case bytes.Equal(out.Pix, img.Pix):
				kept++
			default:
				t.Fatalf("%+v, seed %d: the image is neither kept nor mirrored", flip, seed)
			}
		}
		if flipped == 0 || kept == 0 {
			t.Errorf("%+v: %d of 64 images mirrored and %d kept, want both to happen", flip, flipped, kept)
		}
	}
}

func TestAugmentGreyAndSkip(t *testing.T) {
	img := Square(testImage(), 32)
	grey := Augment{Grayscale: 1}.Apply(img, rand.New(rand.NewPCG(1, 2)))
	for i := 0; i < len(grey.Pix); i += 4 {
		if p := grey.Pix[i : i+3]; p[0] != p[1] || p[1] != p[2] {
			t.Fatalf("pixel %d is %v after Grayscale 1, want grey", i/4, p)
		}
	}
	// Skip draws nothing when 0: the stream, and so the result, are those
	// of the same Augment without it.
	a := Augment{Crop: 0.3, Rotation: 10, ColorJitter: 0.3, Downscale: 0.5}
	if one, two := a.Apply(img, rand.New(rand.NewPCG(1, 2))), a.Apply(img, rand.New(rand.NewPCG(1, 2))); !bytes.Equal(one.Pix, two.Pix) {
		t.Error("the same seed gave different augmentations")
	}
	// With Skip near 1 almost every view is the image itself; at 0.5 some
	// are and some are not.
	for _, tc := range []struct {
		skip             float64
		minSame, maxSame int
	}{{0, 0, 0}, {0.5, 1, 63}, {0.999, 60, 64}} {
		a.Skip = tc.skip
		same := 0
		for seed := range uint64(64) {
			if bytes.Equal(a.Apply(img, rand.New(rand.NewPCG(seed, 0))).Pix, img.Pix) {
				same++
			}
		}
		if same < tc.minSame || same > tc.maxSame {
			t.Errorf("skip %g: %d of 64 views unchanged, want %d..%d", tc.skip, same, tc.minSame, tc.maxSame)
		}
	}
}

// TestAugmentCropAspect checks the crops CropAspect draws, read from a
// picture whose red and green give each pixel's column and row: every crop
// lies inside the picture (its columns rise along the top row and its rows
// down the left column, where a point outside would repeat the edge),
// keeps at least the area of the smallest square crop (less only where a
// side is cut to the whole), and keeps the aspect within its bound;
// CropAspect changes the aspect both ways, and CropAspect 1 draws what
// square crops draw.
func TestAugmentCropAspect(t *testing.T) {
	const side, crop = 64, 0.4
	img := image.NewRGBA(image.Rect(0, 0, side, side))
	for y := range side {
		for x := range side {
			img.SetRGBA(x, y, color.RGBA{uint8(4 * x), uint8(4 * y), 0, 255})
		}
	}
	// shares returns the crop's width and height as shares of the
	// picture's, or ok false when it reads outside the picture.
	shares := func(out *image.RGBA) (w, h float64, ok bool) {
		for i := 1; i < side; i++ {
			if out.RGBAAt(i, 0).R <= out.RGBAAt(i-1, 0).R || out.RGBAAt(0, i).G <= out.RGBAAt(0, i-1).G {
				return 0, 0, false
			}
		}
		first, last := out.RGBAAt(0, 0), out.RGBAAt(side-1, side-1)
		whole := float64(4 * (side - 1))
		return float64(int(last.R)-int(first.R)) / whole, float64(int(last.G)-int(first.G)) / whole, true
	}
	for _, tc := range []struct {
		name                  string
		cropAspect            float64
		minAspect, maxAspect  float64 // bounds on every crop's aspect
		wantWider, wantTaller bool    // some crop beyond 1.3 that way
	}{
		{"square crops", 0, 0.95, 1.05, false, false},
		{"aspect 1 is square", 1, 0.95, 1.05, false, false},
		{"aspect up to 2", 2, 1 / 2.1, 2.1, true, true},
		{"aspect up to 4", 4, 1 / 4.3, 4.3, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := Augment{Crop: crop, CropAspect: tc.cropAspect}
			// The smallest square's area, or less where a side is cut to
			// the whole: then the area is the other side, s/sqrt(factor).
			minArea := min((1-crop)*(1-crop), (1-crop)/math.Sqrt(max(tc.cropAspect, 1)))
			wider, taller := false, false
			for seed := range uint64(64) {
				w, h, ok := shares(a.Apply(img, rand.New(rand.NewPCG(seed, 0))))
				switch {
				case !ok:
					t.Fatalf("seed %d: the crop reads outside the picture", seed)
				case w/h < tc.minAspect || w/h > tc.maxAspect:
					t.Fatalf("seed %d: a crop of %.3f x %.3f, aspect %.3f, want %.3f..%.3f", seed, w, h, w/h, tc.minAspect, tc.maxAspect)
				case w*h < 0.97*minArea:
					t.Fatalf("seed %d: a crop of %.3f x %.3f keeps less than the least area %.3f", seed, w, h, minArea)
				}
				wider = wider || w/h > 1.3
				taller = taller || w/h < 1/1.3
			}
			if wider != tc.wantWider || taller != tc.wantTaller {
				t.Errorf("over 64 seeds: a crop wider than 1.3 %v (want %v), taller %v (want %v)", wider, tc.wantWider, taller, tc.wantTaller)
			}
		})
	}
	square := Augment{Crop: crop}.Apply(img, rand.New(rand.NewPCG(7, 0)))
	if one := (Augment{Crop: crop, CropAspect: 1}).Apply(img, rand.New(rand.NewPCG(7, 0))); !bytes.Equal(one.Pix, square.Pix) {
		t.Error("CropAspect 1 gave another crop than square crops for the same seed")
	}
}

// TestAugmentBrightnessShift checks that a brightness shift adds one
// offset, within its bound, to every channel of every pixel (clipped at 0
// and 255), and that over seeds it lifts and darkens.
func TestAugmentBrightnessShift(t *testing.T) {
	img := Square(testImage(), 32)
	// Black and white pixels, to see the clipping.
	copy(img.Pix[0:3], []uint8{0, 0, 0})
	copy(img.Pix[4:7], []uint8{255, 255, 255})
	a := Augment{BrightnessShift: 0.2}
	var lifted, darkened int
	for seed := range uint64(32) {
		out := a.Apply(img, rand.New(rand.NewPCG(seed, 0)))
		// The offset, read where neither end clips it: a mid-grey value.
		by := 0
		for i := range img.Pix {
			if i%4 != 3 && img.Pix[i] > 60 && img.Pix[i] < 190 {
				by = int(out.Pix[i]) - int(img.Pix[i])
				break
			}
		}
		if by < -51 || by > 51 {
			t.Fatalf("seed %d: offset %d, outside 0.2 of 255", seed, by)
		}
		for i, v := range img.Pix {
			want := v // alpha stays
			if i%4 != 3 {
				want = uint8(min(max(int(v)+by, 0), 255))
			}
			if d := int(out.Pix[i]) - int(want); d < -1 || d > 1 {
				t.Fatalf("seed %d, byte %d: %d -> %d, want %d (offset %d)", seed, i, v, out.Pix[i], want, by)
			}
		}
		switch {
		case by > 0:
			lifted++
		case by < 0:
			darkened++
		}
	}
	if lifted == 0 || darkened == 0 {
		t.Errorf("%d of 32 seeds lifted and %d darkened, want both", lifted, darkened)
	}
}

func FuzzDecode(f *testing.F) {
	img := testImage()
	var buf bytes.Buffer
	png.Encode(&buf, img)
	f.Add(buf.Bytes())
	buf.Reset()
	jpeg.Encode(&buf, img, nil)
	f.Add(buf.Bytes())
	f.Add(fixture.WithOrientation(buf.Bytes(), 6, binary.BigEndian))
	buf.Reset()
	bmp.Encode(&buf, img)
	f.Add(buf.Bytes())
	f.Add([]byte("GIF89a"))
	buf.Reset()
	avif.Encode(&buf, img, avif.Options{Quality: 50, Speed: 10}) // HEIC has no encoder in Go
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := Decode(data, &Options{MaxPixels: 1 << 20})
		if err != nil {
			if !errors.Is(err, ErrNotImage) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		if b := got.Bounds(); b.Dx()*b.Dy() > 1<<20 {
			t.Fatalf("decoded %v over the pixel limit", b)
		}
		// What decodes passes the checks made before decoding.
		if err := Sniff(data[:min(len(data), 512)]); err != nil {
			t.Fatalf("Sniff refused an image that decodes: %v", err)
		}
		b := got.Bounds()
		if cost, err := DecodeMemory(data, &Options{MaxPixels: 1 << 20}); err != nil || cost < int64(b.Dx()*b.Dy()) {
			t.Fatalf("DecodeMemory = %d, %v for a %v image that decodes", cost, err, b)
		}
		Square(got, 8)
		// The reduced path (a JPEG of 16 pixels or more a side decodes at
		// 1/2 or less for a 4x4 input) must agree and fit SquareReduced.
		small, full, err := DecodeFor(data, 4, &Options{MaxPixels: 1 << 20})
		if err != nil {
			t.Fatalf("Decode succeeded, DecodeFor failed: %v", err)
		}
		if full.Size() != got.Bounds().Size() {
			t.Fatalf("DecodeFor's full size %v, Decode's image %v", full, got.Bounds())
		}
		SquareReduced(small, full, 4)
	})
}

// TestSquareRows checks that Square, which reads the image a row at a
// time, gives exactly the pixels of squaring the image drawn whole into an
// opaque RGBA (composited on white) first, as it did before: for each
// colour model a decoder returns, transparency, and bounds not at the
// origin.
func TestSquareRows(t *testing.T) {
	const w, h = 301, 203
	photo := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			photo.SetRGBA(x, y, color.RGBA{uint8(x * 3), uint8(y * 5), uint8(x ^ y), 255})
		}
	}
	ycbcr, err := jpeg.Decode(bytes.NewReader(encode(t, func(b *bytes.Buffer, i image.Image) error { return jpeg.Encode(b, i, nil) }, photo)))
	if err != nil {
		t.Fatal(err)
	}
	gray := image.NewGray(photo.Rect)
	draw.Draw(gray, gray.Rect, photo, image.Point{}, draw.Src)
	translucent := image.NewNRGBA(photo.Rect)
	draw.Draw(translucent, translucent.Rect, photo, image.Point{}, draw.Src)
	for i := 3; i < len(translucent.Pix); i += 4 {
		translucent.Pix[i] = uint8(i / 4 % 256)
	}
	paletted := image.NewPaletted(photo.Rect, color.Palette{color.Transparent, color.RGBA{200, 10, 10, 255}, color.Black})
	draw.Draw(paletted, paletted.Rect, photo, image.Point{}, draw.Src)
	deep := image.NewRGBA64(photo.Rect)
	draw.Draw(deep, deep.Rect, photo, image.Point{}, draw.Src)
	cases := []struct {
		name string
		img  image.Image
		size int
	}{
		{"YCbCr 4:2:0", ycbcr, 16},
		{"grey", gray, 16},
		{"translucent NRGBA", translucent, 16},
		{"paletted with transparency", paletted, 8},
		{"16-bit RGBA", deep, 16},
		{"bounds not at the origin", photo.SubImage(image.Rect(17, 9, 290, 200)), 16},
		{"no box filter", photo.SubImage(image.Rect(0, 0, 50, 40)), 16},
		{"the size already", photo.SubImage(image.Rect(3, 3, 19, 19)), 16},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.img.Bounds()
			flat := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
			draw.Draw(flat, flat.Rect, image.NewUniform(color.White), image.Point{}, draw.Src)
			draw.Draw(flat, flat.Rect, tc.img, b.Min, draw.Over)
			// The squaring of old, on the whole image.
			want := flat
			if kx, ky := max(b.Dx()/(2*tc.size), 1), max(b.Dy()/(2*tc.size), 1); kx > 1 || ky > 1 {
				want = boxShrinkReference(func(y int) []byte { return flat.Pix[y*flat.Stride:] }, 1, kx, ky, flat.Rect)
			}
			if b.Dx() != tc.size || b.Dy() != tc.size {
				dst := image.NewRGBA(image.Rect(0, 0, tc.size, tc.size))
				xdraw.CatmullRom.Scale(dst, dst.Bounds(), want, want.Bounds(), xdraw.Src, nil)
				want = dst
			}
			got := Square(tc.img, tc.size)
			if got.Rect != want.Rect || !bytes.Equal(got.Pix, want.Pix) {
				t.Fatalf("squared row by row differs from squaring the whole image drawn first")
			}
		})
	}
}

// boxShrinkReference is boxShrink as it was before it averaged red, green
// and blue only, from taps laid end to end: the oracle it must equal.
//
// boxShrink averages blocks of kx x ky pixels of the full-size image, which
// lies at full on the grid of an image scaled up by scale: each pixel of
// that image stands for scale x scale pixels, weighted by how many of them
// fall in the block. Leftover edge pixels that do not fill a block are
// dropped. At scale 1 it is a plain box filter. row(y) gives the RGBA
// pixels of the image's row y; boxShrink asks for the rows in order, each
// once or, where a row straddles two blocks, twice in a row.
func boxShrinkReference(row func(y int) []byte, scale, kx, ky int, full image.Rectangle) *image.RGBA {
	w, h := full.Dx()/kx, full.Dy()/ky
	xTaps, yTaps := boxTaps(w, kx, scale, full.Min.X), boxTaps(h, ky, scale, full.Min.Y)
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	sums := make([]uint64, 4*w)
	n := uint64(kx * ky)
	for y, ty := range yTaps {
		clear(sums)
		for _, vy := range ty {
			row, wy := row(vy.i), uint64(vy.weight)
			for x, tx := range xTaps {
				// The row's weighted sums, then times the row's weight:
				// the same integers, with fewer multiplications.
				var r, g, b, a uint64
				for _, vx := range tx {
					p := row[4*vx.i : 4*vx.i+4 : 4*vx.i+4]
					wx := uint64(vx.weight)
					r += wx * uint64(p[0])
					g += wx * uint64(p[1])
					b += wx * uint64(p[2])
					a += wx * uint64(p[3])
				}
				s := sums[4*x : 4*x+4 : 4*x+4]
				s[0] += wy * r
				s[1] += wy * g
				s[2] += wy * b
				s[3] += wy * a
			}
		}
		o := out.Pix[y*out.Stride:]
		for i, s := range sums {
			o[i] = uint8((s + n/2) / n)
		}
	}
	return out
}

// TestRotate: a quarter turn moves every pixel exactly, no turn moves
// none, a sub-image turns as a copy of it does, and a squashed picture
// turns as the picture would before it was squashed.
func TestRotate(t *testing.T) {
	pattern := func(w, h int) *image.RGBA {
		img := image.NewRGBA(image.Rect(0, 0, w, h))
		for y := range h {
			for x := range w {
				img.SetRGBA(x, y, color.RGBA{uint8(x * 255 / w), uint8(y * 255 / h), uint8(128 + 127*math.Sin(float64(x+2*y)/3)), 255})
			}
		}
		return img
	}
	img := pattern(24, 24)
	sub := img.SubImage(image.Rect(4, 6, 20, 22)).(*image.RGBA)
	subCopy := image.NewRGBA(image.Rect(0, 0, 16, 16))
	draw.Draw(subCopy, subCopy.Rect, sub, sub.Rect.Min, draw.Src)
	for _, tc := range []struct {
		name string
		got  *image.RGBA
		want func(x, y int) color.RGBA
	}{
		{"quarter turn", Rotate(img, 90, 1), func(x, y int) color.RGBA { return img.RGBAAt(23-y, x) }},
		{"no turn", Rotate(img, 0, 1), img.RGBAAt},
		{"sub-image", Rotate(sub, 30, 1), Rotate(subCopy, 30, 1).RGBAAt},
		{"aspect of an empty picture", Rotate(img, 30, math.NaN()), Rotate(img, 30, 1).RGBAAt},
		{"aspect of zero", Rotate(img, 30, 0), Rotate(img, 30, 1).RGBAAt},
	} {
		b := tc.got.Rect
		if b != image.Rect(0, 0, b.Dx(), b.Dy()) || b.Dx() != tc.got.Rect.Dy() {
			t.Fatalf("%s: bounds %v", tc.name, b)
		}
		for y := range b.Dy() {
			for x := range b.Dx() {
				if got, want := tc.got.RGBAAt(x, y), tc.want(x, y); got != want {
					t.Fatalf("%s: (%d, %d) is %v, want %v", tc.name, x, y, got, want)
				}
			}
		}
	}

	// A 3:1 picture squared to 48: turned squashed with its aspect, it is
	// near the picture turned, then squared; turned as if square, far.
	wide := pattern(288, 96)
	want := Square(Rotate(wide, 10, 3), 48)
	diff := func(a, b *image.RGBA) float64 {
		var sum float64
		for i := range a.Pix {
			sum += math.Abs(float64(a.Pix[i]) - float64(b.Pix[i]))
		}
		return sum / float64(len(a.Pix))
	}
	squashed := Square(wide, 48)
	near, far := diff(Rotate(squashed, 10, 3), want), diff(Rotate(squashed, 10, 1), want)
	if near > 6 || far < 2*near {
		t.Errorf("mean difference from the picture turned then squared: %.2f with its aspect, %.2f as if square; want under 6, and under half", near, far)
	}
}

// TestDownscaled: the square of a small image's shrunk copy is what
// Downscaled makes of the image's square, close to it and far from the
// image's own square (the detail the copy lost); an image large enough
// that its shrunk copy covers the square keeps its square.
func TestDownscaled(t *testing.T) {
	const side = 128
	for _, tc := range []struct {
		w, h    int
		f       float64
		changed bool
	}{{60, 40, 0.4, true}, {90, 200, 0.25, true}, {1000, 800, 0.4, false}, {700, 300, 0.5, false}} {
		img := image.NewRGBA(image.Rect(0, 0, tc.w, tc.h))
		for y := range tc.h {
			for x := range tc.w {
				// Fine stripes and a slow gradient: the stripes blur away.
				v := uint8(40 + 150*x/tc.w + 60*((x/2+y/3)%2))
				img.SetRGBA(x, y, color.RGBA{v, uint8(200 - 150*y/tc.h), v / 2, 255})
			}
		}
		square := Square(img, side)
		got := Downscaled(square, image.Pt(tc.w, tc.h), tc.f)
		if got.Rect != square.Rect {
			t.Fatalf("%+v: %v, want the square's %v", tc, got.Rect, square.Rect)
		}
		small := image.NewRGBA(image.Rect(0, 0, int(math.Round(tc.f*float64(tc.w))), int(math.Round(tc.f*float64(tc.h)))))
		xdraw.BiLinear.Scale(small, small.Rect, img, img.Rect, xdraw.Src, nil)
		copySquare := Square(small, side)
		toCopy, ownToCopy, toOwn := meanDiff(got, copySquare), meanDiff(square, copySquare), meanDiff(got, square)
		if tc.changed && !(toCopy < ownToCopy/3) {
			t.Errorf("%+v: %.2f levels from the copy's square, the image's own square %.2f: want under a third", tc, toCopy, ownToCopy)
		}
		if !tc.changed && !(toOwn < 0.5) {
			t.Errorf("%+v: %.2f levels from the image's own square, want about none", tc, toOwn)
		}
	}
}
