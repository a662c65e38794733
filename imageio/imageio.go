// Package imageio decodes images from outside safely and turns them into the
// network's input tensors.
//
// Decoding checks the header's declared size before any pixel is decoded, so
// a small file that declares a huge image is refused cheaply. Supported
// formats: JPEG (turned upright by its EXIF orientation; CMYK and grey
// included), PNG (8 and 16 bits, grey, palette, alpha), GIF (first frame),
// WebP, BMP and TIFF. Transparent areas are composited on white.
package imageio

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	_ "image/gif" // register GIF
	_ "image/jpeg"
	_ "image/png"
	"io"
	"os"

	xdraw "golang.org/x/image/draw"

	_ "golang.org/x/image/bmp" // register BMP
	_ "golang.org/x/image/tiff"
	_ "golang.org/x/image/webp"

	"github.com/deeprank/deeprank/model"
)

// DefaultMaxPixels is the largest image, in pixels, decoded by default.
const DefaultMaxPixels = 50_000_000

// ErrTooLarge is returned when an image declares more pixels than allowed.
var ErrTooLarge = errors.New("image too large")

// ErrNotImage is returned for data that is no supported image.
var ErrNotImage = errors.New("not a supported image")

// Options tunes decoding. nil means defaults.
type Options struct {
	// MaxPixels is the largest width*height accepted; 0 means DefaultMaxPixels.
	MaxPixels int64
}

func (o *Options) maxPixels() int64 {
	if o == nil || o.MaxPixels <= 0 {
		return DefaultMaxPixels
	}
	return o.MaxPixels
}

// header reads and checks the header of data: what Decode refuses before
// it decodes a pixel.
func header(data []byte, opts *Options) (image.Config, string, error) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		if errors.Is(err, image.ErrFormat) {
			return cfg, "", ErrNotImage
		}
		return cfg, "", fmt.Errorf("%w: %v", ErrNotImage, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return cfg, "", fmt.Errorf("%w: declares %dx%d pixels", ErrNotImage, cfg.Width, cfg.Height)
	}
	if px := int64(cfg.Width) * int64(cfg.Height); px > opts.maxPixels() {
		return cfg, "", fmt.Errorf("%w: declares %dx%d = %d pixels, the limit is %d", ErrTooLarge, cfg.Width, cfg.Height, px, opts.maxPixels())
	}
	return cfg, format, nil
}

// Decode decodes an image held in data.
func Decode(data []byte, opts *Options) (image.Image, error) {
	if _, _, err := header(data, opts); err != nil {
		return nil, err
	}
	img, format, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotImage, err)
	}
	if format == "jpeg" {
		img = orient(img, jpegOrientation(data))
	}
	return img, nil
}

// Sniff returns ErrNotImage when head, the first bytes of a file, starts
// like none of the supported formats, so that a file can be refused before
// the rest of it is read. A few hundred bytes are enough; Sniff says nothing
// on whether the image decodes.
func Sniff(head []byte) error {
	if _, _, err := image.DecodeConfig(bytes.NewReader(head)); errors.Is(err, image.ErrFormat) {
		return ErrNotImage
	}
	return nil
}

// DecodeMemory estimates, from data's header alone, the most memory in
// bytes that decoding data and then squaring it (Square) hold at once: the
// decoded image at its colour model's bytes per pixel, a progressive JPEG's
// coefficients, an EXIF rotation's copies and Square's RGBA copy. It is an
// upper bound for the formats of the standard library, meant for sharing a
// memory budget among concurrent decodes; an image that passes the pixel
// limit can still need gigabytes (a 16-bit RGB PNG needs 12 bytes a pixel).
// It returns the error Decode would for a header Decode refuses.
func DecodeMemory(data []byte, opts *Options) (int64, error) {
	cfg, format, err := header(data, opts)
	if err != nil {
		return 0, err
	}
	perPixel := bytesPerPixel(cfg.ColorModel) + 4 // Square's RGBA copy
	if format == "jpeg" {
		if jpegProgressive(data) {
			// An int32 per coefficient of each component; a JPEG's
			// bytes per pixel are its components (grey 1, YCbCr 3,
			// CMYK 4), counted unsubsampled.
			perPixel += 4 * bytesPerPixel(cfg.ColorModel)
		}
		if jpegOrientation(data) > 1 {
			perPixel += 4 // orient's second RGBA copy, beside Square's
		}
	}
	return int64(cfg.Width) * int64(cfg.Height) * perPixel, nil
}

// bytesPerPixel is what a decoded image of colour model m holds per pixel,
// at most: YCbCr is counted unsubsampled, and unknown models as 16-bit RGBA.
func bytesPerPixel(m color.Model) int64 {
	if _, ok := m.(color.Palette); ok {
		return 1
	}
	switch m {
	case color.GrayModel, color.AlphaModel:
		return 1
	case color.Gray16Model, color.Alpha16Model:
		return 2
	case color.YCbCrModel:
		return 3
	case color.RGBAModel, color.NRGBAModel, color.CMYKModel, color.NYCbCrAModel:
		return 4
	}
	return 8
}

// DecodeFile reads and decodes the image at path; errors name the path.
func DecodeFile(path string, opts *Options) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, &os.PathError{Op: "read", Path: path, Err: err}
	}
	img, err := Decode(data, opts)
	if err != nil {
		return nil, &os.PathError{Op: "decode", Path: path, Err: err}
	}
	return img, nil
}

// Square resizes img to size x size RGB, squashing the aspect ratio as the
// reference does. Transparent pixels are composited on white. A large image
// is first shrunk by whole factors with a box filter (an exact area
// average, and cheap), then resampled with a Catmull-Rom filter.
func Square(img image.Image, size int) *image.RGBA {
	b := img.Bounds()
	src := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	if !opaque(img) {
		draw.Draw(src, src.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
		draw.Draw(src, src.Bounds(), img, b.Min, draw.Over)
	} else {
		draw.Draw(src, src.Bounds(), img, b.Min, draw.Src)
	}
	if b.Dx() == size && b.Dy() == size {
		return src
	}
	src = boxShrink(src, max(b.Dx()/(2*size), 1), max(b.Dy()/(2*size), 1))
	dst := image.NewRGBA(image.Rect(0, 0, size, size))
	xdraw.CatmullRom.Scale(dst, dst.Bounds(), src, src.Bounds(), xdraw.Src, nil)
	return dst
}

// boxShrink averages blocks of kx x ky pixels; leftover edge pixels that do
// not fill a block are dropped.
func boxShrink(img *image.RGBA, kx, ky int) *image.RGBA {
	if kx == 1 && ky == 1 {
		return img
	}
	w, h := img.Rect.Dx()/kx, img.Rect.Dy()/ky
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	sums := make([]uint32, 4*w)
	n := uint32(kx * ky)
	for y := range h {
		clear(sums)
		for dy := range ky {
			row := img.Pix[(y*ky+dy)*img.Stride:]
			for x := range w {
				p := row[4*x*kx : 4*(x+1)*kx]
				s := sums[4*x : 4*x+4]
				for i := 0; i < len(p); i += 4 {
					s[0] += uint32(p[i])
					s[1] += uint32(p[i+1])
					s[2] += uint32(p[i+2])
					s[3] += uint32(p[i+3])
				}
			}
		}
		o := out.Pix[y*out.Stride:]
		for i, s := range sums {
			o[i] = uint8((s + n/2) / n)
		}
	}
	return out
}

func opaque(img image.Image) bool {
	if o, ok := img.(interface{ Opaque() bool }); ok {
		return o.Opaque()
	}
	return false
}

// LoadSquare decodes the file at path and resizes it for a network input of
// size x size.
func LoadSquare(path string, size int, opts *Options) (*image.RGBA, error) {
	img, err := DecodeFile(path, opts)
	if err != nil {
		return nil, err
	}
	return Square(img, size), nil
}

// ToTensor writes img (size x size) into dst as planar R, G, B planes of
// size*size values, normalised with norm. len(dst) must be 3*size*size.
func ToTensor(img *image.RGBA, norm model.Normalization, dst []float32) {
	n := img.Rect.Dx() * img.Rect.Dy()
	if len(dst) != 3*n {
		panic(fmt.Sprintf("imageio: ToTensor: dst has %d values, want %d", len(dst), 3*n))
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
