package embedder_test

import (
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deeprank/deeprank/embedder"
	"github.com/deeprank/deeprank/internal/heiftest"
	defaultmodel "github.com/deeprank/deeprank/models/default"
)

// TestHEIFFindsOriginal: a sample photo saved as HEIC or AVIF (what phones
// write) embeds, with the default model, within 0.05 of its JPEG original
// and nearer it than any other sample photo but its other size (NAME.jpg
// and NAME@2x.jpg are one picture at two sizes, a few thousandths apart).
func TestHEIFFindsOriginal(t *testing.T) {
	photos, _ := filepath.Glob("../data/sample/*/*.jpg")
	if len(photos) < 10 {
		t.Skip("no sample photos in ../data/sample: run scripts/fetch-sample.sh")
	}
	photos = photos[:10]
	m, err := defaultmodel.Load()
	if err != nil {
		t.Fatal(err)
	}
	e, err := embedder.New(m, nil)
	if err != nil {
		t.Fatal(err)
	}
	originals, err := e.EmbedFiles(t.Context(), photos)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for i, photo := range photos[:2] {
		for _, format := range []string{"heic", "avif"} {
			copy := heiftest.Encode(t, dir, photo, format)
			res, err := e.EmbedFiles(t.Context(), []string{copy})
			if err != nil || res[0].Err != nil {
				t.Fatalf("%s: %v %v", copy, err, res[0].Err)
			}
			nearest, best := -1, math.Inf(1)
			for j, o := range originals {
				if d := distance(res[0].Vector, o.Vector); d < best {
					nearest, best = j, d
				}
			}
			own := distance(res[0].Vector, originals[i].Vector)
			t.Logf("%s: %.4f from its original, nearest %s at %.4f", filepath.Base(copy), own, filepath.Base(photos[nearest]), best)
			if picture(photos[nearest]) != picture(photo) || own >= 0.05 {
				t.Errorf("%s: %.4f from its original %s, nearest %s at %.4f; want the original under 0.05 and no other picture nearer", filepath.Base(copy), own, filepath.Base(photo), filepath.Base(photos[nearest]), best)
			}
		}
	}
}

// picture names a sample photo's picture, whichever its size.
func picture(path string) string { return strings.Replace(filepath.Base(path), "@2x", "", 1) }

// distance is the L2 distance of two vectors.
func distance(a, b []float32) float64 {
	var s float64
	for i := range a {
		d := float64(a[i] - b[i])
		s += d * d
	}
	return math.Sqrt(s)
}
