package model

import (
	"image"
	"image/color"
	"testing"
)

func TestToTensor(t *testing.T) {
	// A 2x1 image: pixel 0 is (0, 100, 255), pixel 1 is (255, 51, 0).
	img := image.NewRGBA(image.Rect(0, 0, 2, 1))
	img.SetRGBA(0, 0, color.RGBA{0, 100, 255, 255})
	img.SetRGBA(1, 0, color.RGBA{255, 51, 0, 255})
	cases := []struct {
		name string
		norm Normalization
		want []float32 // R plane, G plane, B plane
	}{
		{"unit", UnitNormalization(), []float32{0, 1, 100.0 / 255, 0.2, 1, 0}},
		{"centred", Normalization{Mean: [3]float32{0.5, 0.5, 0.5}, Std: [3]float32{0.5, 0.5, 0.5}},
			[]float32{-1, 1, (100.0/255 - 0.5) / 0.5, (0.2 - 0.5) / 0.5, 1, -1}},
		{"per channel", Normalization{Mean: [3]float32{0, 0.2, 1}, Std: [3]float32{1, 0.1, 2}},
			[]float32{0, 1, (100.0/255 - 0.2) / 0.1, 0, 0, -0.5}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			x := make([]float32, 6)
			ToTensor(img, tc.norm, x)
			for i, v := range x {
				if d := v - tc.want[i]; d > 1e-5 || d < -1e-5 {
					t.Errorf("value %d = %g, want %g", i, v, tc.want[i])
				}
			}
		})
	}
}
