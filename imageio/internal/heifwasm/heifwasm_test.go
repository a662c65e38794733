package heifwasm

import (
	"bytes"
	"errors"
	"image"
	"image/draw"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/gen2brain/avif"
	"github.com/gen2brain/heic"
	"github.com/tetratelabs/wazero/api"

	"github.com/deeprank/deeprank/internal/heiftest"
)

// TestModulesPinned checks that the modules taken from the gen2brain
// packages export what this package calls, with the signatures it mirrors:
// an update of those packages that changes them fails here.
func TestModulesPinned(t *testing.T) {
	skipUnderRace(t)
	i32 := api.ValueTypeI32
	for _, tc := range []struct {
		name   string
		module func() (wazeroModule, error)
		decode int // parameters of decode
	}{
		{"avif", avifCompiled, 10},
		{"heic", heicCompiled, 9},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := tc.module()
			if err != nil {
				t.Fatal(err)
			}
			want := map[string][2]int{"malloc": {1, 1}, "free": {1, 0}, "decode": {tc.decode, 1}}
			exports := m.ExportedFunctions()
			for name, shape := range want {
				f, ok := exports[name]
				if !ok {
					t.Errorf("no export %s", name)
					continue
				}
				if len(f.ParamTypes()) != shape[0] || len(f.ResultTypes()) != shape[1] {
					t.Errorf("%s takes %d and returns %d values, want %d and %d", name, len(f.ParamTypes()), len(f.ResultTypes()), shape[0], shape[1])
				}
				for _, p := range append(f.ParamTypes(), f.ResultTypes()...) {
					if p != i32 {
						t.Errorf("%s: a value of type %s, want i32", name, api.ValueTypeName(p))
					}
				}
			}
		})
	}
}

// skipUnderRace skips tests that compile the modules: wazero's compiler
// takes about ten times as long under the race detector (a minute for
// this package), and the decoders run no Go concurrently. scripts/test.sh
// runs the package without the detector.
func skipUnderRace(t testing.TB) {
	t.Helper()
	if raceEnabled {
		t.Skip("compiles the WebAssembly modules: run without -race")
	}
}

type wazeroModule = interface {
	ExportedFunctions() map[string]api.FunctionDefinition
}

func avifCompiled() (wazeroModule, error) { return avifModule() }
func heicCompiled() (wazeroModule, error) { return heicModule() }

// smooth is a w x h gradient, smooth enough to survive a lossy round trip.
func smooth(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			i := img.PixOffset(x, y)
			img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = uint8(4*x), uint8(4*y), uint8(2*(x+y)), 255
		}
	}
	return img
}

// rgba draws img into a new RGBA.
func rgba(img image.Image) *image.RGBA {
	out := image.NewRGBA(img.Bounds())
	draw.Draw(out, out.Bounds(), img, img.Bounds().Min, draw.Src)
	return out
}

// sameAsGen2brain decodes data here and with the gen2brain package's own
// decoder, and wants the same pixels and header.
func sameAsGen2brain(t *testing.T, data []byte, format string) Image {
	t.Helper()
	ours, cfgOf, theirs, theirCfg, memory := DecodeAVIF, AVIFConfig, avif.Decode, avif.DecodeConfig, AVIFMemory
	if format == "heic" {
		ours, cfgOf, theirs, theirCfg, memory = DecodeHEIC, HEICConfig, heic.Decode, heic.DecodeConfig, HEICMemory
	}
	got, err := ours(data)
	if err != nil {
		t.Fatal(err)
	}
	want, err := theirs(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if got.Bounds() != want.Bounds() || got.ColorModel() != want.ColorModel() {
		t.Fatalf("decoded %v %T, gen2brain %v %T", got.Bounds(), got.Image, want.Bounds(), want)
	}
	// Not the first row: gen2brain's decoders free the output buffer (in
	// the module's memory) before returning the image that points into it,
	// and malloc's bookkeeping overwrites the first bytes.
	g, w := rgba(got), rgba(want)
	if !bytes.Equal(g.Pix[g.Stride:], w.Pix[w.Stride:]) {
		t.Error("pixels differ from gen2brain's decoder")
	}
	cfg, err := cfgOf(data)
	if err != nil {
		t.Fatal(err)
	}
	wantCfg, err := theirCfg(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if cfg != wantCfg {
		t.Errorf("config %+v, gen2brain %+v", cfg, wantCfg)
	}
	checkPeak(t, got, memory)
	return got
}

func TestAVIF(t *testing.T) {
	skipUnderRace(t)
	var buf bytes.Buffer
	if err := avif.Encode(&buf, smooth(48, 32), avif.Options{Quality: 90, Speed: 10}); err != nil {
		t.Fatal(err)
	}
	sameAsGen2brain(t, buf.Bytes(), "avif")
}

func TestHEIC(t *testing.T) {
	skipUnderRace(t)
	photos, _ := filepath.Glob("../../../data/sample/*/*.jpg")
	if len(photos) == 0 {
		t.Skip("no sample photos in data/sample: run scripts/fetch-sample.sh")
	}
	dir := t.TempDir()
	data, err := os.ReadFile(heiftest.Encode(t, dir, photos[0], "heic", "-q", "90"))
	if err != nil {
		t.Fatal(err)
	}
	sameAsGen2brain(t, data, "heic")
	data, err = os.ReadFile(heiftest.Encode(t, dir, photos[0], "avif", "-s", "10"))
	if err != nil {
		t.Fatal(err)
	}
	sameAsGen2brain(t, data, "avif")
}

func TestRefused(t *testing.T) {
	skipUnderRace(t)
	for _, data := range [][]byte{nil, []byte("\x00\x00\x00\x18ftypavif\x00\x00\x00\x00avifmif1"), bytes.Repeat([]byte{0xff}, 100)} {
		if _, err := DecodeAVIF(data); !errors.Is(err, ErrDecode) {
			t.Errorf("DecodeAVIF(%q): %v, want ErrDecode", data, err)
		}
		if _, err := DecodeHEIC(data); !errors.Is(err, ErrDecode) {
			t.Errorf("DecodeHEIC(%q): %v, want ErrDecode", data, err)
		}
	}
}

// TestCameraMemory checks the memory bounds on a 12 MP photo in each format
// (imageio.DecodeMemory counts them for ingest's decode budget): encoding
// and decoding take about 20 s.
func TestCameraMemory(t *testing.T) {
	skipUnderRace(t)
	if testing.Short() {
		t.Skip("encodes and decodes 12 MP photos")
	}
	src := "../../../data/camera/storm-420.jpg"
	if _, err := os.Stat(src); err != nil {
		t.Skip("no camera photos: run scripts/fetch-camera-photos.sh")
	}
	dir := t.TempDir()
	for _, tc := range []struct {
		format string
		args   []string
		decode func([]byte) (Image, error)
		memory func(w, h int) int64
	}{
		{"heic", []string{"-q", "50"}, DecodeHEIC, HEICMemory},
		{"avif", []string{"-s", "10", "-j", "2"}, DecodeAVIF, AVIFMemory},
	} {
		data, err := os.ReadFile(heiftest.Encode(t, dir, src, tc.format, tc.args...))
		if err != nil {
			t.Fatal(err)
		}
		img, err := tc.decode(data)
		if err != nil {
			t.Fatal(err)
		}
		checkPeak(t, img, tc.memory)
	}
}

// checkPeak wants the memory a decode took within memory's bound for its
// size, and not zero.
func checkPeak(t *testing.T, img Image, memory func(w, h int) int64) {
	t.Helper()
	size := img.Bounds().Size()
	bound := memory(size.X, size.Y)
	t.Logf("%v: peak %.1f MB, %.1f bytes a pixel, bound %.1f MB", size, float64(img.PeakMemory)/(1<<20),
		float64(img.PeakMemory)/float64(size.X*size.Y), float64(bound)/(1<<20))
	if img.PeakMemory <= 0 || img.PeakMemory > bound {
		t.Errorf("%v: the decode took %d bytes, the bound is %d", size, img.PeakMemory, bound)
	}
}

// FuzzDecode: on any bytes, each decoder fails or succeeds as the gen2brain
// package's own does on them, without a panic, and an image it returns has
// the header's bounds.
func FuzzDecode(f *testing.F) {
	skipUnderRace(f)
	var buf bytes.Buffer
	if err := avif.Encode(&buf, smooth(16, 8), avif.Options{Quality: 50, Speed: 10}); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, tc := range []struct {
			name   string
			ours   func([]byte) (Image, error)
			config func([]byte) (image.Config, error)
			theirs func(io.Reader) (image.Image, error)
		}{
			{"avif", DecodeAVIF, AVIFConfig, avif.Decode},
			{"heic", DecodeHEIC, HEICConfig, heic.Decode},
		} {
			img, err := tc.ours(data)
			_, theirErr := tc.theirs(bytes.NewReader(data))
			if (err == nil) != (theirErr == nil) {
				t.Fatalf("%s: error %v, gen2brain's %v", tc.name, err, theirErr)
			}
			if err != nil {
				continue
			}
			cfg, err := tc.config(data)
			if err != nil {
				t.Fatalf("%s: decodes, but its header does not: %v", tc.name, err)
			}
			if img.Bounds() != image.Rect(0, 0, cfg.Width, cfg.Height) {
				t.Fatalf("%s: decoded %v, the header says %dx%d", tc.name, img.Bounds(), cfg.Width, cfg.Height)
			}
		}
	})
}
