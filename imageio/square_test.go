package imageio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"runtime"
	"testing"
)

// pngOf encodes img as a PNG.
func pngOf(t testing.TB, img image.Image) []byte {
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// converted draws src into a new image made by newImage at src's size.
func converted[T draw.Image](src image.Image, newImage func(image.Rectangle) T) T {
	dst := newImage(src.Bounds())
	draw.Draw(dst, dst.Bounds(), src, src.Bounds().Min, draw.Src)
	return dst
}

// TestDecodeSquarePNG: a PNG read a row at a time squares exactly as the
// whole decode does (DecodeFor, then SquareReduced), for every colour type
// image/png writes, with and without the box filter, with transparency.
func TestDecodeSquarePNG(t *testing.T) {
	photo := smoothPhoto(700, 410)
	translucent := converted(photo, image.NewNRGBA)
	for i := 3; i < len(translucent.Pix); i += 4 * 7 {
		translucent.Pix[i] = uint8(i / 4 % 256)
	}
	palette := make(color.Palette, 200)
	for i := range palette {
		palette[i] = color.NRGBA{uint8(i), uint8(255 - i), uint8(i * 3), uint8(255 - i%2*100)}
	}
	cases := []struct {
		name string
		img  image.Image
	}{
		{"rgb", photo},
		{"rgba", translucent},
		{"grey", converted(photo, image.NewGray)},
		{"grey16", converted(photo, image.NewGray16)},
		{"rgb16", converted(photo, image.NewRGBA64)},
		{"rgba16", converted(translucent, image.NewNRGBA64)},
		{"palette", converted(photo, func(r image.Rectangle) *image.Paletted { return image.NewPaletted(r, palette) })},
		{"small", smoothPhoto(200, 150)}, // no box filter at 64
		{"exact", smoothPhoto(64, 64)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data := pngOf(t, tc.img)
			img, full, err := DecodeFor(data, 64, nil)
			if err != nil {
				t.Fatal(err)
			}
			want := SquareReduced(img, full, 64)
			got, size, err := DecodeSquare(data, 64, nil)
			if err != nil {
				t.Fatal(err)
			}
			if size != tc.img.Bounds().Size() {
				t.Errorf("full size %v, want %v", size, tc.img.Bounds().Size())
			}
			if !bytes.Equal(got.Pix, want.Pix) || got.Rect != want.Rect {
				t.Errorf("differs from the whole decode by %.3f/255 on average", meanDiff(got, want))
			}
			if mem, err := SquareMemory(data, 64, nil); err != nil || mem >= int64(4*tc.img.Bounds().Dx()*tc.img.Bounds().Dy()) && tc.name != "small" && tc.name != "exact" {
				t.Errorf("SquareMemory = %d, %v: not less than the image", mem, err)
			}
		})
	}
}

// TestDecodeSquareBadPNG: broken PNGs fail as DecodeFor fails on them, and
// an interlaced one is decoded whole.
func TestDecodeSquareBadPNG(t *testing.T) {
	data := pngOf(t, smoothPhoto(300, 200))
	truncated := data[:len(data)/2]
	badCRC := bytes.Clone(data)
	badCRC[len(badCRC)-20] ^= 1 // in the last IDAT chunk's data or checksum
	for name, data := range map[string][]byte{"truncated": truncated, "checksum": badCRC, "no IEND": data[:len(data)-12]} {
		_, _, err := DecodeSquare(data, 64, nil)
		_, _, wantErr := DecodeFor(data, 64, nil)
		if !errors.Is(err, ErrNotImage) || wantErr == nil || err.Error() != wantErr.Error() {
			t.Errorf("%s: %v, DecodeFor %v", name, err, wantErr)
		}
	}
	// The interlace flag set: the pixel data is then wrong for Adam7, so
	// the whole decode's error must come back.
	interlaced := bytes.Clone(data)
	interlaced[28] = 1
	binary.BigEndian.PutUint32(interlaced[29:], crc32.ChecksumIEEE(interlaced[12:29]))
	_, _, err := DecodeSquare(interlaced, 64, nil)
	_, _, wantErr := DecodeFor(interlaced, 64, nil)
	if err == nil || wantErr == nil || err.Error() != wantErr.Error() {
		t.Errorf("interlaced: %v, DecodeFor %v", err, wantErr)
	}
}

// BenchmarkSquarePNG squares a 12 MP RGB PNG read a row at a time and
// decoded whole, side by side, with the bytes each allocates per image.
func BenchmarkSquarePNG(b *testing.B) {
	data := pngOf(b, smoothPhoto(4032, 3024))
	for _, bc := range []struct {
		name   string
		square func() error
	}{
		{"rows", func() error { _, _, err := DecodeSquare(data, 64, nil); return err }},
		{"whole", func() error {
			img, full, err := DecodeFor(data, 64, nil)
			if err == nil {
				SquareReduced(img, full, 64)
			}
			return err
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			n := 0
			for b.Loop() {
				if err := bc.square(); err != nil {
					b.Fatal(err)
				}
				n++
			}
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(n)/(1<<20), "MB-alloc/image")
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "images/s")
		})
	}
}
