package embedder

import (
	"image"
	"image/color"
	"path/filepath"
	"slices"
	"testing"

	"github.com/deeprank/deeprank/imageio"
	"github.com/deeprank/deeprank/internal/fixture"
	"github.com/deeprank/deeprank/model"
)

// TestEmbedSquaresMatchesEmbedFiles checks that the batch path eval and
// the trainer use gives the vectors EmbedFiles gives for the same pictures,
// across more images than one batch (chunks of 64) and with a repeated path.
func TestEmbedSquaresMatchesEmbedFiles(t *testing.T) {
	dir := t.TempDir()
	m, err := model.Load(fixture.TinyModel(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	size := m.Spec.InputSize
	const n = 70
	var paths []string
	squares := map[string]*image.RGBA{}
	for i := range n {
		img := image.NewRGBA(image.Rect(0, 0, size, size))
		for y := range size {
			for x := range size {
				img.SetRGBA(x, y, color.RGBA{uint8(i * 3), uint8(x * 4), uint8(y*2 + i), 255})
			}
		}
		p := filepath.Join(dir, "img", string(rune('a'+i%26))+string(rune('a'+i/26))+".png")
		fixture.WritePNG(t, p, img)
		paths = append(paths, p)
		squares[p] = imageio.Square(img, size)
	}
	e, err := New(m, &Options{BatchSize: 16})
	if err != nil {
		t.Fatal(err)
	}
	files, err := e.EmbedFiles(t.Context(), paths)
	if err != nil {
		t.Fatal(err)
	}
	net, err := model.NewNet(m, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := EmbedSquares(net, m.Normalization, append(slices.Clone(paths), paths[0]), func(p string) []*image.RGBA { return []*image.RGBA{squares[p]} })
	if len(got) != n {
		t.Fatalf("EmbedSquares gave %d vectors for %d distinct paths", len(got), n)
	}
	for i, p := range paths {
		if files[i].Err != nil {
			t.Fatal(files[i].Err)
		}
		for j, v := range got[p] {
			if d := v - files[i].Vector[j]; d > 1e-5 || d < -1e-5 {
				t.Fatalf("%s: value %d is %g by EmbedSquares and %g by EmbedFiles", p, j, v, files[i].Vector[j])
			}
		}
	}
}
