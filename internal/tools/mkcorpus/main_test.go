package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deeprank/deeprank/dataset"
)

// gradient is a w x h image whose red grows left to right and green top
// to bottom, shifted by seed so that different seeds differ in content.
func gradient(w, h, seed int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetNRGBA(x, y, color.NRGBA{uint8(x * 255 / w), uint8(y * 255 / h), uint8(seed * 37), 255})
		}
	}
	return img
}

// noise is a w x h image of random pixels.
func noise(w, h int, seed uint64) *image.NRGBA {
	rng := rand.New(rand.NewPCG(seed, 0))
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = uint8(rng.IntN(256))
	}
	for i := 3; i < len(img.Pix); i += 4 {
		img.Pix[i] = 255
	}
	return img
}

func mustWrite(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func mustPNG(t *testing.T, path string, img image.Image) {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, path, buf.Bytes())
}

// patternFile encodes img as a GIMP pattern of bpp bytes a pixel.
func patternFile(img *image.NRGBA, bpp int) []byte {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	name := "test\x00"
	var b bytes.Buffer
	for _, v := range []uint32{uint32(24 + len(name)), 1, uint32(w), uint32(h), uint32(bpp)} {
		binary.Write(&b, binary.BigEndian, v)
	}
	b.WriteString("GPAT" + name)
	for i := 0; i < len(img.Pix); i += 4 {
		switch bpp {
		case 1:
			b.WriteByte(img.Pix[i])
		case 2:
			b.Write([]byte{img.Pix[i], img.Pix[i+3]})
		default:
			b.Write(img.Pix[i : i+bpp])
		}
	}
	return b.Bytes()
}

// TestRun lays out three sources of generated images and checks every
// count of SOURCES.tsv, every stored file and every dropped one.
func TestRun(t *testing.T) {
	root := t.TempDir()
	// Source icons (held out, listed last in the plan but processed first):
	// one icon at two sizes, a tiny one, a blank, a transparent and a green one.
	mustPNG(t, filepath.Join(root, "icons/64x64/apps/a.png"), gradient(64, 64, 1))
	mustPNG(t, filepath.Join(root, "icons/32x32/apps/a.png"), gradient(32, 32, 1))
	mustPNG(t, filepath.Join(root, "icons/scalable/apps/tiny.png"), gradient(20, 40, 2))
	blank := image.NewGray(image.Rect(0, 0, 64, 64))
	for i := range blank.Pix {
		blank.Pix[i] = 200
	}
	mustPNG(t, filepath.Join(root, "icons/64x64/apps/blank.png"), blank)
	mustPNG(t, filepath.Join(root, "icons/64x64/apps/clear.png"), image.NewNRGBA(image.Rect(0, 0, 64, 64)))
	// Green as light as the grey beside it: flat in luminance, not blank.
	green := image.NewNRGBA(image.Rect(0, 0, 64, 64))
	for y := range 64 {
		for x := range 64 {
			c := color.NRGBA{128, 128, 128, 255}
			if x < 32 {
				c = color.NRGBA{0, 218, 0, 255}
			}
			green.SetNRGBA(x, y, c)
		}
	}
	mustPNG(t, filepath.Join(root, "icons/64x64/apps/green.png"), green)
	// Source art (train): icon a again at 128 px (a duplicate of the held-out
	// one), the held-out icon's very bytes, a large JPEG photo, a GIMP
	// pattern, a broken file, an SVG with no rasteriser, and a file the
	// exclude pattern leaves out.
	mustPNG(t, filepath.Join(root, "art/big-a.png"), gradient(128, 128, 1))
	mustPNG(t, filepath.Join(root, "art/again.png"), gradient(64, 64, 1))
	var jb bytes.Buffer
	if err := jpeg.Encode(&jb, noise(600, 300, 1), &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, filepath.Join(root, "art/photo.jpg"), jb.Bytes())
	mustWrite(t, filepath.Join(root, "art/stone.pat"), patternFile(noise(40, 48, 2), 3))
	mustWrite(t, filepath.Join(root, "art/broken.png"), []byte("\x89PNG\r\n\x1a\nnot really"))
	mustWrite(t, filepath.Join(root, "art/drawing.svg"), []byte(`<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"/>`))
	mustPNG(t, filepath.Join(root, "art/skip/other.png"), noise(64, 64, 3))
	// Source emoji: one code the default model evaluates on, one it trains on.
	var evalCode, trainCode string
	for i := 0; evalCode == "" || trainCode == ""; i++ {
		c := fmt.Sprintf("1f%03x", i)
		if dataset.HeldOut("", c, defaultModelHeldOut) {
			evalCode = c
		} else {
			trainCode = c
		}
	}
	mustPNG(t, filepath.Join(root, "emoji", evalCode+".png"), noise(64, 64, 4))
	mustPNG(t, filepath.Join(root, "emoji", trainCode+".png"), noise(64, 64, 5))

	plan := strings.Join([]string{
		"art\tpkg-art\t1.0\tdrawing\ttrain\tCC0\tart\t-\t^skip/",
		"emoji\tpkg-emoji\t2.0\ticon\ttrain-except-default-eval\tMIT\temoji\t-\t-",
		"icons\tpkg-icons\t3.0\ticon\theldout\tLGPL\ticons\t-\t-",
	}, "\n")
	mustWrite(t, filepath.Join(root, "plan.tsv"), []byte(plan))
	out := filepath.Join(t.TempDir(), "corpus")
	o := options{plan: filepath.Join(root, "plan.tsv"), root: root, out: out, workers: 2, stdout: io.Discard, rsvg: filepath.Join(root, "no-rsvg-convert")}
	if err := run(context.Background(), o); err != nil {
		t.Fatal(err)
	}

	sources, err := os.ReadFile(filepath.Join(out, "SOURCES.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	wantSources := "source\tpackage\tversion\tkind\tsplit\tlicence\tfiles\ttrain\theldout\tdropped_variant\tdropped_undecodable\tdropped_tiny\tdropped_blank\tdropped_duplicate\n" +
		"icons\tpkg-icons\t3.0\ticon\theldout\tLGPL\t6\t0\t2\t1\t0\t1\t2\t0\n" +
		"art\tpkg-art\t1.0\tdrawing\ttrain\tCC0\t6\t2\t0\t0\t2\t0\t0\t2\n" +
		"emoji\tpkg-emoji\t2.0\ticon\ttrain-except-default-eval\tMIT\t2\t1\t1\t0\t0\t0\t0\t0\n"
	if string(sources) != wantSources {
		t.Errorf("SOURCES.tsv:\n%s\nwant:\n%s", sources, wantSources)
	}

	// Every indexed image exists, at its stored size and format, in the
	// folder of its split, kind and source.
	index := readTSV(t, filepath.Join(out, "index.tsv"))
	want := map[string]struct {
		split, kind string
		w, h        int
		ext         string
	}{
		"icons/64x64/apps/a.png":      {"heldout", "icon", 64, 64, ".png"},
		"icons/64x64/apps/green.png":  {"heldout", "icon", 64, 64, ".png"},
		"art/photo.jpg":               {"train", "drawing", 256, 128, ".jpg"},
		"art/stone.pat":               {"train", "drawing", 40, 48, ".png"},
		"emoji/" + evalCode + ".png":  {"heldout", "icon", 64, 64, ".png"},
		"emoji/" + trainCode + ".png": {"train", "icon", 64, 64, ".png"},
	}
	if len(index) != len(want) {
		t.Errorf("index.tsv has %d images, want %d: %v", len(index), len(want), index)
	}
	for _, row := range index {
		src, file := row[3], row[4]
		w, ok := want[src+"/"+file]
		if !ok {
			t.Errorf("index.tsv has %s/%s, which should not be kept", src, file)
			continue
		}
		if row[1] != w.split || row[2] != w.kind || !strings.HasPrefix(row[0], w.split+"/"+w.kind+"/"+src+"/") || filepath.Ext(row[0]) != w.ext {
			t.Errorf("%s/%s stored as %v, want split %s kind %s ext %s", src, file, row, w.split, w.kind, w.ext)
		}
		f, err := os.Open(filepath.Join(out, row[0]))
		if err != nil {
			t.Error(err)
			continue
		}
		cfg, _, err := image.DecodeConfig(f)
		f.Close()
		if err != nil || cfg.Width != w.w || cfg.Height != w.h {
			t.Errorf("%s: %dx%d (%v), want %dx%d", row[0], cfg.Width, cfg.Height, err, w.w, w.h)
		}
		if row[5] != fmt.Sprint(w.w) || row[6] != fmt.Sprint(w.h) {
			t.Errorf("index.tsv gives %s/%s as %sx%s, want %dx%d", src, file, row[5], row[6], w.w, w.h)
		}
	}

	// Every file left out is listed with its reason.
	dropped := map[string]string{}
	for _, row := range readTSV(t, filepath.Join(out, "dropped.tsv")) {
		dropped[row[0]+"/"+row[1]] = row[2]
	}
	wantDropped := map[string]string{
		"icons/32x32/apps/a.png":       dropVariant,
		"icons/scalable/apps/tiny.png": dropTiny,
		"icons/64x64/apps/blank.png":   dropBlank,
		"icons/64x64/apps/clear.png":   dropBlank,
		"art/big-a.png":                dropDuplicate,
		"art/again.png":                dropDuplicate,
		"art/broken.png":               dropUndecodable,
		"art/drawing.svg":              dropUndecodable,
	}
	if fmt.Sprint(dropped) != fmt.Sprint(wantDropped) {
		t.Errorf("dropped.tsv: %v\nwant %v", dropped, wantDropped)
	}

	// A second run refuses to overwrite the layout.
	if err := run(context.Background(), o); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("second run into %s: %v, want an error saying it exists", out, err)
	}
}

// readTSV returns the rows of a TSV file after its header.
func readTSV(t *testing.T, path string) [][]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	var rows [][]string
	for _, l := range lines[1:] {
		rows = append(rows, strings.Split(l, "\t"))
	}
	return rows
}

// TestSameContentKey checks which edits keep the content key (the same
// picture at another size, or re-encoded) and which change it.
func TestSameContentKey(t *testing.T) {
	key := func(img image.Image) string {
		small := shrink(img, maxSide)
		thumb, _ := summarise(small)
		return contentKey(thumb, small.Rect.Dx(), small.Rect.Dy())
	}
	jpegged := func(img image.Image) image.Image {
		var b bytes.Buffer
		if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
			t.Fatal(err)
		}
		out, err := jpeg.Decode(&b)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	base := gradient(256, 128, 1)
	for _, c := range []struct {
		name string
		img  image.Image
		same bool
	}{
		{"half size", gradient(128, 64, 1), true},
		{"larger than stored", gradient(1024, 512, 1), true},
		{"JPEG", jpegged(base), true},
		{"other blue", gradient(256, 128, 2), false},
		{"other aspect", gradient(256, 64, 1), false},
		{"noise", noise(256, 128, 1), false},
	} {
		if got := key(c.img) == key(base); got != c.same {
			t.Errorf("%s: same key %v, want %v", c.name, got, c.same)
		}
	}
}

func TestVariantKey(t *testing.T) {
	for _, c := range []struct{ a, b string }{
		{"base/16x16/apps/kate.png", "base/256x256/apps/kate.png"},
		{"base/scalable/apps/kate.svgz", "base/48x48/apps/kate.png"},
		{"Kite/contents/images/1920x1080.jpg", "Kite/contents/images/5120x2880.png"},
		{"land/beach.jpg", "land/beach@2x.jpg"},
	} {
		if variantKey(c.a) != variantKey(c.b) {
			t.Errorf("%s and %s are not variants: %q, %q", c.a, c.b, variantKey(c.a), variantKey(c.b))
		}
	}
	for _, c := range []struct{ a, b string }{
		{"frames/1.png", "frames/2.png"},
		{"base/16x16/apps/kate.png", "base/16x16/apps/kwrite.png"},
		{"units/elf-attack-1.png", "units/elf-attack-2.png"},
		{"a/48x48x3/b.png", "a/b.png"},
	} {
		if variantKey(c.a) == variantKey(c.b) {
			t.Errorf("%s and %s taken as variants (%q)", c.a, c.b, variantKey(c.a))
		}
	}
}

func TestParsePlan(t *testing.T) {
	good := "a\tpkg\t1\tphoto\ttrain\tCC0\tdir\t-\t-"
	for _, c := range []struct{ name, plan, err string }{
		{"good", "# comment\n\n" + good + "\n", ""},
		{"columns", "a\tpkg\t1\tphoto\ttrain\tCC0\tdir\t-", "8 tab-separated columns"},
		{"empty column", "a\tpkg\t\tphoto\ttrain\tCC0\tdir\t-\t-", "column version is empty"},
		{"kind", "a\tpkg\t1\tvideo\ttrain\tCC0\tdir\t-\t-", `kind "video"`},
		{"split", "a\tpkg\t1\tphoto\teval\tCC0\tdir\t-\t-", `split "eval"`},
		{"name", "a/b\tpkg\t1\tphoto\ttrain\tCC0\tdir\t-\t-", "one path element"},
		{"twice", good + "\n" + good, "already used on line 1"},
		{"pattern", "a\tpkg\t1\tphoto\ttrain\tCC0\tdir\t(\t-", "column include"},
		{"nothing", "# only a comment\n", "no sources"},
	} {
		srcs, err := parsePlan(strings.NewReader(c.plan), "plan.tsv")
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.err == "" && (len(srcs) != 1 || srcs[0].Name != "a" || srcs[0].Dir != "dir" || srcs[0].Include != nil):
			t.Errorf("%s: parsed %+v", c.name, srcs)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err) || !strings.HasPrefix(err.Error(), "plan.tsv")):
			t.Errorf("%s: error %v, want one naming plan.tsv and saying %q", c.name, err, c.err)
		}
	}
}

func TestDecodePattern(t *testing.T) {
	src := noise(5, 3, 9)
	src.Pix[3] = 100 // one translucent pixel, kept by the formats with alpha
	for bpp := 1; bpp <= 4; bpp++ {
		img, err := decodePattern(patternFile(src, bpp))
		if err != nil {
			t.Fatalf("%d bytes a pixel: %v", bpp, err)
		}
		for y := range 3 {
			for x := range 5 {
				s := src.NRGBAAt(x, y)
				want := color.NRGBA{s.R, s.G, s.B, s.A}
				switch bpp {
				case 1:
					want = color.NRGBA{s.R, s.R, s.R, 255}
				case 2:
					want = color.NRGBA{s.R, s.R, s.R, s.A}
				case 3:
					want.A = 255
				}
				if got := img.At(x, y).(color.NRGBA); got != want {
					t.Fatalf("%d bytes a pixel: (%d,%d) = %v, want %v", bpp, x, y, got, want)
				}
			}
		}
	}
	whole := patternFile(src, 3)
	for _, c := range []struct {
		name string
		data []byte
	}{
		{"short", whole[:20]},
		{"no magic", append(append([]byte{}, whole[:20]...), "GPAX"...)},
		{"truncated pixels", whole[:len(whole)-1]},
		{"huge", func() []byte {
			d := append([]byte{}, whole...)
			binary.BigEndian.PutUint32(d[8:], 1<<20)
			return d
		}()},
		{"header past end", func() []byte {
			d := append([]byte{}, whole...)
			binary.BigEndian.PutUint32(d[0:], uint32(len(d)+1))
			return d
		}()},
	} {
		if _, err := decodePattern(c.data); err == nil {
			t.Errorf("%s: decoded", c.name)
		}
	}
}

// FuzzDecodePattern checks that no input makes decodePattern panic, and
// that what it decodes has the size the header declares.
func FuzzDecodePattern(f *testing.F) {
	f.Add(patternFile(noise(4, 4, 1), 4))
	f.Add(patternFile(noise(3, 2, 2), 1))
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := decodePattern(data)
		if err != nil {
			return
		}
		w, h := binary.BigEndian.Uint32(data[8:]), binary.BigEndian.Uint32(data[12:])
		if img.Bounds() != image.Rect(0, 0, int(w), int(h)) {
			t.Fatalf("decoded %v, header says %dx%d", img.Bounds(), w, h)
		}
	})
}
