package rerank

import (
	"image"
	"testing"
)

func TestFeaturesFlat(t *testing.T) {
	flat := image.NewRGBA(image.Rect(0, 0, 64, 64))
	for i := range flat.Pix {
		flat.Pix[i] = 200
	}
	f := picture(flat).features(false)
	if len(f.points) != 0 {
		t.Errorf("a flat picture has %d corners, want 0", len(f.points))
	}
	busy := picture(shapes(5, 200, 200)).features(false)
	if got := f.inliers(busy); got != 0 {
		t.Errorf("a flat query has %d inliers, want 0", got)
	}
	if got := busy.inliers(f); got != 0 {
		t.Errorf("a flat hit has %d inliers, want 0", got)
	}
}

// BenchmarkFeatures: a picture's corners and descriptors, found once for
// each hit and twice for the query (its mirror image).
func BenchmarkFeatures(b *testing.B) {
	p := picture(shapes(1, 320, 240))
	for b.Loop() {
		p.features(false)
	}
}

// BenchmarkInliers: matching a query's corners with one hit's.
func BenchmarkInliers(b *testing.B) {
	q := picture(crop(shapes(1, 320, 240), 0.7, 0.3, 0.6)).features(false)
	h := picture(shapes(1, 320, 240)).features(false)
	for b.Loop() {
		q.inliers(h)
	}
}
