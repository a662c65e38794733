// Package imageio decodes images from outside safely and turns them into the
// network's input tensors.
//
// Decoding checks the header's declared size before any pixel is decoded, so
// a small file that declares a huge image is refused cheaply. Supported
// formats: JPEG, PNG, GIF (first frame), WebP, BMP and TIFF.
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

// Decode decodes an image held in data.
func Decode(data []byte, opts *Options) (image.Image, error) {
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		if errors.Is(err, image.ErrFormat) {
			return nil, ErrNotImage
		}
		return nil, fmt.Errorf("%w: %v", ErrNotImage, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, fmt.Errorf("%w: declares %dx%d pixels", ErrNotImage, cfg.Width, cfg.Height)
	}
	if px := int64(cfg.Width) * int64(cfg.Height); px > opts.maxPixels() {
		return nil, fmt.Errorf("%w: declares %dx%d = %d pixels, the limit is %d", ErrTooLarge, cfg.Width, cfg.Height, px, opts.maxPixels())
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotImage, err)
	}
	return img, nil
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

// Square resizes img to size x size RGB with a Catmull-Rom filter,
// squashing the aspect ratio as the reference does. Transparent pixels are
// composited on white.
func Square(img image.Image, size int) *image.RGBA {
	b := img.Bounds()
	src := img
	if !opaque(img) {
		flat := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
		draw.Draw(flat, flat.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
		draw.Draw(flat, flat.Bounds(), img, b.Min, draw.Over)
		src = flat
	}
	dst := image.NewRGBA(image.Rect(0, 0, size, size))
	if b.Dx() == size && b.Dy() == size {
		draw.Draw(dst, dst.Bounds(), src, src.Bounds().Min, draw.Src)
		return dst
	}
	xdraw.CatmullRom.Scale(dst, dst.Bounds(), src, src.Bounds(), xdraw.Src, nil)
	return dst
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
