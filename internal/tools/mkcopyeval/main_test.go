package main

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/deeprank/deeprank/dataset"
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

// filesUnder lists the files under dir, as slash paths relative to it, in
// lexical order.
func filesUnder(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
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
		q := func(name, ext string) image.Image {
			return decode(t, filepath.Join(out, "queries", name, key, "q"+ext))
		}
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
		for _, s := range []struct {
			set, name string
			w, h      int
		}{{"downscale-off", "q0.25.png", 10, 8}, {"downscale-off", "q0.6.png", 24, 18}, {"crop-off", "q0.65.png", 26, 20}, {"crop-off", "q0.85.png", 34, 26},
			{"crop-sides", "q0.5x0.9.png", 20, 27}, {"crop-sides", "q0.9x0.5.png", 36, 15},
			{"stretch", "q0.5x1.png", 20, 30}, {"stretch", "q1x0.5.png", 40, 15}} {
			if b := decode(t, filepath.Join(out, "queries", s.set, key, s.name)).Bounds(); b.Dx() != s.w || b.Dy() != s.h {
				t.Errorf("%s/%s/%s is %dx%d, want %dx%d", s.set, key, s.name, b.Dx(), b.Dy(), s.w, s.h)
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

// TestWriteValidation checks that the validation set holds exactly the
// images a trainer with val_fraction 0.1 holds out of the training sources.
func TestWriteValidation(t *testing.T) {
	train := filepath.Join(t.TempDir(), "train")
	for _, src := range []string{"icon/a", "photo/b"} {
		writeImages(t, filepath.Join(train, src), 20)
	}
	var want []string
	for _, src := range []string{"icon/a", "photo/b"} {
		for i := range 20 {
			if name := src + "/" + string(rune('a'+i)) + ".png"; dataset.HeldOut(dataset.ValidationSalt, name, valFraction) {
				want = append(want, strings.ReplaceAll(strings.TrimSuffix(name, ".png"), "/", "_"))
			}
		}
	}
	if len(want) < 2 {
		t.Fatalf("only %d of 40 images held out: make more", len(want))
	}
	out := filepath.Join(t.TempDir(), "val")
	if err := writeValidation(train, out, 2); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(filepath.Join(out, "gallery"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if !slices.Equal(got, want) {
		t.Errorf("gallery %v, want the held-out %v", got, want)
	}
	if qs, _ := os.ReadDir(filepath.Join(out, "queries", "crop")); len(qs) != 2 {
		t.Errorf("%d cropped copies, want 2", len(qs))
	}
}

// TestWriteFrames cuts sprite strips into frames: the first queries,
// frames 2, 4 and 6 are the gallery, blank frames and other images are
// left out.
func TestWriteFrames(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "heldout", "rendered", "game")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	strip := func(name string, blankFrames ...int) {
		img := image.NewRGBA(image.Rect(0, 0, 8, 64))
		for y := range 64 {
			for x := range 8 {
				c := color.RGBA{uint8(x * 30), uint8(y * 4), 90, 255}
				if slices.Contains(blankFrames, y/8) {
					c = color.RGBA{255, 255, 255, 255}
				}
				img.SetRGBA(x, y, c)
			}
		}
		var buf bytes.Buffer
		if err := png.Encode(&buf, img); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".png"), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	strip("walk")
	strip("jump", 4)       // frame 4 is blank: left out of the gallery
	strip("empty", 0)      // the query frame is blank: no entry
	writeImages(t, dir, 1) // not a strip
	out := filepath.Join(t.TempDir(), "frames")
	if err := writeFrames(dir, out); err != nil {
		t.Fatal(err)
	}
	got := filesUnder(t, out)
	want := []string{"gallery/jump/f2.png", "gallery/jump/f6.png", "gallery/walk/f2.png", "gallery/walk/f4.png", "gallery/walk/f6.png",
		"queries/jump/f0.png", "queries/walk/f0.png"}
	if !slices.Equal(got, want) {
		t.Errorf("files %v, want %v", got, want)
	}
	if b := decode(t, filepath.Join(out, "gallery/walk/f4.png")).Bounds(); b.Dx() != 8 || b.Dy() != 8 {
		t.Errorf("a frame is %v, want 8x8", b)
	}
}

// TestWriteValidationFrames lays out the groups the trainer holds out
// whole, and no other.
func TestWriteValidationFrames(t *testing.T) {
	corpus := t.TempDir()
	var groups strings.Builder
	var want []string
	for i := range 60 {
		g := "u/anim" + string(rune('A'+i%26)) + strings.Repeat("x", i/26)
		dir := filepath.Join(corpus, "train", "rendered", g)
		writeImages(t, dir, 3)
		for _, f := range []string{"a", "b", "c"} {
			groups.WriteString("rendered/" + g + "/" + f + ".png\t" + g + "\n")
		}
		if dataset.HeldOut(dataset.ValidationSalt, "group:"+g, valFraction) {
			key := strings.ReplaceAll(g, "/", "_")
			want = append(want, "gallery/"+key+"/f1.png", "gallery/"+key+"/f2.png", "queries/"+key+"/f0.png")
		}
	}
	if len(want) < 6 {
		t.Fatalf("only %d of 60 groups held out: make more", len(want)/3)
	}
	if err := os.WriteFile(filepath.Join(corpus, "groups.tsv"), []byte(groups.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "frames")
	if err := writeValidationFrames(corpus, out); err != nil {
		t.Fatal(err)
	}
	got := filesUnder(t, out)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("files %v, want %v", got, want)
	}
}
