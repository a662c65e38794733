package imageio

import (
	"bytes"
	"image"
	"image/draw"
	"image/jpeg"
	"math"
	"math/rand/v2"

	"github.com/deeprank/deeprank/imageio/contentbox"
	xdraw "golang.org/x/image/draw"
)

// Augment describes random changes applied to training images. The zero
// value changes nothing. Geometric changes map each output pixel back into the
// source and sample it bilinearly; points outside take the nearest edge pixel
// (Keras fill_mode 'nearest').
type Augment struct {
	// HorizontalFlip and VerticalFlip mirror the image with probability 1/2.
	HorizontalFlip bool `json:"horizontal_flip"`
	VerticalFlip   bool `json:"vertical_flip"`
	// Rotation is the largest rotation, in degrees, either way.
	Rotation float64 `json:"rotation"`
	// Shear is the largest shear angle, in degrees, either way (Keras
	// shear_range).
	Shear float64 `json:"shear"`
	// Zoom draws each axis's zoom factor from [1-Zoom, 1+Zoom].
	Zoom float64 `json:"zoom"`
	// Crop keeps a random square of side between (1-Crop) and 1 of the
	// image, scaled back up to full size. 0 disables it.
	Crop float64 `json:"crop"`
	// CropAspect lets a crop change the picture's aspect, as a user's crop
	// of half a screenshot does: its width over its height is multiplied
	// by a factor drawn log-uniformly from [1/CropAspect, CropAspect], at
	// the area a square crop of the drawn side keeps. A side that would
	// pass the whole is cut to it, which lessens both the change and the
	// area kept. 0 or 1 keeps crops square and draws nothing more, so
	// configurations without it see the same random stream as before it
	// existed. It needs Crop.
	CropAspect float64 `json:"crop_aspect"`
	// ColorJitter scales brightness, contrast and saturation by random
	// factors in [1-ColorJitter, 1+ColorJitter].
	ColorJitter float64 `json:"color_jitter"`
	// BrightnessShift adds one random offset in [-BrightnessShift,
	// BrightnessShift] of full scale to every channel, as a photo editor's
	// brightness slider does: black lifts, and light areas clip to white
	// (ColorJitter's factors keep black black). 0 disables it.
	BrightnessShift float64 `json:"brightness_shift"`
	// Downscale shrinks the image to a random side in [1-Downscale, 1] of
	// its size and scales it back up, losing detail as a thumbnail does.
	Downscale float64 `json:"downscale"`
	// JPEGProbability is the chance of re-encoding the image as JPEG at a
	// random quality in [JPEGMinQuality, 95].
	JPEGProbability float64 `json:"jpeg_probability"`
	JPEGMinQuality  int     `json:"jpeg_min_quality"`
	// Grayscale is the chance of turning the image grey (ITU-R BT.601
	// luma), as a copy printed or filtered in black and white.
	Grayscale float64 `json:"grayscale"`
	// Skip leaves out each enabled change (crop, rotation, shear, zoom,
	// downscale, colour jitter, brightness shift) with this probability,
	// independently, so that views range from single changes to
	// combinations rather than always combining them all. 0 applies every
	// enabled change.
	Skip float64 `json:"skip"`
}

// Apply returns an augmented copy of img, drawing every choice from rng.
// img is not changed.
func (a Augment) Apply(img *image.RGBA, rng *rand.Rand) *image.RGBA {
	out := a.geometric(img, rng)
	if a.Downscale > 0 && a.keep(rng) {
		out = downscale(out, uniform(rng, 1-a.Downscale, 1))
	}
	if a.JPEGProbability > 0 && rng.Float64() < a.JPEGProbability {
		q := a.JPEGMinQuality + rng.IntN(max(96-a.JPEGMinQuality, 1))
		out = jpegRoundTrip(out, q)
	}
	if a.ColorJitter > 0 && a.keep(rng) {
		jitter(out, a.ColorJitter, rng)
	}
	if a.BrightnessShift > 0 && a.keep(rng) {
		shiftBrightness(out, 255*uniform(rng, -a.BrightnessShift, a.BrightnessShift))
	}
	if a.Grayscale > 0 && rng.Float64() < a.Grayscale {
		Grey(out)
	}
	return out
}

// keep draws whether an enabled change is applied (see Skip). Without Skip
// it draws nothing, so configurations without it see the same random
// stream as before it existed.
func (a Augment) keep(rng *rand.Rand) bool {
	return a.Skip == 0 || rng.Float64() >= a.Skip
}

// Luma is the ITU-R BT.601 luma of 8-bit R, G, B, in [0, 255], unrounded,
// computed in T's precision (Grey rounds it, through contentbox.Luma).
func Luma[T float32 | float64](r, g, b uint8) T {
	return 0.299*T(r) + 0.587*T(g) + 0.114*T(b)
}

// Grey replaces each pixel's colour by its ITU-R BT.601 luma, in place.
func Grey(img *image.RGBA) {
	for i := 0; i < len(img.Pix); i += 4 {
		y := uint8(contentbox.Luma(int(img.Pix[i]), int(img.Pix[i+1]), int(img.Pix[i+2])))
		img.Pix[i], img.Pix[i+1], img.Pix[i+2] = y, y, y
	}
}

func uniform(rng *rand.Rand, lo, hi float64) float64 { return lo + (hi-lo)*rng.Float64() }

// geometric applies flips, rotation, shear, zoom and crop as one affine map.
func (a Augment) geometric(img *image.RGBA, rng *rand.Rand) *image.RGBA {
	// The map from output to source coordinates, both centred:
	// src = M * dst.
	m := [4]float64{1, 0, 0, 1}
	mul := func(n [4]float64) { // m = m * n
		m = [4]float64{m[0]*n[0] + m[1]*n[2], m[0]*n[1] + m[1]*n[3], m[2]*n[0] + m[3]*n[2], m[2]*n[1] + m[3]*n[3]}
	}
	var tx, ty float64
	w, h := float64(img.Rect.Dx()), float64(img.Rect.Dy())
	changed := false
	if a.Crop > 0 && a.keep(rng) {
		s := uniform(rng, 1-a.Crop, 1)
		sx, sy := s, s
		if a.CropAspect > 1 {
			r := math.Sqrt(math.Pow(a.CropAspect, uniform(rng, -1, 1)))
			sx, sy = min(s*r, 1), min(s/r, 1)
		}
		mul([4]float64{sx, 0, 0, sy})
		// Keep the crop inside the image.
		tx = uniform(rng, -1, 1) * (1 - sx) * w / 2
		ty = uniform(rng, -1, 1) * (1 - sy) * h / 2
		changed = true
	}
	if a.Rotation > 0 && a.keep(rng) {
		t := uniform(rng, -a.Rotation, a.Rotation) * math.Pi / 180
		mul([4]float64{math.Cos(t), -math.Sin(t), math.Sin(t), math.Cos(t)})
		changed = true
	}
	if a.Shear > 0 && a.keep(rng) {
		s := uniform(rng, -a.Shear, a.Shear) * math.Pi / 180
		mul([4]float64{1, -math.Sin(s), 0, math.Cos(s)})
		changed = true
	}
	if a.Zoom > 0 && a.keep(rng) {
		mul([4]float64{uniform(rng, 1-a.Zoom, 1+a.Zoom), 0, 0, uniform(rng, 1-a.Zoom, 1+a.Zoom)})
		changed = true
	}
	if a.HorizontalFlip && rng.IntN(2) == 1 {
		mul([4]float64{-1, 0, 0, 1})
		changed = true
	}
	if a.VerticalFlip && rng.IntN(2) == 1 {
		mul([4]float64{1, 0, 0, -1})
		changed = true
	}
	if !changed {
		out := image.NewRGBA(image.Rect(0, 0, img.Rect.Dx(), img.Rect.Dy()))
		copy(out.Pix, img.Pix)
		return out
	}
	return affine(img, m, tx, ty)
}

// affine returns an image of img's size whose every pixel samples img
// (bilinear, clamped to the edge) where m, then a shift by (tx, ty), maps
// it, both measured from the centre: src = m * dst + t.
func affine(img *image.RGBA, m [4]float64, tx, ty float64) *image.RGBA {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	cx, cy := float64(w-1)/2, float64(h-1)/2
	for y := range h {
		dy := float64(y) - cy
		for x := range w {
			dx := float64(x) - cx
			sx := m[0]*dx + m[1]*dy + cx + tx
			sy := m[2]*dx + m[3]*dy + cy + ty
			bilinear(img, sx, sy, out.Pix[y*out.Stride+4*x:y*out.Stride+4*x+4])
		}
	}
	return out
}

// Rotate returns img turned deg degrees about its centre, anticlockwise as
// seen for a positive deg, its size kept and points from outside taken
// from the nearest edge pixel, as Augment's rotation fills them. img may
// show a picture squashed (Square): aspect is that picture's width over
// its height, and the turn is the picture's, squashed alike, so that it
// matches a copy turned before it was squared. An aspect that is not a
// positive number (of an empty picture) is taken as img's own.
func Rotate(img *image.RGBA, deg, aspect float64) *image.RGBA {
	t := deg * math.Pi / 180
	cos, sin := math.Cos(t), math.Sin(t)
	// In the picture's own proportions src = R(t) * dst; img's axes scale
	// them by the side over the width and over the height.
	imgAspect := float64(img.Rect.Dx()) / float64(img.Rect.Dy())
	a := aspect / imgAspect
	if !(a > 0 && a < math.Inf(1)) {
		a = 1
	}
	return affine(img, [4]float64{cos, -sin / a, sin * a, cos}, 0, 0)
}

// bilinear samples img at (x, y), clamping to the edge, into px (RGBA).
func bilinear(img *image.RGBA, x, y float64, px []byte) {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	x = min(max(x, 0), float64(w-1))
	y = min(max(y, 0), float64(h-1))
	x0, y0 := int(x), int(y)
	x1, y1 := min(x0+1, w-1), min(y0+1, h-1)
	fx, fy := x-float64(x0), y-float64(y0)
	at := func(xx, yy, c int) float64 { return float64(img.Pix[yy*img.Stride+4*xx+c]) }
	for c := range 4 {
		top := at(x0, y0, c)*(1-fx) + at(x1, y0, c)*fx
		bot := at(x0, y1, c)*(1-fx) + at(x1, y1, c)*fx
		px[c] = uint8(math.Round(top*(1-fy) + bot*fy))
	}
}

// Downscaled returns square, an image of full's size squared, as the
// square of that image shrunk to f of its width and height would be: square
// shrunk to f of full's size (no larger than square) and scaled back up
// with Square's filter. A copy shrunk below the square's side loses the
// detail it would have lost; one that stays larger loses nothing.
func Downscaled(square *image.RGBA, full image.Point, f float64) *image.RGBA {
	b := square.Rect
	w := min(b.Dx(), max(1, int(math.Round(f*float64(full.X)))))
	h := min(b.Dy(), max(1, int(math.Round(f*float64(full.Y)))))
	return throughSize(square, w, h, xdraw.CatmullRom)
}

// downscale scales img by s and back to its size.
func downscale(img *image.RGBA, s float64) *image.RGBA {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	return throughSize(img, max(1, int(float64(w)*s)), max(1, int(float64(h)*s)), xdraw.ApproxBiLinear)
}

// throughSize scales img to w x h with k and back to its own size: the
// picture a copy of that size keeps.
func throughSize(img *image.RGBA, w, h int, k xdraw.Interpolator) *image.RGBA {
	small := image.NewRGBA(image.Rect(0, 0, w, h))
	k.Scale(small, small.Rect, img, img.Rect, xdraw.Src, nil)
	out := image.NewRGBA(image.Rect(0, 0, img.Rect.Dx(), img.Rect.Dy()))
	k.Scale(out, out.Rect, small, small.Rect, xdraw.Src, nil)
	return out
}

func jpegRoundTrip(img *image.RGBA, quality int) *image.RGBA {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: quality}); err != nil {
		return img // encoding into memory does not fail for an RGBA image
	}
	dec, err := jpeg.Decode(&buf)
	if err != nil {
		return img
	}
	out := image.NewRGBA(image.Rect(0, 0, img.Rect.Dx(), img.Rect.Dy()))
	draw.Draw(out, out.Bounds(), dec, dec.Bounds().Min, draw.Src)
	return out
}

// toByte rounds v to the nearest 8-bit value, clipped to 0..255.
func toByte(v float64) uint8 { return uint8(math.Round(min(max(v, 0), 255))) }

// shiftBrightness adds by to every channel of img in place, clipped to
// 0..255.
func shiftBrightness(img *image.RGBA, by float64) {
	for i := 0; i < len(img.Pix); i += 4 {
		for c := range 3 {
			img.Pix[i+c] = toByte(float64(img.Pix[i+c]) + by)
		}
	}
}

// jitter changes brightness, contrast and saturation in place.
func jitter(img *image.RGBA, strength float64, rng *rand.Rand) {
	bright := uniform(rng, 1-strength, 1+strength)
	contrast := uniform(rng, 1-strength, 1+strength)
	sat := uniform(rng, 1-strength, 1+strength)
	var mean float64
	n := img.Rect.Dx() * img.Rect.Dy()
	for i := 0; i < len(img.Pix); i += 4 {
		mean += Luma[float64](img.Pix[i], img.Pix[i+1], img.Pix[i+2])
	}
	mean /= float64(n)
	for i := 0; i < len(img.Pix); i += 4 {
		r, g, b := float64(img.Pix[i]), float64(img.Pix[i+1]), float64(img.Pix[i+2])
		grey := Luma[float64](img.Pix[i], img.Pix[i+1], img.Pix[i+2])
		for c, v := range [3]float64{r, g, b} {
			v = grey + (v-grey)*sat
			v = mean + (v-mean)*contrast
			img.Pix[i+c] = toByte(v * bright)
		}
	}
}
