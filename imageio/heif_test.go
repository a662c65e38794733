package imageio

import (
	"bytes"
	"errors"
	"image/jpeg"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deeprank/deeprank/internal/heiftest"
	"github.com/gen2brain/avif"
)

// TestHEIFPhotos encodes sample photos as HEIC and AVIF with the reference
// encoders, AVIF also rotated and mirrored by its container, and checks
// that each decodes for the network like its JPEG original, turned the
// same way: within 3/255 per channel on average at 64x64.
func TestHEIFPhotos(t *testing.T) {
	photos, _ := filepath.Glob("../data/sample/*/*.jpg")
	if len(photos) < 3 {
		t.Skip("no sample photos in ../data/sample: run scripts/fetch-sample.sh")
	}
	photos = photos[:3]
	if raceEnabled { // the decoders' Go side is slow under the race detector
		photos = photos[:1]
	}
	dir := t.TempDir()
	for _, photo := range photos {
		jpegData, err := os.ReadFile(photo)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			format string
			args   []string
			orient int // the EXIF orientation that makes the reference
		}{
			{"heic", []string{"-q", "90"}, 1},
			{"avif", []string{"-s", "8"}, 1},
			{"avif", []string{"-s", "8", "--irot", "1"}, 8},
			{"avif", []string{"-s", "8", "--irot", "3"}, 6},
			{"avif", []string{"-s", "8", "--imir", "1"}, 2},
			{"avif", []string{"-s", "8", "--irot", "2", "--imir", "0"}, 2}, // 180 degrees, then top to bottom
		} {
			t.Run(filepath.Base(photo)+"/"+tc.format+strings.Join(tc.args, ""), func(t *testing.T) {
				out := heiftest.Encode(t, dir, photo, tc.format, tc.args...)
				data, err := os.ReadFile(out)
				if err != nil {
					t.Fatal(err)
				}
				img, full, err := DecodeFor(data, 64, nil)
				if err != nil {
					t.Fatal(err)
				}
				ref, err := jpeg.Decode(bytes.NewReader(jpegData))
				if err != nil {
					t.Fatal(err)
				}
				want := Square(orient(orient(ref, jpegOrientation(jpegData)), tc.orient), 64)
				got := SquareReduced(img, full, 64)
				if d := meanDiff(got, want); d > 3 {
					t.Errorf("mean difference %.2f/255 from the JPEG original turned by orientation %d", d, tc.orient)
				}
				if _, err := DecodeMemory(data, nil); err != nil {
					t.Errorf("DecodeMemory: %v", err)
				}
			})
		}
	}
}

// TestAVIFRoundTrip needs no tools: an AVIF written by the same library
// decodes at its size, and the header checks refuse it over the pixel
// limit before decoding.
func TestAVIFRoundTrip(t *testing.T) {
	src := smoothPhoto(96, 64)
	var buf bytes.Buffer
	if err := avif.Encode(&buf, src, avif.Options{Quality: 90, Speed: 10}); err != nil {
		t.Fatal(err)
	}
	img, err := Decode(buf.Bytes(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 96 || b.Dy() != 64 {
		t.Fatalf("decoded %v, want 96x64", b)
	}
	if d := meanDiff(Square(img, 32), Square(src, 32)); d > 3 {
		t.Errorf("mean difference %.2f/255 after a round trip", d)
	}
	if _, err := Decode(buf.Bytes(), &Options{MaxPixels: 96*64 - 1}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("over the pixel limit: err = %v, want ErrTooLarge", err)
	}
	if !IsImageName("IMG_0001.HEIC") || !IsImageName("a.avif") || !IsImageName("b.heif") {
		t.Error("HEIC and AVIF names are not taken as images")
	}
}

// FuzzAVIFOrientation: the container walk reads outside input, so any
// bytes give an orientation in range, without a panic.
func FuzzAVIFOrientation(f *testing.F) {
	var buf bytes.Buffer
	avif.Encode(&buf, smoothPhoto(16, 16), avif.Options{Quality: 50, Speed: 10})
	f.Add(buf.Bytes())
	f.Add([]byte("\x00\x00\x00\x01meta\xff\xff\xff\xff\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, m := avifOrientation(data)
		if r < 1 || r > 8 || m < 1 || m > 8 {
			t.Fatalf("orientations %d, %d out of range", r, m)
		}
		heifIsAVIF(data)
	})
}
