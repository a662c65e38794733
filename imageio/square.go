package imageio

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"

	"github.com/deeprank/deeprank/imageio/internal/pngrows"
)

// DecodeSquare decodes the image held in data and squares it for a network
// input of size x size pixels: DecodeFor followed by SquareReduced, with the
// same result, except that a PNG that is not interlaced is read a row at a
// time straight into Square's box filter and never held whole (a 12 MP
// PNG then needs a few rows, not 48 MB). full is the upright image's size.
// SquareMemory estimates its memory. size must be positive.
func DecodeSquare(data []byte, size int, opts *Options) (square *image.RGBA, full image.Point, err error) {
	if size <= 0 {
		return nil, image.Point{}, fmt.Errorf("imageio: DecodeSquare to %d pixels a side: want at least 1", size)
	}
	cfg, format, err := header(data, opts)
	if err != nil {
		return nil, image.Point{}, err
	}
	if format == "png" && !pngInterlaced(data) {
		square, err := squarePNG(data, size)
		if err != nil {
			return nil, image.Point{}, fmt.Errorf("%w: %v", ErrNotImage, err)
		}
		return square, image.Pt(cfg.Width, cfg.Height), nil
	}
	img, r, err := decodeFor(data, cfg, format, size)
	if err != nil {
		return nil, image.Point{}, err
	}
	return SquareReduced(img, r, size), r.Size(), nil
}

// SquareMemory estimates, from data's header alone, the most memory in
// bytes that DecodeSquare holds at once for data and size: DecodeMemory's
// figure, or for a PNG read a row at a time, a few rows and the box
// filter's output. It returns the error DecodeSquare would for a header it
// refuses.
func SquareMemory(data []byte, size int, opts *Options) (int64, error) {
	cfg, format, err := header(data, opts)
	if err != nil {
		return 0, err
	}
	if format != "png" || pngInterlaced(data) || size <= 0 {
		return decodeMemory(data, cfg, format), nil
	}
	w, h := int64(cfg.Width), int64(cfg.Height)
	// The raw current and previous rows and the decoded one (at most 8
	// bytes a pixel each), the RGBA row, zlib's window; then the box
	// filter's output or, where there is none, the whole image as RGBA.
	rows := 3*8*w + 4*w + 64<<10
	kx, ky := max(w/int64(2*size), 1), max(h/int64(2*size), 1)
	return rows + 4*(w/kx)*(h/ky), nil
}

// pngInterlaced reports whether a PNG's header (checked by header) says
// Adam7 interlacing: the IHDR chunk's interlace method.
func pngInterlaced(data []byte) bool {
	const at = 8 + 8 + 12 // signature, chunk length and type, then width, height, depth, colour type, compression, filter
	return len(data) > at && data[at] != 0 && string(data[12:16]) == "IHDR" && binary.BigEndian.Uint32(data[8:]) == 13
}

// squarePNG squares a PNG that is not interlaced, decoding a row at a time
// into squareRows as it asks for them.
func squarePNG(data []byte, size int) (*image.RGBA, error) {
	dec, err := pngrows.NewDecoder(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	full := dec.Bounds()
	rows := rowReader{buf: image.NewRGBA(image.Rect(0, 0, full.Dx(), 1)), at: -1}
	read, last := -1, -1 // the last row decoded, and converted
	var rowErr error
	row := func(y int) []byte {
		for read < y && rowErr == nil {
			img, err := dec.Next()
			if err != nil {
				rowErr = err
				break
			}
			if read++; read == y {
				rows.img, rows.min, rows.opaque, rows.at = img, img.Bounds().Min, opaque(img), -1
				rows.row(0)
				last = y
			}
		}
		if last != y && rowErr == nil {
			rowErr = fmt.Errorf("png: row %d asked for after row %d", y, read)
		}
		return rows.buf.Pix
	}
	square := squareRows(row, full.Size(), 1, full, size)
	if rowErr != nil {
		return nil, rowErr
	}
	if err := dec.Finish(); err != nil {
		return nil, err
	}
	return square, nil
}
