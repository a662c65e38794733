package imageio

import (
	"math"
	"testing"
)

func TestLuma(t *testing.T) {
	cases := []struct {
		name    string
		r, g, b uint8
		want    float64
	}{
		{"black", 0, 0, 0, 0},
		{"white", 255, 255, 255, 255},
		{"red", 255, 0, 0, 76.245},
		{"green", 0, 255, 0, 149.685},
		{"blue", 0, 0, 255, 29.07},
		{"grey", 128, 128, 128, 128},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Luma[float64](tc.r, tc.g, tc.b); math.Abs(got-tc.want) > 1e-9 {
				t.Errorf("float64: %v, want %v", got, tc.want)
			}
			if got := Luma[float32](tc.r, tc.g, tc.b); math.Abs(float64(got)-tc.want) > 1e-4 {
				t.Errorf("float32: %v, want %v", got, tc.want)
			}
		})
	}
}

// TestLumaSameArithmetic checks Luma bit for bit against the expressions
// its callers wrote out before it (rerank in float32, the perceptual hash
// and colour jitter in float64), over a grid of colours: their results,
// and so the re-ranker's order and the baselines' tables, must not move.
func TestLumaSameArithmetic(t *testing.T) {
	for r := 0; r < 256; r += 3 {
		for g := 0; g < 256; g += 5 {
			for b := 0; b < 256; b += 7 {
				r8, g8, b8 := uint8(r), uint8(g), uint8(b)
				if got, want := Luma[float32](r8, g8, b8)/255, (0.299*float32(r8)+0.587*float32(g8)+0.114*float32(b8))/255; got != want {
					t.Fatalf("float32 (%d,%d,%d): %v, the re-ranker's %v", r, g, b, got, want)
				}
				if got, want := Luma[float64](r8, g8, b8), 0.299*float64(r8)+0.587*float64(g8)+0.114*float64(b8); got != want {
					t.Fatalf("float64 (%d,%d,%d): %v, the hash's %v", r, g, b, got, want)
				}
			}
		}
	}
}
