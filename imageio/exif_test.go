package imageio

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"testing"

	"github.com/deeprank/deeprank/internal/fixture"
)

// cornerImage is 40x20: red top-left corner, blue top-right, rest grey.
func cornerImage() *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, 40, 20))
	for i := range img.Pix {
		img.Pix[i] = 128
	}
	for y := range 6 {
		for x := range 6 {
			img.SetRGBA(x, y, color.RGBA{255, 0, 0, 255})
			img.SetRGBA(39-x, y, color.RGBA{0, 0, 255, 255})
		}
	}
	return img
}

func TestEXIFOrientation(t *testing.T) {
	var buf bytes.Buffer
	jpeg.Encode(&buf, cornerImage(), &jpeg.Options{Quality: 95})
	red := func(c color.Color) bool { r, g, b, _ := c.RGBA(); return r > 0xc000 && g < 0x4000 && b < 0x4000 }
	blue := func(c color.Color) bool { r, g, b, _ := c.RGBA(); return b > 0xc000 && r < 0x4000 && g < 0x4000 }
	cases := []struct {
		name   string
		o      uint16
		order  binary.ByteOrder
		size   image.Point
		redAt  image.Point
		blueAt image.Point
	}{
		{"upright", 1, binary.BigEndian, image.Pt(40, 20), image.Pt(2, 2), image.Pt(37, 2)},
		{"mirrored", 2, binary.LittleEndian, image.Pt(40, 20), image.Pt(37, 2), image.Pt(2, 2)},
		{"rotated 180", 3, binary.BigEndian, image.Pt(40, 20), image.Pt(37, 17), image.Pt(2, 17)},
		{"rotate 90 clockwise", 6, binary.BigEndian, image.Pt(20, 40), image.Pt(17, 2), image.Pt(17, 37)},
		{"rotate 90 counter-clockwise", 8, binary.LittleEndian, image.Pt(20, 40), image.Pt(2, 37), image.Pt(2, 2)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			img, err := Decode(fixture.WithOrientation(buf.Bytes(), tc.o, tc.order), nil)
			if err != nil {
				t.Fatal(err)
			}
			if img.Bounds().Size() != tc.size {
				t.Fatalf("size %v, want %v", img.Bounds().Size(), tc.size)
			}
			if !red(img.At(tc.redAt.X, tc.redAt.Y)) || !blue(img.At(tc.blueAt.X, tc.blueAt.Y)) {
				t.Errorf("red corner not at %v or blue not at %v", tc.redAt, tc.blueAt)
			}
		})
	}
}

func TestPixelFormats(t *testing.T) {
	cmyk := image.NewCMYK(image.Rect(0, 0, 8, 8))
	for i := 0; i < len(cmyk.Pix); i += 4 {
		cmyk.Pix[i], cmyk.Pix[i+1], cmyk.Pix[i+2], cmyk.Pix[i+3] = 0, 255, 255, 0 // red
	}
	deep := image.NewRGBA64(image.Rect(0, 0, 8, 8))
	for i := 0; i < len(deep.Pix); i += 8 {
		deep.Pix[i], deep.Pix[i+6] = 0xff, 0xff // red, opaque
	}
	var deepPNG bytes.Buffer
	png.Encode(&deepPNG, deep)
	deepDecoded, err := Decode(deepPNG.Bytes(), nil)
	if err != nil {
		t.Fatal(err)
	}
	half := image.NewNRGBA(image.Rect(0, 0, 8, 8)) // red at half opacity
	for i := 0; i < len(half.Pix); i += 4 {
		half.Pix[i], half.Pix[i+3] = 255, 128
	}
	cases := []struct {
		name string
		img  image.Image
		want color.RGBA
	}{
		{"cmyk", cmyk, color.RGBA{255, 0, 0, 255}},
		{"16-bit png", deepDecoded, color.RGBA{255, 0, 0, 255}},
		{"grey", image.NewUniform(color.Gray{Y: 77}), color.RGBA{77, 77, 77, 255}},
		{"half transparent on white", half, color.RGBA{255, 127, 127, 255}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := tc.img
			if u, ok := src.(*image.Uniform); ok { // give the uniform a size
				g := image.NewGray(image.Rect(0, 0, 8, 8))
				for i := range g.Pix {
					g.Pix[i] = u.C.(color.Gray).Y
				}
				src = g
			}
			got := Square(src, 4).RGBAAt(1, 1)
			d := func(a, b uint8) int { return max(int(a)-int(b), int(b)-int(a)) }
			if d(got.R, tc.want.R) > 2 || d(got.G, tc.want.G) > 2 || d(got.B, tc.want.B) > 2 {
				t.Errorf("pixel %v, want %v", got, tc.want)
			}
		})
	}
}

func FuzzJPEGOrientation(f *testing.F) {
	var buf bytes.Buffer
	jpeg.Encode(&buf, cornerImage(), nil)
	f.Add(fixture.WithOrientation(buf.Bytes(), 6, binary.BigEndian))
	f.Add(fixture.WithOrientation(buf.Bytes(), 3, binary.LittleEndian)[:60])
	f.Add([]byte{0xFF, 0xD8, 0xFF, 0xE1, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		if o := jpegOrientation(data); o < 1 || o > 8 {
			t.Fatalf("orientation %d", o)
		}
	})
}
