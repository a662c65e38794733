package contentbox

import (
	"image"
	"image/color"
	"image/draw"
	"testing"
)

// canvas returns a w x h image filled with bg, with a rectangle of fg at
// subject.
func canvas(w, h int, bg, fg color.RGBA, subject image.Rectangle) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Rect, image.NewUniform(bg), image.Point{}, draw.Src)
	draw.Draw(img, subject, image.NewUniform(fg), image.Point{}, draw.Src)
	return img
}

var (
	white = color.RGBA{255, 255, 255, 255}
	red   = color.RGBA{200, 30, 30, 255}
	navy  = color.RGBA{20, 20, 90, 255}
)

func TestFind(t *testing.T) {
	subject := image.Rect(10, 12, 30, 40)
	noisy := canvas(64, 64, white, red, subject)
	// JPEG-like ringing on the border, within the tolerance, and one
	// stray dark pixel in the top row (under trimShare of it).
	for x := range 64 {
		noisy.SetRGBA(x, 2, color.RGBA{240, 236, 244, 255})
	}
	noisy.SetRGBA(50, 0, color.RGBA{0, 0, 0, 255})

	gradient := image.NewRGBA(image.Rect(0, 0, 32, 32))
	for y := range 32 {
		for x := range 32 {
			gradient.SetRGBA(x, y, color.RGBA{uint8(8 * x), uint8(8 * y), 100, 255})
		}
	}
	// Three corners on white, the fourth covered by the subject: still a
	// plain border.
	corner := canvas(40, 40, white, red, image.Rect(20, 20, 40, 40))
	// A photo's sky over its ground, the two of one luma (144 and 143)
	// but not of one colour, with a darker subject in the sky: no plain
	// border.
	photo := canvas(48, 48, color.RGBA{100, 150, 230, 255}, color.RGBA{200, 130, 60, 255}, image.Rect(0, 24, 48, 48))
	draw.Draw(photo, image.Rect(10, 4, 20, 14), image.NewUniform(navy), image.Point{}, draw.Src)
	// A sub-image whose bounds do not start at the origin.
	sub := canvas(80, 80, white, red, image.Rect(30, 35, 50, 60)).SubImage(image.Rect(20, 20, 70, 70)).(*image.RGBA)

	for _, tc := range []struct {
		name string
		img  *image.RGBA
		want image.Rectangle
	}{
		{"subject on white", canvas(64, 64, white, red, subject), subject},
		{"subject on a dark background", canvas(64, 64, navy, white, subject), subject},
		{"noise within the tolerance", noisy, subject},
		{"no plain border", gradient, gradient.Rect},
		{"sky and ground of one luma", photo, photo.Rect},
		{"three corners agree", corner, image.Rect(20, 20, 40, 40)},
		{"all background", canvas(32, 32, white, white, image.Rectangle{}), image.Rect(0, 0, 32, 32)},
		{"subject under minTrimmed", canvas(32, 32, white, red, image.Rect(5, 5, 8, 20)), image.Rect(0, 0, 32, 32)},
		{"no border at all", canvas(16, 16, red, red, image.Rectangle{}), image.Rect(0, 0, 16, 16)},
		{"smaller than minTrimmed", canvas(3, 3, white, red, image.Rect(1, 1, 2, 2)), image.Rect(0, 0, 3, 3)},
		{"sub-image", sub, image.Rect(30, 35, 50, 60)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Find(tc.img); got != tc.want {
				t.Errorf("Find = %v, want %v", got, tc.want)
			}
		})
	}
}

// FuzzFind: the box of any image's pixels lies within its bounds
// and is either the bounds or at least minTrimmed a side.
func FuzzFind(f *testing.F) {
	f.Add(uint8(8), uint8(8), []byte{255, 255, 255, 255, 0, 0, 0, 255})
	f.Add(uint8(5), uint8(9), []byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, w, h uint8, pix []byte) {
		img := image.NewRGBA(image.Rect(0, 0, int(w%48)+1, int(h%48)+1))
		for i := range img.Pix {
			img.Pix[i] = 255
			if len(pix) > 0 {
				img.Pix[i] = pix[i%len(pix)]
			}
		}
		box := Find(img)
		if !box.In(img.Rect) {
			t.Fatalf("box %v outside %v", box, img.Rect)
		}
		if box != img.Rect && (box.Dx() < minTrimmed || box.Dy() < minTrimmed) {
			t.Fatalf("box %v under %d pixels a side", box, minTrimmed)
		}
	})
}
