package eval

import (
	"image"
	"math"
	"slices"

	xdraw "golang.org/x/image/draw"

	"github.com/deeprank/deeprank/imageio"
)

// Baseline is a fixed image descriptor that needs no training.
type Baseline struct {
	Name string
	// Describe maps an image to a vector compared by squared Euclidean
	// distance.
	Describe func(img *image.RGBA) []float32
}

// Baselines returns the descriptors every model is compared with, a new
// slice each time.
func Baselines() []Baseline {
	return []Baseline{
		{"raw-pixels-16", rawPixels},
		{"color-histogram", colorHistogram},
		{"phash", perceptualHash},
	}
}

// rawPixels is the image downscaled to 16x16 RGB, values in [0,1],
// centred and scaled to unit length.
func rawPixels(img *image.RGBA) []float32 {
	small := image.NewRGBA(image.Rect(0, 0, 16, 16))
	xdraw.ApproxBiLinear.Scale(small, small.Bounds(), img, img.Bounds(), xdraw.Src, nil)
	v := make([]float32, 0, 16*16*3)
	for i := 0; i < len(small.Pix); i += 4 {
		v = append(v, float32(small.Pix[i])/255, float32(small.Pix[i+1])/255, float32(small.Pix[i+2])/255)
	}
	var mean float32
	for _, x := range v {
		mean += x
	}
	mean /= float32(len(v))
	for i := range v {
		v[i] -= mean
	}
	return unit(v)
}

// colorHistogram is a joint RGB histogram of 8x8x8 bins, square-rooted
// (Hellinger) and normalised, so Euclidean distance compares distributions.
func colorHistogram(img *image.RGBA) []float32 {
	h := make([]float32, 512)
	for i := 0; i < len(img.Pix); i += 4 {
		r, g, b := img.Pix[i]>>5, img.Pix[i+1]>>5, img.Pix[i+2]>>5
		h[int(r)<<6|int(g)<<3|int(b)]++
	}
	for i := range h {
		h[i] = float32(math.Sqrt(float64(h[i])))
	}
	return unit(h)
}

// perceptualHash is the DCT pHash: 32x32 grey, 2-D DCT, the 8x8 lowest
// frequencies but DC thresholded at their median. The 64 bits come as 0/1
// values, so the squared distance is the Hamming distance.
func perceptualHash(img *image.RGBA) []float32 {
	const n = 32
	small := image.NewRGBA(image.Rect(0, 0, n, n))
	xdraw.ApproxBiLinear.Scale(small, small.Bounds(), img, img.Bounds(), xdraw.Src, nil)
	var grey [n][n]float64
	for y := range n {
		for x := range n {
			p := small.Pix[y*small.Stride+4*x:]
			grey[y][x] = imageio.Luma[float64](p[0], p[1], p[2])
		}
	}
	var coef [64]float64
	for u := range 8 {
		for v := range 8 {
			var s float64
			for y := range n {
				cy := math.Cos(float64(2*y+1) * float64(u) * math.Pi / (2 * n))
				for x := range n {
					s += grey[y][x] * cy * math.Cos(float64(2*x+1)*float64(v)*math.Pi/(2*n))
				}
			}
			coef[u*8+v] = s
		}
	}
	ac := slices.Clone(coef[1:])
	slices.Sort(ac)
	median := (ac[31] + ac[32]) / 2
	bits := make([]float32, 64)
	for i := 1; i < 64; i++ {
		if coef[i] > median {
			bits[i] = 1
		}
	}
	return bits
}

func unit(v []float32) []float32 {
	var ss float64
	for _, x := range v {
		ss += float64(x) * float64(x)
	}
	if ss == 0 {
		return v
	}
	inv := float32(1 / math.Sqrt(ss))
	for i := range v {
		v[i] *= inv
	}
	return v
}
