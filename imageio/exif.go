package imageio

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/draw"
)

// jpegSegments calls fn with the marker and body of each segment of a JPEG
// file that comes before its image data, until fn returns false. It never
// panics on bad input, and stops at the first byte it does not understand.
func jpegSegments(data []byte, fn func(marker byte, seg []byte) bool) {
	if len(data) < 4 || data[0] != 0xFF || data[1] != 0xD8 {
		return
	}
	for i := 2; i+4 <= len(data); {
		if data[i] != 0xFF {
			return
		}
		marker := data[i+1]
		if marker == 0xD8 || (marker >= 0xD0 && marker <= 0xD7) || marker == 0x01 || marker == 0xFF {
			i++ // standalone marker or fill byte
			continue
		}
		if marker == 0xDA || marker == 0xD9 { // image data begins
			return
		}
		n := int(binary.BigEndian.Uint16(data[i+2:]))
		if n < 2 || i+2+n > len(data) {
			return
		}
		if !fn(marker, data[i+4:i+2+n]) {
			return
		}
		i += 2 + n
	}
}

// jpegOrientation returns the EXIF orientation (1..8) of a JPEG file, or 1
// when it has none or the data is not understood. It reads only the APP1
// segment's first IFD and never panics on bad input.
func jpegOrientation(data []byte) int {
	o := 1
	jpegSegments(data, func(marker byte, seg []byte) bool {
		if marker == 0xE1 && bytes.HasPrefix(seg, []byte("Exif\x00\x00")) {
			o = tiffOrientation(seg[6:])
			return false
		}
		return true
	})
	return o
}

// jpegProgressive reports whether a JPEG file is progressive (its frame
// header is SOF2), which image/jpeg decodes through a buffer of every
// coefficient of the image.
func jpegProgressive(data []byte) bool {
	progressive := false
	jpegSegments(data, func(marker byte, _ []byte) bool {
		switch marker {
		case 0xC2:
			progressive = true
			return false
		case 0xC0, 0xC1: // baseline or extended: the frame header settles it
			return false
		}
		return true
	})
	return progressive
}

// tiffOrientation reads tag 0x0112 from the first IFD of a TIFF header.
func tiffOrientation(t []byte) int {
	if len(t) < 8 {
		return 1
	}
	var bo binary.ByteOrder
	switch string(t[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 1
	}
	off := int(bo.Uint32(t[4:]))
	if off < 8 || off+2 > len(t) {
		return 1
	}
	count := int(bo.Uint16(t[off:]))
	for e := range count {
		p := off + 2 + 12*e
		if p+12 > len(t) {
			return 1
		}
		if bo.Uint16(t[p:]) == 0x0112 && bo.Uint16(t[p+2:]) == 3 { // SHORT
			if o := int(bo.Uint16(t[p+8:])); o >= 1 && o <= 8 {
				return o
			}
			return 1
		}
	}
	return 1
}

// orient turns img upright for an EXIF orientation: 2 mirrored, 3 rotated
// 180 degrees, 4 flipped, 5 transposed, 6 rotated 90 clockwise, 7
// transversed, 8 rotated 90 counter-clockwise (as stored).
func orient(img image.Image, o int) image.Image {
	if o <= 1 || o > 8 {
		return img
	}
	b := img.Bounds()
	src := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(src, src.Bounds(), img, b.Min, draw.Src)
	w, h := b.Dx(), b.Dy()
	ow, oh := w, h
	if o >= 5 {
		ow, oh = h, w
	}
	dst := image.NewRGBA(image.Rect(0, 0, ow, oh))
	for y := range oh {
		for x := range ow {
			// (sx, sy): the stored pixel shown at (x, y).
			var sx, sy int
			switch o {
			case 2:
				sx, sy = w-1-x, y
			case 3:
				sx, sy = w-1-x, h-1-y
			case 4:
				sx, sy = x, h-1-y
			case 5:
				sx, sy = y, x
			case 6:
				sx, sy = y, h-1-x
			case 7:
				sx, sy = w-1-y, h-1-x
			case 8:
				sx, sy = w-1-y, x
			}
			copy(dst.Pix[y*dst.Stride+4*x:][:4], src.Pix[sy*src.Stride+4*sx:][:4])
		}
	}
	return dst
}
