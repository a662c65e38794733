package embedder

import (
	"bytes"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"testing"

	"github.com/deeprank/deeprank/imageio"
	"github.com/deeprank/deeprank/internal/fixture"
	"github.com/deeprank/deeprank/model"
)

func TestPrepare(t *testing.T) {
	// A dark subject on a white 48x48 canvas.
	framed := image.NewRGBA(image.Rect(0, 0, 48, 48))
	draw.Draw(framed, framed.Rect, image.NewUniform(color.White), image.Point{}, draw.Src)
	draw.Draw(framed, image.Rect(8, 16, 24, 40), image.NewUniform(color.RGBA{20, 40, 160, 255}), image.Point{}, draw.Src)
	plain := model.Spec{InputSize: 16}
	trim := model.Spec{InputSize: 16, TrimBorders: true}
	for _, tc := range []struct {
		name   string
		spec   model.Spec
		square *image.RGBA
		same   bool    // the square itself is the input
		dark   float64 // the share of the input the subject covers, within 0.1
	}{
		{"the input size, untrimmed", plain, imageio.Square(framed, 16), true, 16 * 24 / (48. * 48)},
		{"larger, untrimmed", plain, imageio.Square(framed, 32), false, 16 * 24 / (48. * 48)},
		{"trimmed", trim, imageio.Square(framed, trim.SquareSide()), false, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Prepare(tc.spec, tc.square)
			if got.Rect != image.Rect(0, 0, 16, 16) {
				t.Fatalf("bounds %v, want 16x16", got.Rect)
			}
			if (got == tc.square) != tc.same {
				t.Errorf("returned the square itself: %v, want %v", got == tc.square, tc.same)
			}
			// Untrimmed, the subject keeps its share of the canvas;
			// trimmed, it fills the input but for resampling's soft edge.
			var dark int
			for i := 0; i < len(got.Pix); i += 4 {
				if got.Pix[i] < 128 {
					dark++
				}
			}
			if share := float64(dark) / 256; share < tc.dark-0.1 || share > tc.dark+0.1 {
				t.Errorf("the subject covers %.2f of the input, want %.2f", share, tc.dark)
			}
		})
	}
}

// TestDecodeTrims checks that Decode frames by content when the model's
// spec trims borders: a subject with a white margin and the subject alone
// give the same input, to resampling.
func TestDecodeTrims(t *testing.T) {
	subject, margin := fixture.Margined()

	for _, trim := range []bool{false, true} {
		spec := model.DefaultSpec()
		spec.InputSize, spec.TrimBorders = 16, trim
		m, err := model.New(spec, model.UnitNormalization())
		if err != nil {
			t.Fatal(err)
		}
		e, err := New(m, nil)
		if err != nil {
			t.Fatal(err)
		}
		var ins []*Input
		for _, img := range []image.Image{subject, margin} {
			var buf bytes.Buffer
			if err := png.Encode(&buf, img); err != nil {
				t.Fatal(err)
			}
			in, err := e.Decode(buf.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			ins = append(ins, in)
		}
		var diff float64
		for i := range ins[0].tensors {
			d := float64(ins[0].tensors[i] - ins[1].tensors[i])
			diff += max(d, -d)
		}
		diff /= float64(len(ins[0].tensors))
		if trim && diff > 0.1 || !trim && diff < 0.3 {
			t.Errorf("trim %v: mean difference of the two inputs %.3f (normalised units), want under 0.1 trimmed and over 0.3 whole", trim, diff)
		}
	}
}
