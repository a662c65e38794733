package imageio

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/gif"
	"image/jpeg"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/deeprank/deeprank/internal/cputime"
	"github.com/deeprank/deeprank/internal/fixture"
	"github.com/deeprank/deeprank/model"
	defaultmodel "github.com/deeprank/deeprank/models/default"
)

func TestJPEGScale(t *testing.T) {
	cases := []struct {
		w, h, size, want int
	}{
		{4032, 3024, 64, 8},  // camera photo: 378 pixels left on the short side
		{3024, 4032, 64, 8},  // portrait
		{720, 360, 64, 2},    // quickstart sample: 180 >= 128, 90 is not
		{1024, 1024, 64, 8},  // exactly 128 at 1/8
		{1023, 1023, 64, 4},  // just short of it
		{300, 255, 64, 1},    // 127 at 1/2: too few
		{4032, 3024, 224, 4}, // a larger network input
		{4032, 3024, 0, 1},   // no input size: full size
	}
	for _, c := range cases {
		if got := jpegScale(c.w, c.h, c.size); got != c.want {
			t.Errorf("jpegScale(%d, %d, %d) = %d, want %d", c.w, c.h, c.size, got, c.want)
		}
	}
}

// smoothPhoto is a w x h image of soft colour waves and a few hard edges,
// a stand-in for a photo when no camera files are at hand.
func smoothPhoto(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			fx, fy := float64(x)/float64(w), float64(y)/float64(h)
			c := color.RGBA{
				uint8(127 + 120*math.Sin(7*fx+3*fy)),
				uint8(127 + 120*math.Cos(4*fx*fy*9)),
				uint8(40 + 200*fy),
				255,
			}
			if (x/37+y/29)%5 == 0 {
				c.R, c.B = c.B, c.R
			}
			img.SetRGBA(x, y, c)
		}
	}
	return img
}

// fullSquare is the reference: the standard library's full decode, turned
// upright, then the same Square.
func fullSquare(t testing.TB, data []byte, size int) *image.RGBA {
	img, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return Square(orient(img, jpegOrientation(data)), size)
}

// meanDiff is the mean absolute difference of two same-size RGBA images
// over their R, G and B channels, in levels of 255.
func meanDiff(a, b *image.RGBA) float64 {
	var sum, n int
	for i := range a.Pix {
		if i%4 != 3 {
			d := int(a.Pix[i]) - int(b.Pix[i])
			sum += max(d, -d)
			n++
		}
	}
	return float64(sum) / float64(n)
}

// TestDecodeForJPEG checks the scaled path on generated JPEGs (sizes that
// do and do not fill whole MCUs, colour and grey, upright and turned by
// EXIF): the reduced size, the full size reported, and a Square within
// 2/255 per channel of the full decode's.
func TestDecodeForJPEG(t *testing.T) {
	const size = 64
	cases := []struct {
		w, h, orientation int
		grey              bool
		scale             int
	}{
		{1024, 768, 1, false, 4},
		{1029, 1031, 1, false, 8},
		{517, 389, 1, false, 2},
		{300, 255, 1, false, 1},
		{700, 300, 1, false, 2},
		{1001, 777, 1, true, 4},
		{1200, 1050, 6, false, 8},
		{1200, 600, 8, true, 4},
		{1000, 600, 3, false, 4},
		{1203, 1061, 2, false, 8},
		{1203, 1061, 4, false, 8},
		{1203, 1061, 5, false, 8},
		{1203, 1061, 7, true, 8},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%dx%d-o%d-grey=%v", c.w, c.h, c.orientation, c.grey), func(t *testing.T) {
			var src image.Image = smoothPhoto(c.w, c.h)
			if c.grey {
				g := image.NewGray(src.Bounds())
				draw.Draw(g, g.Rect, src, image.Point{}, draw.Src)
				src = g
			}
			var buf bytes.Buffer
			if err := jpeg.Encode(&buf, src, &jpeg.Options{Quality: 90}); err != nil {
				t.Fatal(err)
			}
			data := fixture.WithOrientation(buf.Bytes(), uint16(c.orientation), binary.BigEndian)
			if s := jpegScale(c.w, c.h, size); s != c.scale {
				t.Fatalf("jpegScale = %d, want %d", s, c.scale)
			}
			img, full, err := DecodeFor(data, size, nil)
			if err != nil {
				t.Fatal(err)
			}
			w, h := (c.w+c.scale-1)/c.scale, (c.h+c.scale-1)/c.scale
			fw, fh := c.w, c.h
			if c.orientation >= 5 {
				w, h, fw, fh = h, w, fh, fw
			}
			if got := img.Bounds().Size(); got != image.Pt(w, h) {
				t.Errorf("decoded %v, want %dx%d", got, w, h)
			}
			if full.Size() != image.Pt(fw, fh) {
				t.Errorf("full size %v, want %dx%d", full, fw, fh)
			}
			d := meanDiff(SquareReduced(img, full, size), fullSquare(t, data, size))
			if d > 2 {
				t.Errorf("Square differs from the full decode's by %.3f levels on average, want <= 2", d)
			}
			t.Logf("mean difference %.3f/255", d)
		})
	}
}

// cameraPhotos lists the JPEGs that scripts/fetch-camera-photos.sh makes
// (12 MP, every variant) and the quickstart's sample photos
// (scripts/fetch-sample.sh, 720x360), skipping the test when there are none
// (failing under fixture.RequireDataEnv).
func cameraPhotos(t testing.TB) []string {
	if testing.Short() {
		t.Skip("-short: the camera photos take a minute")
	}
	dir := fixture.RequireData(t, "../data/camera", "scripts/fetch-camera-photos.sh (and scripts/fetch-sample.sh) to test on real photos")
	camera, _ := filepath.Glob(filepath.Join(dir, "*.jpg"))
	sample, _ := filepath.Glob("../data/sample/*/*.jpg")
	if len(camera) == 0 {
		t.Fatalf("no photos in %s: remove it and run scripts/fetch-camera-photos.sh", dir)
	}
	if raceEnabled { // every variant of one photo, and a few small ones
		first := camera[0][:strings.LastIndex(camera[0], "-")+1]
		camera = slices.DeleteFunc(camera, func(p string) bool { return !strings.HasPrefix(p, first) })
		sample = sample[:min(len(sample), 10)]
	}
	return append(camera, sample...)
}

// TestCameraPhotos checks the scaled decode on real photos against the
// standard library's full decode followed by the same Square: within 2/255
// per channel on average, and the default model's embeddings within cosine
// 0.999.
func TestCameraPhotos(t *testing.T) {
	paths := cameraPhotos(t)
	m, err := defaultmodel.Load()
	if err != nil {
		t.Fatal(err)
	}
	net, err := model.NewNet(m, nil)
	if err != nil {
		t.Fatal(err)
	}
	size := m.Spec.InputSize
	embed := func(img *image.RGBA) []float32 {
		x := make([]float32, 3*size*size)
		model.ToTensor(img, m.Normalization, x)
		return net.Forward(x, 1)
	}
	var worstDiff, worstCos float64 = 0, 1
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		img, full, err := DecodeFor(data, size, nil)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		got, want := SquareReduced(img, full, size), fullSquare(t, data, size)
		d := meanDiff(got, want)
		cos := cosine(embed(got), embed(want))
		if d > 2 {
			t.Errorf("%s: Square differs from the full decode's by %.3f levels on average, want <= 2", p, d)
		}
		if cos < 0.999 {
			t.Errorf("%s: embeddings of the scaled and full decodes at cosine %.5f, want >= 0.999", p, cos)
		}
		worstDiff, worstCos = max(worstDiff, d), min(worstCos, cos)
		if testing.Verbose() {
			t.Logf("%s: mean difference %.3f/255, cosine %.6f", p, d, cos)
		}
	}
	t.Logf("%d photos: largest mean difference %.3f/255 per channel, lowest embedding cosine %.6f", len(paths), worstDiff, worstCos)
}

func cosine(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	return ab / math.Sqrt(aa*bb)
}

// BenchmarkCameraSquare decodes the 12 MP photos, baseline and progressive
// 4:2:0, to the default model's 64x64 square: the scaled path against the
// standard library's full decode and the same Square, side by side: compare
// the two in one run. images/cpu-s counts against the process's CPU time
// rather than the clock, so that on a shared machine it is the rate of one
// core (run with -cpu 1).
func BenchmarkCameraSquare(b *testing.B) {
	const size = 64
	for _, variant := range []string{"420", "420p"} {
		var files [][]byte
		for _, p := range cameraPhotos(b) {
			if strings.HasSuffix(p, "-"+variant+".jpg") {
				data, err := os.ReadFile(p)
				if err != nil {
					b.Fatal(err)
				}
				files = append(files, data)
			}
		}
		run := func(b *testing.B, square func(data []byte) *image.RGBA) {
			n := 0
			cpu0 := cpuTime(b)
			for b.Loop() {
				square(files[n%len(files)])
				n++
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "images/s")
			b.ReportMetric(float64(n)/(cpuTime(b)-cpu0).Seconds(), "images/cpu-s")
		}
		b.Run(variant+"/scaled", func(b *testing.B) {
			run(b, func(data []byte) *image.RGBA {
				img, full, err := DecodeFor(data, size, nil)
				if err != nil {
					b.Fatal(err)
				}
				return SquareReduced(img, full, size)
			})
		})
		b.Run(variant+"/stdlib", func(b *testing.B) {
			run(b, func(data []byte) *image.RGBA { return fullSquare(b, data, size) })
		})
	}
}

// cpuTime is the CPU time, user and system, the process has used so far
// (0 where it cannot be read).
func cpuTime(b *testing.B) time.Duration {
	return time.Duration(cputime.Seconds() * 1e9)
}

// TestDecodeForGIFFrame checks that the full size DecodeFor reports is the
// decoded image's: a GIF whose first frame is smaller than its screen.
func TestDecodeForGIFFrame(t *testing.T) {
	frame := image.NewPaletted(image.Rect(0, 0, 20, 10), color.Palette{color.Black, color.White})
	var buf bytes.Buffer
	if err := gif.EncodeAll(&buf, &gif.GIF{Image: []*image.Paletted{frame}, Delay: []int{0}, Config: image.Config{ColorModel: frame.Palette, Width: 50, Height: 40}}); err != nil {
		t.Fatal(err)
	}
	img, full, err := DecodeFor(buf.Bytes(), 4, nil)
	if err != nil {
		t.Fatal(err)
	}
	if full.Size() != img.Bounds().Size() {
		t.Fatalf("full size %v, image %v", full, img.Bounds())
	}
	SquareReduced(img, full, 4)
}
