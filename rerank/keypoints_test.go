package rerank

import (
	"image"
	"testing"

	"github.com/deeprank/deeprank/imageio"
)

func TestFeaturesFlat(t *testing.T) {
	flat := image.NewRGBA(image.Rect(0, 0, 64, 64))
	for i := range flat.Pix {
		flat.Pix[i] = 200
	}
	f := picture(flat).views(false)
	if len(f.squashed.points) != 0 || f.own != nil {
		t.Errorf("a flat square picture has %d corners and %v at its own aspect, want none", len(f.squashed.points), f.own)
	}
	busy := picture(shapes(5, 200, 200)).views(false)
	if got := f.inliers(busy); got != 0 {
		t.Errorf("a flat query has %d inliers, want 0", got)
	}
	if got := busy.inliers(f); got != 0 {
		t.Errorf("a flat hit has %d inliers, want 0", got)
	}
}

// TestInliersOwnAspect: a picture far from square, turned or cropped to
// another aspect, keeps its corners in place; in a square that squashes
// it, neither edit is a similarity (8 to 16 inliers where these keep 20
// to 100).
func TestInliersOwnAspect(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(src *image.RGBA) image.Image
		inliers int
	}{
		{"turned by 15 degrees", func(s *image.RGBA) image.Image { return imageio.Rotate(s, 15, 0) }, 40},
		{"turned back by 10 degrees", func(s *image.RGBA) image.Image { return imageio.Rotate(s, -10, 0) }, 40},
		{"a crop of half its length", func(s *image.RGBA) image.Image {
			if s.Rect.Dx() > s.Rect.Dy() {
				return cropSides(s, 0.5, 1, 0.3, 0.3)
			}
			return cropSides(s, 1, 0.5, 0.3, 0.3)
		}, 20},
		{"a crop of 60% of its width, 90% of its height", func(s *image.RGBA) image.Image { return cropSides(s, 0.6, 0.9, 0.5, 0.5) }, 20},
	}
	for _, size := range []image.Point{{400, 160}, {160, 400}} {
		src := shapes(1, size.X, size.Y)
		thumb := picture(src).Thumb()
		if got := picture(shapes(11, size.X, size.Y)).NewQuery().Inliers(thumb); got >= 8 {
			t.Errorf("%v: another picture has %d inliers, want fewer than 8", size, got)
		}
		for _, tc := range tests {
			if got := picture(tc.edit(src)).NewQuery().Inliers(thumb); got < tc.inliers {
				t.Errorf("%v, %s: %d inliers, want at least %d", size, tc.name, got, tc.inliers)
			}
		}
	}
}

// BenchmarkFeatures: a picture's corners and descriptors, both ways (it
// is not square), found once for each hit and twice for the query (its
// mirror image).
func BenchmarkFeatures(b *testing.B) {
	p := picture(shapes(1, 320, 240))
	for b.Loop() {
		p.views(false)
	}
}

// BenchmarkInliers: matching a query's corners with one hit's, both
// ways.
func BenchmarkInliers(b *testing.B) {
	q := picture(crop(shapes(1, 320, 240), 0.7, 0.3, 0.6)).views(false)
	h := picture(shapes(1, 320, 240)).views(false)
	for b.Loop() {
		q.inliers(h)
	}
}
