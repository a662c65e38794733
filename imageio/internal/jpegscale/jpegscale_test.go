package jpegscale

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// testCase is one JPEG file to decode.
type testCase struct {
	name string
	data []byte
}

// photoLike draws a w x h image with smooth gradients, edges and noise, so
// that its JPEG has both low and high frequencies, and saturated corners.
func photoLike(w, h int, seed uint64) *image.RGBA {
	r := rand.New(rand.NewPCG(seed, 1))
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			fx, fy := float64(x)/float64(max(w, 1)), float64(y)/float64(max(h, 1))
			v := [3]float64{
				300*fx - 20,
				128 + 100*math.Sin(9*fx+5*fy),
				255 * fy,
			}
			if (x/11+y/7)%3 == 0 { // hard edges
				v[0], v[2] = v[2], v[0]
			}
			var c [3]uint8
			for i := range c {
				c[i] = uint8(max(0, min(255, v[i]+r.NormFloat64()*12)))
			}
			img.SetRGBA(x, y, color.RGBA{c[0], c[1], c[2], 255})
		}
	}
	return img
}

func encode(t testing.TB, img image.Image, quality int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: quality}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// generatedCases encodes images with image/jpeg (4:2:0 and greyscale) at
// sizes that do and do not fill whole MCUs, so the core tests need no files.
func generatedCases(t testing.TB) []testCase {
	var cs []testCase
	for i, sz := range [][2]int{{1, 1}, {7, 5}, {16, 16}, {17, 33}, {100, 75}, {250, 131}, {256, 200}} {
		img := photoLike(sz[0], sz[1], uint64(i))
		for _, q := range []int{75, 95} {
			cs = append(cs, testCase{fmt.Sprintf("gen-%dx%d-q%d", sz[0], sz[1], q), encode(t, img, q)})
		}
		grey := image.NewGray(img.Rect)
		draw.Draw(grey, grey.Rect, img, image.Point{}, draw.Src)
		cs = append(cs, testCase{fmt.Sprintf("gen-%dx%d-grey", sz[0], sz[1]), encode(t, grey, 90)})
	}
	return cs
}

// stdlibCases are the standard library's own JPEG test files: every
// subsampling it supports (4:4:4, 4:4:0, 4:2:2, 4:2:0, 4:1:1, 4:1:0),
// progressive, restart markers, greyscale, RGB and CMYK. They come with a Go
// installation; the test goes on without them when GOROOT has no sources.
func stdlibCases(t testing.TB) []testCase {
	root, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Fatalf("go env GOROOT: %v", err)
	}
	goroot := strings.TrimSpace(string(root))
	paths, _ := filepath.Glob(filepath.Join(goroot, "src", "image", "testdata", "*.jpeg"))
	var cs []testCase
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		cs = append(cs, testCase{filepath.Base(p), data})
	}
	if len(cs) == 0 {
		t.Logf("no JPEG files in %s/src/image/testdata: testing generated images only", goroot)
	}
	return cs
}

func allCases(t testing.TB) []testCase { return append(generatedCases(t), stdlibCases(t)...) }

// rgba converts img to RGBA at the origin, the way every caller sees pixels.
func rgba(img image.Image) *image.RGBA {
	b := img.Bounds()
	out := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(out, out.Rect, img, b.Min, draw.Src)
	return out
}

// TestScale1 checks that at scale 1 the fork returns the standard library's
// image exactly: same type, bounds and pixels.
func TestScale1(t *testing.T) {
	for _, c := range allCases(t) {
		t.Run(c.name, func(t *testing.T) {
			want, werr := jpeg.Decode(bytes.NewReader(c.data))
			got, gerr := Decode(bytes.NewReader(c.data), 1)
			if (werr == nil) != (gerr == nil) || (werr != nil && werr.Error() != gerr.Error()) {
				t.Fatalf("error %v, the standard library's %v", gerr, werr)
			}
			if werr != nil {
				return
			}
			if fmt.Sprintf("%T", got) != fmt.Sprintf("%T", want) || got.Bounds() != want.Bounds() {
				t.Fatalf("got %T %v, want %T %v", got, got.Bounds(), want, want.Bounds())
			}
			if !bytes.Equal(rgba(got).Pix, rgba(want).Pix) {
				t.Fatal("pixels differ from the standard library's")
			}
		})
	}
}

// boxAverage shrinks img by s, averaging each s x s area (fewer pixels at a
// right or bottom edge), the reference the scaled decode approximates.
func boxAverage(img *image.RGBA, s int) *image.RGBA {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	out := image.NewRGBA(image.Rect(0, 0, (w+s-1)/s, (h+s-1)/s))
	for y := range out.Rect.Dy() {
		for x := range out.Rect.Dx() {
			var sum [4]int
			n := 0
			for yy := y * s; yy < min((y+1)*s, h); yy++ {
				for xx := x * s; xx < min((x+1)*s, w); xx++ {
					p := img.Pix[yy*img.Stride+4*xx:]
					for c := range 4 {
						sum[c] += int(p[c])
					}
					n++
				}
			}
			for c := range 4 {
				out.Pix[y*out.Stride+4*x+c] = uint8((sum[c] + n/2) / n)
			}
		}
	}
	return out
}

// diff returns the mean and largest absolute difference over the R, G, B
// channels of two images of the same size, leaving out a right column and
// a bottom row that stand for fewer than s x s pixels of an image of w x h:
// there the scaled decode averages the encoder's edge padding too.
func diff(a, b *image.RGBA, w, h, s int) (mean float64, largest int) {
	var sum, n int
	for y := range min(h/s, a.Rect.Dy()) {
		for x := range min(w/s, a.Rect.Dx()) {
			for c := range 3 {
				i := y*a.Stride + 4*x + c
				d := int(a.Pix[i]) - int(b.Pix[i])
				d = max(d, -d)
				sum += d
				largest = max(largest, d)
				n++
			}
		}
	}
	return float64(sum) / float64(max(n, 1)), largest
}

// TestScaled checks every scale against the area average of the standard
// library's full decode: same size, and close pixels. Bounds: the mean
// difference stays within 1 level per channel (3 for CMYK); single pixels
// may differ more where the full decode clipped.
func TestScaled(t *testing.T) {
	for _, c := range allCases(t) {
		full, err := jpeg.Decode(bytes.NewReader(c.data))
		if err != nil {
			continue // TestScale1 checks the errors agree
		}
		for _, s := range []int{2, 4, 8} {
			t.Run(fmt.Sprintf("%s/1:%d", c.name, s), func(t *testing.T) {
				img, err := Decode(bytes.NewReader(c.data), s)
				if err != nil {
					t.Fatal(err)
				}
				if fmt.Sprintf("%T", img) != fmt.Sprintf("%T", full) {
					t.Errorf("got %T, the full decode is %T", img, full)
				}
				want := boxAverage(rgba(full), s)
				got := rgba(img)
				if got.Rect != want.Rect {
					t.Fatalf("got %v, want %v", got.Rect, want.Rect)
				}
				b := full.Bounds()
				mean, largest := diff(got, want, b.Dx(), b.Dy(), s)
				bound := 1.0
				if _, ok := full.(*image.CMYK); ok {
					// CMYK to RGB multiplies channels, so the mean of
					// converted pixels is not the conversion of the mean.
					bound = 3
				}
				if b.Dx() < 16 || b.Dy() < 16 {
					// Smaller than one 4:2:0 MCU: nearly every pixel is at an
					// edge, so only the size and decoding are checked.
					return
				}
				if mean > bound {
					t.Errorf("mean difference %.3f levels (largest %d), want <= %g", mean, largest, bound)
				}
				if testing.Verbose() {
					t.Logf("mean %.3f largest %d", mean, largest)
				}
			})
		}
	}
}

// TestDecodeBadScale checks that a scale other than 1, 2, 4, 8 is refused
// as the programming error it is.
func TestDecodeBadScale(t *testing.T) {
	for _, s := range []int{-1, 0, 3, 16} {
		func() {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "scale") {
					t.Errorf("scale %d: recovered %v, want a panic naming the scale", s, r)
				}
			}()
			Decode(bytes.NewReader(nil), s)
		}()
	}
}

// decodeBoth decodes data at scale through a reader (Decode) and in place
// (DecodeBytes), fails the test unless the two give the same error or the
// same pixels, and returns the result.
func decodeBoth(t testing.TB, data []byte, scale int) (image.Image, error) {
	t.Helper()
	img, err := Decode(bytes.NewReader(data), scale)
	inPlace, inPlaceErr := DecodeBytes(data, scale)
	if (err == nil) != (inPlaceErr == nil) || (err != nil && err.Error() != inPlaceErr.Error()) {
		t.Fatalf("scale %d: DecodeBytes fails with %v, Decode with %v", scale, inPlaceErr, err)
	}
	if err == nil && (img.Bounds() != inPlace.Bounds() || !bytes.Equal(rgba(img).Pix, rgba(inPlace).Pix)) {
		t.Fatalf("scale %d: DecodeBytes and Decode give different pixels", scale)
	}
	return img, err
}

// FuzzDecode checks the fork against the standard library on any input: the
// same error (or none) at every scale, the reduced size, the same pixels at
// scale 1, the same through a reader and in place (DecodeBytes), and no
// panic. Hangs show as the fuzzer's timeouts.
func FuzzDecode(f *testing.F) {
	for _, c := range allCases(f) {
		f.Add(c.data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// Keep each input fast (it is decoded five times), as the standard
		// library's own fuzz test does: a small file may declare a huge image.
		if cfg, err := jpeg.DecodeConfig(bytes.NewReader(data)); err == nil && cfg.Width*cfg.Height > 1<<18 {
			return
		}
		want, werr := jpeg.Decode(bytes.NewReader(data))
		for _, s := range []int{1, 2, 4, 8} {
			got, gerr := decodeBoth(t, data, s)
			if (werr == nil) != (gerr == nil) || (werr != nil && werr.Error() != gerr.Error()) {
				t.Fatalf("scale %d: error %v, the standard library's %v", s, gerr, werr)
			}
			if werr != nil {
				continue
			}
			wb := want.Bounds()
			if got.Bounds() != image.Rect(0, 0, (wb.Dx()+s-1)/s, (wb.Dy()+s-1)/s) {
				t.Fatalf("scale %d: %v from a %v image", s, got.Bounds(), wb)
			}
			if s == 1 && !bytes.Equal(rgba(got).Pix, rgba(want).Pix) {
				t.Fatal("scale 1: pixels differ from the standard library's")
			}
		}
	})
}

// TestCorruptions damages valid files (baseline, progressive, restart
// markers, greyscale) near every marker, where the read-ahead of fastFill
// must be given back, and at a stride elsewhere: truncated, a byte
// inserted, a byte overwritten. The fork must agree with the standard
// library on each: the same error or none, at scale 1 and 1/8, and the same
// pixels at scale 1.
func TestCorruptions(t *testing.T) {
	n := 0
	for _, c := range allCases(t) {
		switch c.name {
		case "gen-100x75-q75", "gen-250x131-grey", "video-001.restart2.jpeg", "video-001.progressive.jpeg", "video-001.q50.422.jpeg":
		default:
			continue
		}
		for pos := 2; pos < len(c.data); pos++ {
			nearMarker := false
			for q := max(pos-3, 0); q < min(pos+3, len(c.data)-1); q++ {
				nearMarker = nearMarker || (c.data[q] == 0xff && c.data[q+1] != 0)
			}
			if !nearMarker && pos%31 != 0 {
				continue
			}
			for _, damaged := range [][]byte{
				c.data[:pos],
				slices.Concat(c.data[:pos], []byte{0x5a}, c.data[pos:]),
				slices.Concat(c.data[:pos], []byte{0xff}, c.data[pos+1:]),
				slices.Concat(c.data[:pos], []byte{0x00}, c.data[pos+1:]),
			} {
				want, werr := jpeg.Decode(bytes.NewReader(damaged))
				got, gerr := Decode(bytes.NewReader(damaged), 1)
				n++
				if (werr == nil) != (gerr == nil) || (werr != nil && werr.Error() != gerr.Error()) {
					t.Fatalf("%s damaged at %d: error %v, the standard library's %v", c.name, pos, gerr, werr)
				}
				if werr == nil && !bytes.Equal(rgba(got).Pix, rgba(want).Pix) {
					t.Fatalf("%s damaged at %d: pixels differ from the standard library's", c.name, pos)
				}
				// At 1/8 the sequential decoder skips the AC codes of
				// blocks that become one pixel, several at a time; in
				// place, as ingest decodes.
				if _, err := DecodeBytes(damaged, 8); (werr == nil) != (err == nil) || (werr != nil && werr.Error() != err.Error()) {
					t.Fatalf("%s damaged at %d, at 1/8: error %v, the standard library's %v", c.name, pos, err, werr)
				}
			}
		}
	}
	t.Logf("%d damaged files agree", n)
}

// TestIDCT2x2 checks the 2x2 special case against the general reduced
// inverse DCT it stands in for, on random blocks of sparse and dense
// coefficients: equal but for float rounding (at most one level).
func TestIDCT2x2(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for _, density := range []float64{0.05, 0.3, 1} {
		for range 2000 {
			var b, qt block
			for i := range b {
				qt[i] = 1 + r.Int32N(60)
				if r.Float64() < density || i == 0 {
					b[i] = r.Int32N(81) - 40
				}
			}
			var got, want [2 * 2]byte
			idct2x2(&b, &qt, got[:], 2)
			for zig := range blockSize {
				b[unzig[zig]] *= qt[zig]
			}
			idctReduced(&b, 2, 2, want[:], 2)
			for i := range got {
				if d := int(got[i]) - int(want[i]); d < -1 || d > 1 {
					t.Fatalf("density %g: idct2x2 %v, idctReduced %v", density, got, want)
				}
			}
		}
	}
}
