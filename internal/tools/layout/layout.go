// Package layout holds what the tools that lay out data sets share.
package layout

import (
	"image"
	"os"
	"path/filepath"
)

// Link places the file src at dst, making dst's folder: a hard link where
// the file system allows one (no copy of the bytes), else a copy.
func Link(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	os.Remove(dst)
	if os.Link(src, dst) == nil {
		return nil
	}
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o644)
}

// Flip returns img mirrored left to right.
func Flip(img *image.RGBA) *image.RGBA {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			copy(out.Pix[y*out.Stride+4*(w-1-x):][:4], img.Pix[y*img.Stride+4*x:][:4])
		}
	}
	return out
}
