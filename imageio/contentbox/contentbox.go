// Package contentbox finds an image's content inside its plain border. It
// is a leaf, so that package model (whose trimmed view uses it) and package
// imageio (whose TrimSquare does) share it without importing each other.
package contentbox

import (
	"image"
	"slices"
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

// Find returns the part of img inside its plain border: the box
// left when the rows and columns at img's edges that lie (all but
// trimShare of their pixels) within trimTolerance luma of the background
// are taken off. The background is the colour of img's corners, when at
// least three of the four agree, in every channel, within the tolerance
// (a subject may run into one corner); otherwise img has no plain border
// and its bounds are returned, as they are for an image that is all
// border. Corners must agree in colour, not only in luma, so that a
// photo's sky and ground, alike in brightness, are not taken for one
// background. img is taken as opaque: imageio.Square composites on white.
func Find(img *image.RGBA) image.Rectangle {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w < minTrimmed || h < minTrimmed {
		return b
	}
	at := func(x, y int) []uint8 { return img.Pix[img.PixOffset(x, y):][:3] }
	corners := [4][]uint8{at(b.Min.X, b.Min.Y), at(b.Max.X-1, b.Min.Y), at(b.Min.X, b.Max.Y-1), at(b.Max.X-1, b.Max.Y-1)}
	var background [3]int // each channel's median over the corners
	for c := range 3 {
		v := []int{int(corners[0][c]), int(corners[1][c]), int(corners[2][c]), int(corners[3][c])}
		slices.Sort(v)
		background[c] = (v[1] + v[2]) / 2
	}
	agree := 0
	for _, k := range corners {
		if abs(int(k[0])-background[0]) <= trimTolerance && abs(int(k[1])-background[1]) <= trimTolerance && abs(int(k[2])-background[2]) <= trimTolerance {
			agree++
		}
	}
	if agree < 3 {
		return b
	}
	bgLuma := Luma(background[0], background[1], background[2])
	// The counts of a side up to stackSide live on the stack: model's
	// trimmed view finds the box of every image it embeds, and its
	// forward pass allocates nothing per image.
	var rowsBuf, colsBuf [stackSide]int
	rows, cols := lineCounts(rowsBuf[:], h), lineCounts(colsBuf[:], w)
	for y := range h {
		row := img.Pix[img.PixOffset(b.Min.X, b.Min.Y+y):]
		for x := range w {
			p := row[4*x:]
			if abs(Luma(int(p[0]), int(p[1]), int(p[2]))-bgLuma) > trimTolerance {
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

// stackSide is the longest side whose line counts Find keeps on the stack.
const stackSide = 512

// lineCounts returns n zeroed counts, in buf when it is long enough.
func lineCounts(buf []int, n int) []int {
	if n <= len(buf) {
		return buf[:n]
	}
	return make([]int, n)
}

// Luma is the ITU-R BT.601 luma of 8-bit R, G, B, rounded. imageio.Grey
// makes greyscale copies with it, so that a copy and its original have one
// border.
func Luma(r, g, b int) int {
	return (299*r + 587*g + 114*b + 500) / 1000
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
