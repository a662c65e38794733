package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
)

// maxPatternSide bounds a GIMP pattern's declared width and height, so a
// small file cannot make decodePattern allocate much.
const maxPatternSide = 8192

// errNotPattern is returned by decodePattern for data that is not a valid
// GIMP pattern.
var errNotPattern = errors.New("not a GIMP pattern (.pat)")

// decodePattern decodes a GIMP pattern (.pat, the textures GIMP ships):
// a big-endian header of six 32-bit words (header size, version 1 or 2,
// width, height, bytes per pixel from 1 to 4: grey, grey and alpha, RGB,
// RGBA; then the magic "GPAT"), the pattern's name up to the header size,
// then the pixels row by row.
func decodePattern(data []byte) (image.Image, error) {
	if len(data) < 24 || string(data[20:24]) != "GPAT" {
		return nil, fmt.Errorf("%w: no GPAT magic", errNotPattern)
	}
	word := func(i int) uint32 { return binary.BigEndian.Uint32(data[4*i:]) }
	hdr, version, w, h, bpp := word(0), word(1), word(2), word(3), word(4)
	switch {
	case version != 1 && version != 2:
		return nil, fmt.Errorf("%w: version %d", errNotPattern, version)
	case hdr < 24 || uint64(hdr) > uint64(len(data)):
		return nil, fmt.Errorf("%w: header size %d of a %d-byte file", errNotPattern, hdr, len(data))
	case w == 0 || h == 0 || w > maxPatternSide || h > maxPatternSide:
		return nil, fmt.Errorf("%w: %dx%d pixels (at most %d a side)", errNotPattern, w, h, maxPatternSide)
	case bpp < 1 || bpp > 4:
		return nil, fmt.Errorf("%w: %d bytes per pixel", errNotPattern, bpp)
	}
	pix := data[hdr:]
	if need := uint64(w) * uint64(h) * uint64(bpp); uint64(len(pix)) < need {
		return nil, fmt.Errorf("%w: %d bytes of pixels, %dx%dx%d needs %d", errNotPattern, len(pix), w, h, bpp, need)
	}
	img := image.NewNRGBA(image.Rect(0, 0, int(w), int(h)))
	for i := range int(w) * int(h) {
		p := pix[i*int(bpp):][:bpp]
		c := color.NRGBA{A: 255}
		switch bpp {
		case 1, 2:
			c.R, c.G, c.B = p[0], p[0], p[0]
			if bpp == 2 {
				c.A = p[1]
			}
		default:
			c.R, c.G, c.B = p[0], p[1], p[2]
			if bpp == 4 {
				c.A = p[3]
			}
		}
		img.SetNRGBA(i%int(w), i/int(w), c)
	}
	return img, nil
}
