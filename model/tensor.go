package model

import (
	"fmt"
	"image"
	"math"
)

// ToTensor writes img (size x size) into dst as planar R, G, B planes of
// size*size values, normalised with norm. len(dst) must be 3*size*size.
func ToTensor(img *image.RGBA, norm Normalization, dst []float32) {
	n := img.Rect.Dx() * img.Rect.Dy()
	if len(dst) != 3*n {
		panic(fmt.Sprintf("model: ToTensor: dst has %d values, want %d", len(dst), 3*n))
	}
	// A value v in [0,1] becomes ((gain*v + offset) - Mean[c]) / Std[c].
	gain, offset := float32(1), float32(0)
	if s := norm.Standardize; s.On() {
		mean, std := pixelStats(img)
		gain = s.Std / max(std, s.Std/MaxStandardizeGain)
		offset = s.Mean - gain*mean
	}
	var scale, shift [3]float32
	for c := range 3 {
		scale[c] = gain / (255 * norm.Std[c])
		shift[c] = (norm.Mean[c] - offset) / norm.Std[c]
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

// pixelStats is the mean and standard deviation, in [0,1] units, of img's
// R, G and B values together.
func pixelStats(img *image.RGBA) (mean, std float32) {
	var sum, sq uint64
	w := img.Rect.Dx()
	for y := range img.Rect.Dy() {
		row := img.Pix[y*img.Stride : y*img.Stride+4*w]
		for x := range w {
			for _, v := range row[4*x : 4*x+3] {
				sum += uint64(v)
				sq += uint64(v) * uint64(v)
			}
		}
	}
	count := float64(3 * w * img.Rect.Dy())
	if count == 0 {
		return 0, 0
	}
	m := float64(sum) / count
	variance := max(float64(sq)/count-m*m, 0)
	return float32(m / 255), float32(math.Sqrt(variance) / 255)
}
