package imageio

import (
	"image"

	"github.com/deeprank/deeprank/imageio/contentbox"
	xdraw "golang.org/x/image/draw"
)

// TrimSquare returns img's content (contentbox.Find) resized to size x size
// with a Catmull-Rom filter, squashing its aspect ratio as Square does.
// The border is found at img's resolution: squared to twice size first, a
// box is off by under a pixel of the result.
func TrimSquare(img *image.RGBA, size int) *image.RGBA {
	box := contentbox.Find(img)
	if box == img.Bounds() && box.Dx() == size && box.Dy() == size {
		return img
	}
	dst := image.NewRGBA(image.Rect(0, 0, size, size))
	xdraw.CatmullRom.Scale(dst, dst.Bounds(), img, box, xdraw.Src, nil)
	return dst
}
