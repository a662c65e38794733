package main

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deeprank/deeprank/imageio"
)

// writeImages writes n 40x30 PNGs of different patterns into dir; the
// first is transparent on its left half.
func writeImages(t *testing.T, dir string, n int) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		img := image.NewNRGBA(image.Rect(0, 0, 40, 30))
		for y := range 30 {
			for x := range 40 {
				a := uint8(255)
				if i == 0 && x < 20 {
					a = 0
				}
				img.SetNRGBA(x, y, color.NRGBA{uint8(x * 6), uint8(y*8 + i*40), uint8(i * 60), a})
			}
		}
		var buf bytes.Buffer
		if err := png.Encode(&buf, img); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, string(rune('a'+i))+".png"), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func decode(t *testing.T, path string) image.Image {
	t.Helper()
	img, err := imageio.DecodeFile(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestWriteSource(t *testing.T) {
	src := filepath.Join(t.TempDir(), "heldout", "icon", "set")
	writeImages(t, src, 4)
	out := filepath.Join(t.TempDir(), "set")
	if err := writeSource(src, out, 4); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"a", "b", "c", "d"} {
		orig := onWhite(decode(t, filepath.Join(out, "gallery", key, "orig.png")))
		q := func(name, ext string) image.Image { return decode(t, filepath.Join(out, "queries", name, key, "q"+ext)) }
		sizes := []struct {
			name, ext string
			w, h      int
		}{{"crop", ".png", 28, 21}, {"flip", ".png", 40, 30}, {"grey", ".png", 40, 30}, {"rotate", ".png", 40, 30},
			{"jpeg", ".jpg", 40, 30}, {"color", ".png", 40, 30}, {"downscale", ".png", 16, 12}}
		for _, s := range sizes {
			if b := q(s.name, s.ext).Bounds(); b.Dx() != s.w || b.Dy() != s.h {
				t.Errorf("%s/%s is %dx%d, want %dx%d", s.name, key, b.Dx(), b.Dy(), s.w, s.h)
			}
		}
		flipped := q("flip", ".png")
		grey := q("grey", ".png")
		for y := range 30 {
			for x := range 40 {
				if got, want := color.RGBAModel.Convert(flipped.At(39-x, y)), orig.RGBAAt(x, y); got != want {
					t.Fatalf("flip/%s at (%d, %d) = %v, want %v (the original's mirror, on white)", key, 39-x, y, got, want)
				}
				if r, g, b, _ := grey.At(x, y).RGBA(); r != g || g != b {
					t.Fatalf("grey/%s at (%d, %d) is not grey", key, x, y)
				}
			}
		}
		if matches, _ := filepath.Glob(filepath.Join(out, "queries", "mix", key, "q.*")); len(matches) != 1 {
			t.Errorf("mix/%s: %v, want one copy", key, matches)
		}
	}
	// A transparent original is judged on white, as decoding sees it.
	if c := color.RGBAModel.Convert(decode(t, filepath.Join(out, "queries", "color", "a", "q.png")).At(0, 0)); c != (color.RGBA{255, 255, 255, 255}) {
		t.Errorf("a transparent pixel's colour copy is %v, want white", c)
	}
	if err := writeSource(src, out, 5); err == nil || !strings.Contains(err.Error(), "fewer than the 5 originals") {
		t.Errorf("too few images: err = %v", err)
	}
}
