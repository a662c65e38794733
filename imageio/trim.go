package imageio

import (
	"image"
	"slices"

	xdraw "golang.org/x/image/draw"
)

// Trimming frames an image by its content. An icon, a sprite or a drawing
// on a plain background, cropped by a user, keeps its subject and loses
// background around it: squashed whole to the network's square, the copy
// shows the subject larger and elsewhere than its original does; trimmed
// of their plain borders first, the two frame the subject alike. Borders
// are found on luma, so that a greyscale copy is trimmed as its original
// is, with a tolerance that JPEG's ringing and a thumbnail's soft edges
// stay within.
const (
	// trimTolerance is how far, in luma levels of 255, a pixel may lie
	// from the background's luma and still be background.
	trimTolerance = 24
	// trimShare is the share of a row's or column's pixels that may lie
	// outside the tolerance before the line counts as content: a stray
	// pixel of noise does not stop the trim.
	trimShare = 0.02
	// minTrimmed is the fewest pixels a side of the content box may have;
	// a smaller box is noise on a blank image, which is kept whole.
	minTrimmed = 4
)

// ContentBox returns the part of img inside its plain border: the box
// left when the rows and columns at img's edges that lie (all but
// trimShare of their pixels) within trimTolerance luma of the background
// are taken off. The background is the luma of img's corners, when at
// least three of the four agree within the tolerance; otherwise img has
// no plain border and its bounds are returned, as they are for an image
// that is all border. img is taken as opaque: Square composites on white.
func ContentBox(img *image.RGBA) image.Rectangle {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w < minTrimmed || h < minTrimmed {
		return b
	}
	luma := func(x, y int) int {
		p := img.Pix[img.PixOffset(x, y):]
		return (299*int(p[0]) + 587*int(p[1]) + 114*int(p[2]) + 500) / 1000
	}
	corners := []int{luma(b.Min.X, b.Min.Y), luma(b.Max.X-1, b.Min.Y), luma(b.Min.X, b.Max.Y-1), luma(b.Max.X-1, b.Max.Y-1)}
	sorted := slices.Sorted(slices.Values(corners))
	background := (sorted[1] + sorted[2]) / 2
	agree := 0
	for _, c := range corners {
		if abs(c-background) <= trimTolerance {
			agree++
		}
	}
	if agree < 3 {
		return b
	}
	rows, cols := make([]int, h), make([]int, w)
	for y := range h {
		for x := range w {
			if abs(luma(b.Min.X+x, b.Min.Y+y)-background) > trimTolerance {
				rows[y]++
				cols[x]++
			}
		}
	}
	y0, y1, ok := contentSpan(rows, w)
	if !ok {
		return b
	}
	x0, x1, ok := contentSpan(cols, h)
	if !ok {
		return b
	}
	return image.Rect(b.Min.X+x0, b.Min.Y+y0, b.Min.X+x1, b.Min.Y+y1)
}

// contentSpan returns the first and one past the last of lines (each a
// count of off-background pixels out of length) that hold content, and
// whether they span at least minTrimmed lines.
func contentSpan(lines []int, length int) (lo, hi int, ok bool) {
	content := func(n int) bool { return float64(n) > trimShare*float64(length) }
	lo = slices.IndexFunc(lines, content)
	if lo < 0 {
		return 0, 0, false
	}
	hi = len(lines)
	for !content(lines[hi-1]) {
		hi--
	}
	return lo, hi, hi-lo >= minTrimmed
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

// TrimSquare returns img's content (ContentBox) resized to size x size
// with a Catmull-Rom filter, squashing its aspect ratio as Square does.
// The border is found at img's resolution: squared to twice size first, a
// box is off by under a pixel of the result.
func TrimSquare(img *image.RGBA, size int) *image.RGBA {
	box := ContentBox(img)
	if box == img.Bounds() && box.Dx() == size && box.Dy() == size {
		return img
	}
	dst := image.NewRGBA(image.Rect(0, 0, size, size))
	xdraw.CatmullRom.Scale(dst, dst.Bounds(), img, box, xdraw.Src, nil)
	return dst
}
