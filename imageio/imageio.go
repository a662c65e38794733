// Package imageio decodes images from outside safely, resizes them to the
// network's square input and augments them; of deeprank's packages it
// imports only its own (contentbox, which package model shares). Turning a
// square image into the network's tensor is package model's (it owns the
// layout and the normalisation). IsImageName holds the file name extensions
// of the formats decoded here.
//
// Decoding checks the header's declared size before any pixel is decoded, so
// a small file that declares a huge image is refused cheaply. Supported
// formats: JPEG (turned upright by its EXIF orientation; CMYK and grey
// included), PNG (8 and 16 bits, grey, palette, alpha), GIF (first frame),
// WebP, BMP, TIFF, HEIC and AVIF (turned upright by their rotation and
// mirroring). Transparent areas are composited on white.
//
// Decoding for a known network input (DecodeFor, LoadAll)
// decodes a JPEG directly at 1/2, 1/4 or 1/8 of its size when that still
// leaves twice the input on its shorter side: a 12 MP photo for a 64x64
// input is decoded at 1/8, several times faster, and after Square differs
// from the full decode by well under 1/255 per channel on average.
// DecodeSquare decodes and squares in one step, and reads a PNG that is not
// interlaced a row at a time straight into the box filter, never whole.
package imageio

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	_ "image/gif"  // register GIF
	_ "image/jpeg" // register JPEG for DecodeConfig; decoding uses jpegscale
	_ "image/png"
	"io"
	"os"

	xdraw "golang.org/x/image/draw"

	_ "golang.org/x/image/bmp" // register BMP
	_ "golang.org/x/image/tiff"
	_ "golang.org/x/image/webp"

	"github.com/deeprank/deeprank/imageio/internal/heifwasm"
	"github.com/deeprank/deeprank/imageio/internal/jpegscale"
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
	var cfg image.Config
	var err error
	format := heifFormat(data)
	if format != "" {
		cfg, err = heifConfig(data, format)
	} else {
		cfg, format, err = image.DecodeConfig(bytes.NewReader(data))
	}
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

// Sniff returns ErrNotImage when head, the first bytes of a file, starts
// like none of the supported formats, so that a file can be refused before
// the rest of it is read. A few hundred bytes are enough; Sniff says nothing
// on whether the image decodes.
func Sniff(head []byte) error {
	if heifFormat(head) != "" {
		return nil
	}
	if _, _, err := image.DecodeConfig(bytes.NewReader(head)); errors.Is(err, image.ErrFormat) {
		return ErrNotImage
	}
	return nil
}

// DecodeMemory estimates, from data's header alone, the most memory in
// bytes that decoding data and then squaring it (Square) hold at once: the
// decoded image at its colour model's bytes per pixel, a progressive JPEG's
// coefficients, an EXIF rotation's two RGBA copies (Square itself reads
// the image a row at a time), and for HEIC and AVIF the WebAssembly
// decoder's own memory (bounds measured on camera photos). It is an
// upper bound for the formats of the standard library, meant for sharing a
// memory budget among concurrent decodes; an image that passes the pixel
// limit can still need gigabytes (a 16-bit RGB PNG needs 12 bytes a pixel).
// It returns the error Decode would for a header Decode refuses.
func DecodeMemory(data []byte, opts *Options) (int64, error) {
	cfg, format, err := header(data, opts)
	if err != nil {
		return 0, err
	}
	return decodeMemory(data, cfg, format), nil
}

// decodeMemory is DecodeMemory once the header, cfg, has been read.
func decodeMemory(data []byte, cfg image.Config, format string) int64 {
	perPixel := bytesPerPixel(cfg.ColorModel)
	switch format {
	case "jpeg":
		if jpegProgressive(data) {
			// An int32 per coefficient of each component; a JPEG's
			// bytes per pixel are its components (grey 1, YCbCr 3,
			// CMYK 4), counted unsubsampled.
			perPixel += 4 * bytesPerPixel(cfg.ColorModel)
		}
		if jpegOrientation(data) > 1 {
			perPixel += 8 // orient's two RGBA copies
		}
	case "heic":
		return perPixel*int64(cfg.Width)*int64(cfg.Height) + heifwasm.HEICMemory(cfg.Width, cfg.Height)
	case "avif":
		if rotate, mirror := avifOrientation(data); rotate > 1 || mirror > 1 {
			perPixel += 8 // orient's two RGBA copies
		}
		return perPixel*int64(cfg.Width)*int64(cfg.Height) + heifwasm.AVIFMemory(cfg.Width, cfg.Height)
	}
	return int64(cfg.Width) * int64(cfg.Height) * perPixel
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

// Decode decodes an image held in data, at full size.
func Decode(data []byte, opts *Options) (image.Image, error) {
	img, _, err := DecodeFor(data, 0, opts)
	return img, err
}

// DecodeFor decodes an image held in data for a network input of size x
// size pixels: a JPEG is decoded at the smallest of its full size, 1/2,
// 1/4 and 1/8 that keeps at least 2*size pixels on its shorter side, so img
// may be smaller than the image; other formats, and size <= 0, decode
// at full size. full is where the upright full-size image lies on img's
// grid scaled up: img's pixel (x, y) stands for the full-size pixels
// [x*s, (x+1)*s) x [y*s, (y+1)*s), and full.Size() is the image's own size.
// Its Min is not zero only where a reduced edge pixel that was partly
// padding has been turned to the top or left by the EXIF orientation. Pass
// it to SquareReduced.
func DecodeFor(data []byte, size int, opts *Options) (img image.Image, full image.Rectangle, err error) {
	cfg, format, err := header(data, opts)
	if err != nil {
		return nil, image.Rectangle{}, err
	}
	return decodeFor(data, cfg, format, size)
}

// decodeFor is DecodeFor once the header, cfg, has been read and checked.
func decodeFor(data []byte, cfg image.Config, format string, size int) (img image.Image, full image.Rectangle, err error) {
	if format != "jpeg" {
		if format == "heic" || format == "avif" {
			img, err = decodeHEIF(data, format)
		} else {
			img, _, err = image.Decode(bytes.NewReader(data))
		}
		if err != nil {
			return nil, image.Rectangle{}, fmt.Errorf("%w: %v", ErrNotImage, err)
		}
		// The image's own bounds, not the header's: a GIF's first frame
		// can be smaller than its screen.
		return img, image.Rectangle{Max: img.Bounds().Size()}, nil
	}
	full = image.Rect(0, 0, cfg.Width, cfg.Height)
	scale := jpegScale(cfg.Width, cfg.Height, size)
	img, err = jpegscale.DecodeBytes(data, scale)
	if err != nil {
		return nil, image.Rectangle{}, fmt.Errorf("%w: %v", ErrNotImage, err)
	}
	o := jpegOrientation(data)
	// The last reduced column and row may stand for fewer than scale pixels
	// (padX, padY of them are padding). Where the orientation reverses an
	// axis, that padding comes first.
	padX, padY := -cfg.Width&(scale-1), -cfg.Height&(scale-1)
	flipX, flipY := o == 2 || o == 3, o == 3 || o == 4
	if o >= 5 { // a quarter turn: upright x is stored y and the other way
		padX, padY = padY, padX
		full = image.Rect(0, 0, cfg.Height, cfg.Width)
		flipX, flipY = o == 6 || o == 7, o == 7 || o == 8
	}
	if flipX {
		full = full.Add(image.Pt(padX, 0))
	}
	if flipY {
		full = full.Add(image.Pt(0, padY))
	}
	return orient(img, o), full, nil
}

// jpegScale is the reduction, 1, 2, 4 or 8, at which DecodeFor decodes a w x
// h JPEG for a network input of size x size: the largest whose shorter side
// keeps at least 2*size pixels, so that Square's box filter still averages
// before its final resampling. size <= 0 means full size.
func jpegScale(w, h, size int) int {
	if size <= 0 {
		return 1
	}
	s := 8
	for s > 1 && min(w, h)/s < 2*size {
		s /= 2
	}
	return s
}

// DecodeFile reads and decodes the image at path, at full size; errors name
// the path.
func DecodeFile(path string, opts *Options) (image.Image, error) {
	img, _, err := decodeFileFor(path, 0, opts)
	return img, err
}

// decodeFileFor is DecodeFor on the file at path; errors name the path.
func decodeFileFor(path string, size int, opts *Options) (image.Image, image.Rectangle, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, image.Rectangle{}, err
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, image.Rectangle{}, &os.PathError{Op: "read", Path: path, Err: err}
	}
	img, full, err := DecodeFor(data, size, opts)
	if err != nil {
		return nil, image.Rectangle{}, &os.PathError{Op: "decode", Path: path, Err: err}
	}
	return img, full, nil
}

// Square resizes img to size x size RGB, squashing the aspect ratio as the
// reference does. Transparent pixels are composited on white. A large image
// is first shrunk by whole factors with a box filter (an exact area
// average, and cheap), then resampled with a Catmull-Rom filter. The box
// filter reads img a row at a time: no full-size copy is made.
func Square(img image.Image, size int) *image.RGBA {
	return SquareReduced(img, image.Rectangle{Max: img.Bounds().Size()}, size)
}

// SquareReduced is Square for an image that DecodeFor decoded reduced by 2,
// 4 or 8, with full DecodeFor's second result. Its box filter averages the
// same areas of the picture that Square's would on the full-size image,
// each reduced pixel weighted by the full-size pixels it stands for, so the
// two results differ only by the reduced decode's rounding. A full that
// does not fit img's size times 1, 2, 4 or 8 is a programming error and
// panics.
func SquareReduced(img image.Image, full image.Rectangle, size int) *image.RGBA {
	b := img.Bounds()
	scale := 0
	for s := 1; s <= 8 && scale == 0; s *= 2 {
		if full.Min.X >= 0 && full.Min.Y >= 0 && full.Min.X < s && full.Min.Y < s &&
			(full.Max.X+s-1)/s == b.Dx() && (full.Max.Y+s-1)/s == b.Dy() {
			scale = s
		}
	}
	if scale == 0 {
		panic(fmt.Sprintf("imageio: SquareReduced: a %v image is not %v reduced by 1, 2, 4 or 8", b.Size(), full))
	}
	return squareRows(newRowReader(img).row, b.Size(), scale, full, size)
}

// squareRows is SquareReduced on an image of size px given by row(y), its
// RGBA pixels of row y, asked for in order (each once or, where a row
// straddles two boxes, twice in a row).
func squareRows(row func(y int) []byte, px image.Point, scale int, full image.Rectangle, size int) *image.RGBA {
	kx, ky := max(full.Dx()/(2*size), 1), max(full.Dy()/(2*size), 1)
	if full.Dx() == size && full.Dy() == size || scale == 1 && kx == 1 && ky == 1 {
		// No box filter: the image is at most 4*size a side.
		src := image.NewRGBA(image.Rect(0, 0, px.X, px.Y))
		for y := range px.Y {
			copy(src.Pix[y*src.Stride:], row(y))
		}
		if full.Dx() == size && full.Dy() == size {
			return src
		}
		dst := image.NewRGBA(image.Rect(0, 0, size, size))
		xdraw.CatmullRom.Scale(dst, dst.Bounds(), src, src.Bounds(), xdraw.Src, nil)
		return dst
	}
	src := boxShrink(row, scale, kx, ky, full)
	dst := image.NewRGBA(image.Rect(0, 0, size, size))
	xdraw.CatmullRom.Scale(dst, dst.Bounds(), src, src.Bounds(), xdraw.Src, nil)
	return dst
}

// rowReader gives an image's rows one at a time as RGBA, composited on
// white where the image is not opaque: the pixels a draw of the whole
// image into an RGBA would give, without holding more than a row.
type rowReader struct {
	img    image.Image
	min    image.Point
	opaque bool
	buf    *image.RGBA
	at     int // the row in buf, or -1
}

func newRowReader(img image.Image) *rowReader {
	b := img.Bounds()
	return &rowReader{img: img, min: b.Min, opaque: opaque(img), buf: image.NewRGBA(image.Rect(0, 0, b.Dx(), 1)), at: -1}
}

// row returns the RGBA pixels of row y (from the top of the image), valid
// until the next call for another row.
func (r *rowReader) row(y int) []byte {
	if y != r.at {
		rect, at := r.buf.Rect, r.min.Add(image.Pt(0, y))
		if r.opaque {
			draw.Draw(r.buf, rect, r.img, at, draw.Src)
		} else {
			draw.Draw(r.buf, rect, image.NewUniform(color.White), image.Point{}, draw.Src)
			draw.Draw(r.buf, rect, r.img, at, draw.Over)
		}
		r.at = y
	}
	return r.buf.Pix
}

// boxShrink averages blocks of kx x ky pixels of the full-size image, which
// lies at full on the grid of an image scaled up by scale: each pixel of
// that image stands for scale x scale pixels, weighted by how many of them
// fall in the block. Leftover edge pixels that do not fill a block are
// dropped. At scale 1 it is a plain box filter. row(y) gives the RGBA
// pixels of the image's row y, opaque (rowReader composites on white), so
// only red, green and blue are averaged; boxShrink asks for the rows in
// order, each once or, where a row straddles two blocks, twice in a row.
func boxShrink(row func(y int) []byte, scale, kx, ky int, full image.Rectangle) *image.RGBA {
	w, h := full.Dx()/kx, full.Dy()/ky
	xTaps, yTaps := boxTaps(w, kx, scale, full.Min.X), boxTaps(h, ky, scale, full.Min.Y)
	// The x taps end to end, for a loop without a slice per box: each
	// pixel's byte offset in a row and its weight, and where each box's
	// taps end.
	var offsets []int
	var weights []uint64
	ends := make([]int, w)
	for x, tx := range xTaps {
		for _, t := range tx {
			offsets = append(offsets, 4*t.i)
			weights = append(weights, uint64(t.weight))
		}
		ends[x] = len(offsets)
	}
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	sums := make([]uint64, 3*w)
	n := uint64(kx * ky)
	for y, ty := range yTaps {
		clear(sums)
		for _, vy := range ty {
			row, wy := row(vy.i), uint64(vy.weight)
			k := 0
			for x, end := range ends {
				// The row's weighted sums, then times the row's weight:
				// the same integers, with fewer multiplications.
				var r, g, b uint64
				for ; k < end; k++ {
					p := row[offsets[k] : offsets[k]+3 : offsets[k]+3]
					wx := weights[k]
					r += wx * uint64(p[0])
					g += wx * uint64(p[1])
					b += wx * uint64(p[2])
				}
				s := sums[3*x : 3*x+3 : 3*x+3]
				s[0] += wy * r
				s[1] += wy * g
				s[2] += wy * b
			}
		}
		o := out.Pix[y*out.Stride : y*out.Stride+4*w]
		for x := range w {
			s, p := sums[3*x:3*x+3:3*x+3], o[4*x:4*x+4:4*x+4]
			p[0] = uint8((s[0] + n/2) / n)
			p[1] = uint8((s[1] + n/2) / n)
			p[2] = uint8((s[2] + n/2) / n)
			p[3] = 0xff
		}
	}
	return out
}

// tap is one source pixel of a box and its weight.
type tap struct{ i, weight int }

// boxTaps lists, for each of n boxes of k full-size pixels along one axis,
// starting at off, the pixels of a reduction by scale that overlap it and by
// how many full-size pixels.
func boxTaps(n, k, scale, off int) [][]tap {
	taps := make([][]tap, n)
	for b := range taps {
		lo, hi := off+b*k, off+(b+1)*k
		for i := lo / scale; i*scale < hi; i++ {
			taps[b] = append(taps[b], tap{i, min(hi, (i+1)*scale) - max(lo, i*scale)})
		}
	}
	return taps
}

func opaque(img image.Image) bool {
	if o, ok := img.(interface{ Opaque() bool }); ok {
		return o.Opaque()
	}
	return false
}
