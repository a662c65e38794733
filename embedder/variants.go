package embedder

import (
	"fmt"
	"image"
	"math"
	"slices"

	"github.com/deeprank/deeprank/imageio"
	"github.com/deeprank/deeprank/model"
)

// ItemSquares returns the network's input squares for a stored image's
// vectors (model.Spec.Variants), in their order: the image's own
// (Prepare), its grey copy, its mirror image, its rotations, each grid's
// crops row by row, then its downscaled copies. square is the image
// squared to spec.SquareSide(), as for Prepare, and full the image's own
// size; a crop or rotation of square is one of the image, squashed alike,
// and a downscaled copy is shrunk from full's size
// (imageio.Downscaled). Every path that stores images (EmbedItems, eval's
// galleries) goes through it.
func ItemSquares(spec model.Spec, square *image.RGBA, full image.Point) []*image.RGBA {
	whole := Prepare(spec, square)
	out := make([]*image.RGBA, 1, spec.PerItem())
	out[0] = whole
	v := spec.Variants
	if v == nil {
		return out
	}
	if v.Grey {
		grey := &image.RGBA{Pix: slices.Clone(whole.Pix), Stride: whole.Stride, Rect: whole.Rect}
		imageio.Grey(grey)
		out = append(out, grey)
	}
	if v.Mirror {
		out = append(out, mirror(whole))
	}
	for _, deg := range v.Rotations {
		out = append(out, Prepare(spec, imageio.Rotate(square, deg, float64(full.X)/float64(full.Y))))
	}
	b := square.Rect
	for _, g := range v.Crops {
		for _, r := range cropRects(b, g) {
			out = append(out, prepareCrop(spec, square.SubImage(r).(*image.RGBA)))
		}
	}
	for _, f := range v.Downscales {
		out = append(out, Prepare(spec, imageio.Downscaled(square, full, f)))
	}
	return out
}

// QueryVariants returns the network's input squares for a query's
// variants (Options.QueryVariants), in their order: the image's own
// (Prepare), its mirror image if the spec stores one, then its turns back
// by each of the spec's rotations (by -deg, undoing a turn by deg). A
// stored variant holds one edit of its image; a copy that went through
// two (a crop mirrored, a crop turned) meets a variant that holds one of
// them in the query variant that undoes the other. square and full are
// as for ItemSquares.
func QueryVariants(spec model.Spec, square *image.RGBA, full image.Point) []*image.RGBA {
	whole := Prepare(spec, square)
	out := []*image.RGBA{whole}
	v := spec.Variants
	if v == nil {
		return out
	}
	if v.Mirror {
		out = append(out, mirror(whole))
	}
	for _, deg := range v.Rotations {
		out = append(out, Prepare(spec, imageio.Rotate(square, -deg, float64(full.X)/float64(full.Y))))
	}
	return out
}

// prepareCrop is the input of a crop of the square: resampled straight to
// the input size, one Catmull-Rom pass where scaling it back up to the
// square's size first took two, and half the time an image's sixteen
// squares took (BenchmarkItemSquares). Trimming borders needs the
// square's size.
func prepareCrop(spec model.Spec, crop *image.RGBA) *image.RGBA {
	if spec.TrimBorders {
		return Prepare(spec, imageio.Square(crop, spec.SquareSide()))
	}
	return imageio.Square(crop, spec.InputSize)
}

// mirror returns img flipped left to right.
func mirror(img *image.RGBA) *image.RGBA {
	out := image.NewRGBA(img.Rect)
	w := img.Rect.Dx()
	for y := range img.Rect.Dy() {
		src := img.Pix[y*img.Stride : y*img.Stride+4*w]
		dst := out.Pix[y*out.Stride : y*out.Stride+4*w]
		for x := range w {
			copy(dst[4*x:4*x+4], src[4*(w-1-x):4*(w-x)])
		}
	}
	return out
}

// cropRects lays a grid of crops over b (g.Places across and down), each
// g.Shares of b's width and height, the first in b's top-left corner and
// the last in its bottom-right, evenly between (one along an axis: its
// middle).
func cropRects(b image.Rectangle, g model.CropGrid) []image.Rectangle {
	w, h := b.Dx(), b.Dy()
	sw, sh := g.Shares()
	across, down := g.Places()
	cw := max(1, int(math.Round(sw*float64(w))))
	ch := max(1, int(math.Round(sh*float64(h))))
	at := func(i, n, room int) int {
		if n == 1 {
			return room / 2
		}
		return i * room / (n - 1)
	}
	var out []image.Rectangle
	for gy := range down {
		for gx := range across {
			x0, y0 := b.Min.X+at(gx, across, w-cw), b.Min.Y+at(gy, down, h-ch)
			out = append(out, image.Rect(x0, y0, x0+cw, y0+ch))
		}
	}
	return out
}

// VectorDim is the length of the vectors an embedder gives with net, a
// network of spec: the network's and, with model.Spec.AspectWeight, the
// aspect value.
func VectorDim(net *model.Net, spec model.Spec) int {
	if spec.AspectWeight > 0 {
		return net.Dim() + 1
	}
	return net.Dim()
}

// Learned is Embedder.Learned for net, a network of spec.
func Learned(net *model.Net, spec model.Spec) int {
	if l := net.Learned(); l > 0 || spec.AspectWeight <= 0 {
		return l
	}
	return net.Dim()
}

// Aspects returns the values that end an image's vectors
// (model.Spec.AspectWeight): the weight times log2 of the width over the
// height of what each describes, in ItemSquares' order for an image to
// store (item), or of the image alone for a query (QueryAspects gives its
// variants theirs). full is the image's own size. A crop of a share w of
// the width and h of the height has the image's shape times w/h; every
// other variant keeps the image's. nil when the spec has no aspect value.
func Aspects(spec model.Spec, full image.Point, item bool) []float32 {
	if spec.AspectWeight <= 0 {
		return nil
	}
	own := math.Log2(float64(full.X) / float64(full.Y))
	value := func(shape float64) float32 { return float32(spec.AspectWeight * shape) }
	out := []float32{value(own)}
	v := spec.Variants
	if !item || v == nil {
		return out
	}
	same := len(v.Rotations)
	if v.Grey {
		same++
	}
	if v.Mirror {
		same++
	}
	for range same {
		out = append(out, out[0])
	}
	for _, g := range v.Crops {
		w, h := g.Shares()
		across, down := g.Places()
		for range across * down {
			out = append(out, value(own+math.Log2(w/h)))
		}
	}
	for range v.Downscales {
		out = append(out, out[0])
	}
	return out
}

// QueryAspects returns a query's aspect values (Aspects) for n variants
// of it (QueryVariants): a mirror image or a turn keeps its shape. nil
// stays nil.
func QueryAspects(own []float32, n int) []float32 {
	if own == nil {
		return nil
	}
	out := make([]float32, n)
	for i := range out {
		out[i] = own[0]
	}
	return out
}

// WithAspects returns vectors, dim values each one after another, each
// followed by its aspect value (Aspects): values holds one a vector, and
// any other count is a programming error and panics.
func WithAspects(vectors []float32, dim int, values []float32) []float32 {
	if len(vectors) != len(values)*dim {
		panic(fmt.Sprintf("embedder: %d aspect values for %d values of vectors of %d", len(values), len(vectors), dim))
	}
	out := make([]float32, 0, len(vectors)+len(values))
	for i, a := range values {
		out = append(out, vectors[i*dim:(i+1)*dim]...)
		out = append(out, a)
	}
	return out
}
