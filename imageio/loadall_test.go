package imageio

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// TestLoadAll loads JPEGs (reduced on the way), a PNG and a missing file on
// several goroutines (run it with -race) and checks each square against
// the one-file path's (DecodeFor, SquareReduced) and the full decode's.
func TestLoadAll(t *testing.T) {
	const size = 64
	dir := t.TempDir()
	var paths []string
	full := map[string][]byte{}
	for i, sz := range [][2]int{{600, 400}, {1100, 1300}, {300, 250}, {2100, 1070}} {
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, smoothPhoto(sz[0], sz[1]), &jpeg.Options{Quality: 90}); err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("p%d.jpg", i)
		paths = append(paths, name)
		full[name] = buf.Bytes()
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, smoothPhoto(500, 300)); err != nil {
		t.Fatal(err)
	}
	paths = append(paths, "p.png")
	full["p.png"] = buf.Bytes()
	for name, data := range full {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := LoadAll(context.Background(), dir, append(paths, "missing.jpg"), size, 3,
		func(img image.Image, full image.Rectangle) *image.RGBA { return SquareReduced(img, full, size) }, nil)
	if !errors.Is(err, fs.ErrNotExist) || !bytes.Contains([]byte(err.Error()), []byte("missing.jpg")) {
		t.Errorf("error %v, want one naming missing.jpg", err)
	}
	if len(got) != len(paths) {
		t.Fatalf("loaded %d images, want %d", len(got), len(paths))
	}
	for _, p := range paths {
		reduced, fullRect, err := DecodeFor(full[p], size, nil)
		if err != nil {
			t.Fatal(err)
		}
		if one := SquareReduced(reduced, fullRect, size); !bytes.Equal(one.Pix, got[p].Pix) {
			t.Errorf("%s: LoadAll and DecodeFor differ", p)
		}
		img, err := Decode(full[p], nil)
		if err != nil {
			t.Fatal(err)
		}
		if d := meanDiff(got[p], Square(img, size)); d > 2 {
			t.Errorf("%s: differs from the full decode's square by %.3f levels on average, want <= 2", p, d)
		}
	}
}
