package imageio

import (
	"image"
	"image/color"
	"image/draw"
	"testing"

	"github.com/deeprank/deeprank/imageio/contentbox"
)

// paint fills r of img with c.
func paint(img *image.RGBA, r image.Rectangle, c color.Color) {
	draw.Draw(img, r, image.NewUniform(c), image.Point{}, draw.Src)
}

// A greyscale copy is trimmed as its original is: the border is found on
// luma, which Grey keeps (contentbox.Luma).
func TestGreyKeepsTheContentBox(t *testing.T) {
	// Yellow is close to white in luma (226 against 255) but not within
	// the tolerance; a pale yellow is within it in colour and in grey.
	img := image.NewRGBA(image.Rect(0, 0, 64, 64))
	paint(img, img.Rect, color.White)
	paint(img, image.Rect(8, 16, 40, 48), color.RGBA{250, 250, 0, 255})
	paint(img, image.Rect(40, 16, 56, 48), color.RGBA{255, 250, 200, 255})
	want := contentbox.Find(img)
	if want != image.Rect(8, 16, 40, 48) {
		t.Fatalf("contentbox.Find = %v, want the yellow subject (8,16)-(40,48)", want)
	}
	Grey(img)
	if got := contentbox.Find(img); got != want {
		t.Errorf("contentbox.Find of the grey copy = %v, want %v as in colour", got, want)
	}
}

// The property trimming is for: a subject with a margin and the same
// subject with none frame alike once trimmed.
func TestTrimSquareFramesTheSubject(t *testing.T) {
	subject := image.NewRGBA(image.Rect(0, 0, 40, 30))
	for y := range 30 {
		for x := range 40 {
			subject.SetRGBA(x, y, color.RGBA{uint8(6 * x), uint8(8 * y), uint8(3 * (x + y)), 255})
		}
	}
	margin := image.NewRGBA(image.Rect(0, 0, 100, 90))
	paint(margin, margin.Rect, color.White)
	draw.Draw(margin, image.Rect(37, 21, 77, 51), subject, image.Point{}, draw.Src)

	a := TrimSquare(Square(subject, 128), 64)
	b := TrimSquare(Square(margin, 128), 64)
	if a.Rect.Size() != image.Pt(64, 64) || b.Rect.Size() != image.Pt(64, 64) {
		t.Fatalf("sizes %v and %v, want 64x64", a.Rect.Size(), b.Rect.Size())
	}
	// Trimmed, the two differ by resampling at the box's edges alone;
	// squared whole, the margin moves and shrinks the subject.
	trimmed, whole := meanDiff(a, b), meanDiff(a, Square(margin, 64))
	if trimmed > 12 || trimmed > whole/10 {
		t.Errorf("mean difference of the subject trimmed from a margin and alone %.1f of 255 (squared whole: %.1f), want at most 12 and a tenth of whole's", trimmed, whole)
	}
}

func TestTrimSquareKeepsAnInputWithNoBorder(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 16, 16))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	if got := TrimSquare(img, 16); got != img {
		t.Error("TrimSquare copied an image with no border already at the size")
	}
	if got := TrimSquare(img, 8); got.Rect.Size() != image.Pt(8, 8) {
		t.Errorf("TrimSquare to 8: %v", got.Rect.Size())
	}
}
