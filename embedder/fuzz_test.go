package embedder

import (
	"bytes"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"testing"

	"github.com/deeprank/deeprank/imageio"
	"github.com/deeprank/deeprank/model"
)

// FuzzDecode feeds arbitrary bytes through the embedder's public entry
// point for outside images: it must return an input or an error, never
// panic, and never decode past the pixel limit.
func FuzzDecode(f *testing.F) {
	img := image.NewRGBA(image.Rect(0, 0, 30, 20))
	for i := range img.Pix {
		img.Pix[i] = uint8(i)
	}
	for _, enc := range []func(*bytes.Buffer) error{
		func(b *bytes.Buffer) error { return png.Encode(b, img) },
		func(b *bytes.Buffer) error { return jpeg.Encode(b, img, nil) },
		func(b *bytes.Buffer) error { return gif.Encode(b, img, nil) },
	} {
		var buf bytes.Buffer
		if err := enc(&buf); err != nil {
			f.Fatal(err)
		}
		f.Add(buf.Bytes())
	}
	s := model.DefaultSpec()
	s.InputSize, s.Width, s.Stages, s.DenseDim, s.EmbeddingDim = 16, 2, 2, 4, 4
	s.Shallow = model.ScaledShallowBranches(16)
	m, err := model.New(s, model.UnitNormalization())
	if err != nil {
		f.Fatal(err)
	}
	e, err := New(m, &Options{Decode: &imageio.Options{MaxPixels: 1 << 20}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := e.Decode(data)
		if err != nil {
			return
		}
		if in.Width*in.Height > 1<<20 || len(in.tensors) != 3*16*16 {
			t.Fatalf("decoded %dx%d into %d values", in.Width, in.Height, len(in.tensors))
		}
		if v := e.Embed([]*Input{in}); len(v) != 1 || len(v[0]) != 4 {
			t.Fatalf("embedding %v", v)
		}
	})
}
