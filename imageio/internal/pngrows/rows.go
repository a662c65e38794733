// Package pngrows decodes a PNG one row at a time, so that a large image
// can be shrunk as it is read without ever being held whole: the memory is
// a few rows, whatever the image's height. Each row comes as a one-row
// image of the type image/png's Decode returns for the file (Gray, NRGBA,
// Paletted, RGBA64, ...), with the same pixels, so converting rows gives
// exactly what converting the whole decoded image would. It is a fork of
// the standard library's decoder (reader.go, paeth.go; BSD licence in
// LICENSE), and refuses what it refuses, with the same errors. Interlaced
// (Adam7) files, whose passes each cover the whole image, are not read
// here: NewDecoder returns ErrInterlaced, and the caller decodes them whole
// with image/png.
package pngrows

import (
	"errors"
	"hash/crc32"
	"image"
	"io"
)

// ErrInterlaced is returned by NewDecoder for an interlaced (Adam7) PNG.
var ErrInterlaced = errors.New("png: interlaced (Adam7): decode it whole")

// Decoder hands out a PNG's rows in order.
type Decoder struct {
	d decoder
}

// NewDecoder reads the PNG from r up to its pixel data: its header and
// every chunk before the first IDAT, with image/png's checks.
func NewDecoder(r io.Reader) (*Decoder, error) {
	dec := &Decoder{d: decoder{r: r, crc: crc32.NewIEEE()}}
	d := &dec.d
	if err := d.checkHeader(); err != nil {
		return nil, unexpectedEOF(err)
	}
	for d.stage != dsSeenIDAT {
		if err := d.parseChunk(false); err != nil {
			return nil, unexpectedEOF(err)
		}
	}
	return dec, nil
}

// unexpectedEOF is err, with io.EOF turned into io.ErrUnexpectedEOF as
// image/png's Decode does: a PNG ends with IEND, not with its data.
func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// Bounds is the image's size.
func (dec *Decoder) Bounds() image.Rectangle { return image.Rect(0, 0, dec.d.width, dec.d.height) }

// Next decodes the next row and returns it as an image whose bounds are
// that row of the whole image. The image is reused: it is valid until the
// next call. After the last row, Next returns io.EOF.
func (dec *Decoder) Next() (image.Image, error) {
	d := &dec.d
	if d.y >= d.height {
		return nil, io.EOF
	}
	if err := d.nextRow(); err != nil {
		return nil, unexpectedEOF(err)
	}
	d.y++
	return d.row, nil
}

// Finish decodes the rows Next has not returned and reads the rest of the
// file to its IEND chunk, checking it as image/png's Decode does, and
// returns the error Decode would have, or nil.
func (dec *Decoder) Finish() error {
	d := &dec.d
	for d.y < d.height {
		if _, err := dec.Next(); err != nil {
			return err
		}
	}
	if err := d.finishIDAT(); err != nil {
		return unexpectedEOF(err)
	}
	for d.stage != dsSeenIEND {
		if err := d.parseChunk(false); err != nil {
			return unexpectedEOF(err)
		}
	}
	return nil
}

// setRow moves a one-row image to row y.
func setRow(img image.Image, y int) {
	r := img.Bounds()
	r.Min.Y, r.Max.Y = y, y+1
	switch m := img.(type) {
	case *image.Gray:
		m.Rect = r
	case *image.RGBA:
		m.Rect = r
	case *image.Paletted:
		m.Rect = r
	case *image.NRGBA:
		m.Rect = r
	case *image.Gray16:
		m.Rect = r
	case *image.RGBA64:
		m.Rect = r
	case *image.NRGBA64:
		m.Rect = r
	}
}
