package model

import (
	"fmt"
	"image"
)

// ToTensor writes img (size x size) into dst as planar R, G, B planes of
// size*size values, normalised with norm. len(dst) must be 3*size*size.
func ToTensor(img *image.RGBA, norm Normalization, dst []float32) {
	n := img.Rect.Dx() * img.Rect.Dy()
	if len(dst) != 3*n {
		panic(fmt.Sprintf("model: ToTensor: dst has %d values, want %d", len(dst), 3*n))
	}
	var scale, shift [3]float32
	for c := range 3 {
		scale[c] = 1 / (255 * norm.Std[c])
		shift[c] = norm.Mean[c] / norm.Std[c]
	}
	w := img.Rect.Dx()
	for y := range img.Rect.Dy() {
		row := img.Pix[y*img.Stride : y*img.Stride+4*w]
		for x := range w {
			i := y*w + x
			for c := range 3 {
				dst[c*n+i] = float32(row[4*x+c])*scale[c] - shift[c]
			}
		}
	}
}
