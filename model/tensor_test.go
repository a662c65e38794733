package model

import (
	"image"
	"image/color"
	"math"
	"strings"
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
		// The six values' mean is 661/1530 and their deviation 0.42306:
		// gain 0.25/0.42658, offset 0.5 - gain*661/1530.
		{"standardized", Normalization{Std: [3]float32{1, 1, 1}, Standardize: Standardization{Mean: 0.5, Std: 0.25}},
			standardized([]float32{0, 1, 100.0 / 255, 0.2, 1, 0}, 0.25/0.4230657, 0.5-0.25/0.4230657*661/1530)},
		{"standardized, then per channel", Normalization{Mean: [3]float32{0, 0.2, 1}, Std: [3]float32{1, 0.1, 2},
			Standardize: Standardization{Mean: 0.5, Std: 0.25}},
			func() []float32 {
				v := standardized([]float32{0, 1, 100.0 / 255, 0.2, 1, 0}, 0.25/0.4230657, 0.5-0.25/0.4230657*661/1530)
				for i, c := range []int{0, 0, 1, 1, 2, 2} {
					v[i] = (v[i] - []float32{0, 0.2, 1}[c]) / []float32{1, 0.1, 2}[c]
				}
				return v
			}()},
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

// standardized is values v in [0,1] times gain plus offset.
func standardized(v []float32, gain, offset float32) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = gain*x + offset
	}
	return out
}

// TestStandardize checks that a standardized tensor does not move when
// the image is made brighter or more contrasted (values unclipped), and
// that the gain stops at MaxStandardizeGain for a nearly flat image.
func TestStandardize(t *testing.T) {
	norm := Normalization{Std: [3]float32{1, 1, 1}, Standardize: Standardization{Mean: 0.5, Std: 0.25}}
	// An 8x8 image of three gradients, each channel's value passed
	// through f (the identity for the original).
	image8 := func(f func(v float64) float64) *image.RGBA {
		img := image.NewRGBA(image.Rect(0, 0, 8, 8))
		for i := range 64 {
			v := 60 + 2*float64(i)
			c := func(v float64) uint8 { return uint8(math.Round(f(v))) }
			img.SetRGBA(i%8, i/8, color.RGBA{c(v), c(v/2 + 40), c(255 - v), 255})
		}
		return img
	}
	base := func(v float64) float64 { return v }
	tensor := func(img *image.RGBA, n Normalization) []float32 {
		x := make([]float32, 3*64)
		ToTensor(img, n, x)
		return x
	}
	want := tensor(image8(base), norm)
	cases := []struct {
		name  string
		level func(v float64) float64
	}{
		{"contrast x1.3 about the middle", func(v float64) float64 { return 127.5 + 1.3*(v-127.5) }},
		{"contrast x0.5, brightness +25", func(v float64) float64 { return 127.5 + 0.5*(v-127.5) + 25 }},
		{"brightness -30", func(v float64) float64 { return v - 30 }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := tensor(image8(tc.level), norm)
			var worst float64
			for i := range got {
				worst = max(worst, math.Abs(float64(got[i]-want[i])))
			}
			// Each value is rounded to 8 bits: up to half a level, times
			// the gain of about 0.25/0.3.
			if worst > 0.01 {
				t.Errorf("standardized tensor moved by up to %.4f; want the same as the original's", worst)
			}
			plain := tensor(image8(tc.level), UnitNormalization())
			var moved float64
			for i := range plain {
				moved = max(moved, math.Abs(float64(plain[i]-tensor(image8(base), UnitNormalization())[i])))
			}
			if moved < 0.05 {
				t.Fatalf("the copy moved the plain tensor by only %.4f: not a test of standardizing", moved)
			}
		})
	}
	t.Run("gain cap", func(t *testing.T) {
		// Grey values 127 and 129: a deviation of 1/255, which the gain
		// cap stretches to 4/255, not to the target's 0.25.
		img := image.NewRGBA(image.Rect(0, 0, 8, 8))
		for i := range 64 {
			v := uint8(127 + 2*((i%8+i/8)%2))
			img.SetRGBA(i%8, i/8, color.RGBA{v, v, v, 255})
		}
		x := tensor(img, norm)
		var sum, sq float64
		for _, v := range x {
			sum += float64(v)
			sq += float64(v) * float64(v)
		}
		mean := sum / float64(len(x))
		got := math.Sqrt(sq/float64(len(x)) - mean*mean)
		if want := MaxStandardizeGain / 255.0; math.Abs(got-want) > 1e-4 || math.Abs(mean-0.5) > 1e-4 {
			t.Errorf("nearly flat image: mean %.4f, deviation %.5f; want 0.5 and %.5f (the gain capped)", mean, got, want)
		}
	})
}

func TestStandardizationValidate(t *testing.T) {
	cases := []struct {
		s    Standardization
		want string // "" if valid
	}{
		{Standardization{}, ""},
		{Standardization{Mean: 0.5, Std: 0.25}, ""},
		{Standardization{Mean: 1, Std: 0.5}, ""},
		{Standardization{Mean: 0.5}, "standardize.std is 0"},
		{Standardization{Mean: -0.1, Std: 0.2}, "standardize.mean is -0.1"},
		{Standardization{Mean: 1.5, Std: 0.2}, "standardize.mean is 1.5"},
		{Standardization{Mean: 0.5, Std: 0.6}, "standardize.std is 0.6"},
		{Standardization{Mean: float32(math.NaN()), Std: 0.2}, "standardize.mean is NaN"},
	}
	for _, tc := range cases {
		err := tc.s.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%+v: %v, want valid", tc.s, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%+v: err = %v, want it to say %q", tc.s, err, tc.want)
		}
	}
}
