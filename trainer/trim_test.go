package trainer

import (
	"context"
	"image"
	"path/filepath"
	"testing"

	"github.com/deeprank/deeprank/internal/fixture"
	"github.com/deeprank/deeprank/model"
)

// TestLoadImagesTrims checks that the trainer frames its images as
// inference does when the spec trims borders: a subject with a white
// margin and the subject alone are cached, and reach the network, alike.
func TestLoadImagesTrims(t *testing.T) {
	dir := t.TempDir()
	subject, margined := fixture.Margined()
	fixture.WritePNG(t, filepath.Join(dir, "subject.png"), subject)
	fixture.WritePNG(t, filepath.Join(dir, "margin.png"), margined)
	for _, trim := range []bool{false, true} {
		spec := model.Spec{InputSize: 16, TrimBorders: trim}
		cache, err := loadImages(context.Background(), dir, []string{"subject.png", "margin.png"}, spec, 32, 1, nil)
		if err != nil {
			t.Fatal(err)
		}
		f := newBatchFiller(cache, model.UnitNormalization(), spec, 1)
		a, b := f.input(cache["subject.png"]), f.input(cache["margin.png"])
		if a.Rect.Size() != image.Pt(16, 16) {
			t.Fatalf("input %v, want 16x16", a.Rect.Size())
		}
		if d := pixelDiff(a, b); trim && d > 12 || !trim && d < 40 {
			t.Errorf("trim %v: the subject and its margined copy differ by %.1f of 255, want under 12 trimmed, over 40 whole", trim, d)
		}
	}
}

// pixelDiff is the mean absolute difference of two same-size images'
// bytes.
func pixelDiff(a, b *image.RGBA) float64 {
	var sum float64
	for i := range a.Pix {
		sum += max(float64(a.Pix[i])-float64(b.Pix[i]), float64(b.Pix[i])-float64(a.Pix[i]))
	}
	return sum / float64(len(a.Pix))
}
