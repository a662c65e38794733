package pngrows

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"testing"
)

// goldenFiles are the PNG suite and the broken files of image/png's own
// tests (in GOROOT), and six of the corpus's PNGs where they are.
func goldenFiles(t testing.TB) []string {
	dir := filepath.Join(runtime.GOROOT(), "src", "image", "png", "testdata")
	files, _ := filepath.Glob(filepath.Join(dir, "pngsuite", "*.png"))
	more, _ := filepath.Glob(filepath.Join(dir, "*.png"))
	corpus, _ := filepath.Glob("../../../data/corpus/heldout/rendered/*/*.png")
	files = append(append(files, more...), corpus[:min(len(corpus), 6)]...)
	if len(files) < 50 {
		t.Skipf("image/png's test files are not in %s", dir)
	}
	return files
}

// decodeRows decodes data with a Decoder and checks each row against want,
// image/png's decode of it: the same type, palette and pixels. It returns
// the Decoder's error, nil, or ErrInterlaced.
func decodeRows(t testing.TB, data []byte, want image.Image) error {
	dec, err := NewDecoder(bytes.NewReader(data))
	if err != nil {
		return err
	}
	if want != nil && dec.Bounds() != want.Bounds() {
		t.Fatalf("bounds %v, image/png %v", dec.Bounds(), want.Bounds())
	}
	for y := 0; ; y++ {
		row, err := dec.Next()
		if err == io.EOF {
			if y != dec.Bounds().Dy() {
				t.Fatalf("io.EOF after %d rows of %d", y, dec.Bounds().Dy())
			}
			break
		}
		if err != nil {
			return err
		}
		if want == nil {
			continue
		}
		if reflect.TypeOf(row) != reflect.TypeOf(want) {
			t.Fatalf("row of type %T, image/png decodes %T", row, want)
		}
		if b := row.Bounds(); b != image.Rect(0, y, dec.Bounds().Dx(), y+1) {
			t.Fatalf("row %d has bounds %v", y, b)
		}
		for x := range row.Bounds().Dx() {
			if g, w := row.At(x, y), want.At(x, y); !sameColor(g, w) {
				t.Fatalf("pixel (%d, %d) is %v, image/png decodes %v", x, y, g, w)
			}
		}
	}
	return dec.Finish()
}

// sameColor compares colours with their types: an NRGBA is not an RGBA of
// the same values.
func sameColor(a, b color.Color) bool { return reflect.DeepEqual(a, b) }

func TestGolden(t *testing.T) {
	for _, path := range goldenFiles(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			want, wantErr := png.Decode(bytes.NewReader(data))
			err = decodeRows(t, data, want)
			if errors.Is(err, ErrInterlaced) {
				if data[28] != 1 {
					t.Fatal("ErrInterlaced for a file that is not interlaced")
				}
				return
			}
			if (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error() {
				t.Fatalf("error %v, image/png %v", err, wantErr)
			}
		})
	}
}

// TestEveryType encodes an image of each type image/png writes and decodes
// it back a row at a time.
func TestEveryType(t *testing.T) {
	r := image.Rect(0, 0, 37, 11)
	fill := func(set func(x, y int, v uint8)) {
		for y := range r.Dy() {
			for x := range r.Dx() {
				set(x, y, uint8(x*7+y*13))
			}
		}
	}
	gray, gray16, nrgba, rgba64 := image.NewGray(r), image.NewGray16(r), image.NewNRGBA(r), image.NewRGBA64(r)
	fill(func(x, y int, v uint8) { gray.SetGray(x, y, color.Gray{v}) })
	fill(func(x, y int, v uint8) { gray16.SetGray16(x, y, color.Gray16{uint16(v) * 257}) })
	fill(func(x, y int, v uint8) { nrgba.SetNRGBA(x, y, color.NRGBA{v, 255 - v, v / 2, v | 1}) })
	fill(func(x, y int, v uint8) {
		rgba64.SetRGBA64(x, y, color.RGBA64{uint16(v) * 3, 9, uint16(v) << 8, 0xffff})
	})
	for _, colours := range []int{2, 4, 16, 256} {
		t.Run("palette", func(t *testing.T) {
			pal := make(color.Palette, colours)
			for i := range pal {
				pal[i] = color.NRGBA{uint8(i), uint8(3 * i), 9, uint8(255 - i%3)} // some transparent: tRNS
			}
			p := image.NewPaletted(r, pal)
			fill(func(x, y int, v uint8) { p.SetColorIndex(x, y, v%uint8(colours-1)) })
			roundTrip(t, p)
		})
	}
	for _, img := range []image.Image{gray, gray16, nrgba, rgba64} {
		t.Run("type", func(t *testing.T) { roundTrip(t, img) })
	}
}

func roundTrip(t *testing.T, img image.Image) {
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	want, err := png.Decode(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if err := decodeRows(t, buf.Bytes(), want); err != nil {
		t.Fatal(err)
	}
}

// FuzzDecoder: on any bytes, a Decoder fails or succeeds as image/png's
// Decode does, with the same error, and decodes the same pixels, without a
// panic or a hang.
func FuzzDecoder(f *testing.F) {
	for _, path := range goldenFiles(f) {
		if data, err := os.ReadFile(path); err == nil && len(data) < 10<<10 {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := png.DecodeConfig(bytes.NewReader(data))
		if err == nil && cfg.Width*cfg.Height > 1<<20 {
			return // image/png would allocate it whole
		}
		want, wantErr := png.Decode(bytes.NewReader(data))
		err = decodeRows(t, data, want)
		if errors.Is(err, ErrInterlaced) {
			return
		}
		if (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error() {
			t.Fatalf("error %v, image/png %v", err, wantErr)
		}
	})
}
