// Package embedder turns images into vectors with a deeprank model, using
// the fast forward pass of package model (no autodiff graph on this path).
//
// An Embedder decodes and resizes images on several goroutines while the
// network runs, and embeds in batches. The same image always gives the same
// vector. An Embedder is safe for concurrent use. EmbedSquares is the batch
// path for images already decoded and resized (eval, the trainer's held-out
// pass).
//
// A query is one vector (Decode, Embed, EmbedFiles), or with
// Options.QueryVariants its own and its mirror image's and turns'
// (EmbedQueryVariants); an image to store is PerItem vectors, its own and
// its variants' (model.Spec.Variants), one after another (DecodeItem,
// EmbedItems).
package embedder

import (
	"context"
	"fmt"
	"image"
	"os"
	"runtime"
	"slices"
	"sync"

	"github.com/deeprank/deeprank/imageio"
	"github.com/deeprank/deeprank/model"
	"github.com/deeprank/deeprank/rerank"
)

// Options tunes an Embedder. nil means defaults.
type Options struct {
	// Workers decode images and share each batch's forward pass; 0 means
	// GOMAXPROCS.
	Workers int
	// BatchSize is the number of network inputs per forward pass (images,
	// or an image's own and its variants' for EmbedItems and
	// EmbedQueryVariants); 0 means 32.
	BatchSize int
	// Decode bounds decoded images (see imageio.Options).
	Decode *imageio.Options
	// OwnOnly stores images with their own vector only, leaving out the
	// model's variants (model.Spec.Variants): PerItem is then 1, and
	// DecodeItem and EmbedItems are Decode and Embed.
	OwnOnly bool
	// QueryVariants embeds a query (Decode, EmbedFiles) as its variants
	// too (QueryVariants): its mirror image and its turns back, where the
	// model stores those variants. A search with them all
	// (vectorstore.SearchAny) finds copies that went through two edits.
	QueryVariants bool
}

// Embedder embeds images with one model.
type Embedder struct {
	m       *model.Model
	net     *model.Net
	version string
	opts    Options
}

// New returns an Embedder for m.
func New(m *model.Model, opts *Options) (*Embedder, error) {
	o := Options{}
	if opts != nil {
		o = *opts
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 32
	}
	net, err := model.NewNet(m, &model.NetOptions{Workers: o.Workers})
	if err != nil {
		return nil, fmt.Errorf("new embedder: %w", err)
	}
	v, err := m.Version()
	if err != nil {
		return nil, fmt.Errorf("new embedder: %w", err)
	}
	return &Embedder{m: m, net: net, version: v, opts: o}, nil
}

// Dim is the length of every vector.
func (e *Embedder) Dim() int { return VectorDim(e.net, e.m.Spec) }

// Learned is how many leading values of each vector the model learned,
// when fewer than Dim (a thumbnail, model.Spec.Thumbnail, or an aspect
// value, model.Spec.AspectWeight, follows them), and 0 when all are: a
// collection's vectorstore.Spec.Learned.
func (e *Embedder) Learned() int { return Learned(e.net, e.m.Spec) }

// PerItem is the number of vectors EmbedItems gives an image: its own and
// its variants'.
func (e *Embedder) PerItem() int {
	if e.opts.OwnOnly {
		return 1
	}
	return e.m.Spec.PerItem()
}

// ModelVersion is the version of the model the vectors come from.
func (e *Embedder) ModelVersion() string { return e.version }

// Input is one decoded image, ready for the network.
type Input struct {
	// Width and Height are the image's own size, before resizing.
	Width, Height int
	// tensors holds the image's input, then, from DecodeItem, its
	// variants'.
	tensors []float32
	n       int
	// aspects are the values that end its vectors (Aspects), or nil.
	aspects []float32
	// picture is a query's picture for re-ranking; nil from DecodeItem.
	picture *rerank.Picture
}

// Picture is the image's picture for re-ranking a search's hits
// (package rerank): Decode takes it, DecodeItem does not (nil).
func (in *Input) Picture() *rerank.Picture { return in.picture }

// Decode turns image file bytes into an Input for a query: decoding
// (within the pixel limit), resizing and normalising. It is safe to call
// from many goroutines.
func (e *Embedder) Decode(data []byte) (*Input, error) { return e.decode(data, false) }

// DecodeItem is Decode for an image to store: its Input holds its
// variants' inputs too, for EmbedItems.
func (e *Embedder) DecodeItem(data []byte) (*Input, error) { return e.decode(data, true) }

func (e *Embedder) decode(data []byte, item bool) (*Input, error) {
	square, full, err := imageio.DecodeSquare(data, e.m.Spec.SquareSide(), e.opts.Decode)
	if err != nil {
		return nil, err
	}
	squares := []*image.RGBA{Prepare(e.m.Spec, square)}
	aspects := Aspects(e.m.Spec, full, item && !e.opts.OwnOnly)
	switch {
	case item && !e.opts.OwnOnly:
		squares = ItemSquares(e.m.Spec, square, full)
	case !item && e.opts.QueryVariants:
		squares = QueryVariants(e.m.Spec, square, full)
		aspects = QueryAspects(aspects, len(squares))
	}
	per := e.net.InputShape().Size()
	in := &Input{Width: full.X, Height: full.Y, tensors: make([]float32, len(squares)*per), n: len(squares),
		aspects: aspects}
	if !item {
		in.picture = rerank.NewPicture(square, full)
	}
	for i, sq := range squares {
		model.ToTensor(sq, e.m.Normalization, in.tensors[i*per:(i+1)*per])
	}
	return in, nil
}

// Prepare turns square, an image squared to spec.SquareSide() or larger,
// into the network's input square: its plain border trimmed when the spec
// says so (imageio.TrimSquare), or else resized to the input if it is
// larger. Every path from an image to a network (Decode, eval, the
// trainer) goes through it, so all frame images alike.
func Prepare(spec model.Spec, square *image.RGBA) *image.RGBA {
	switch {
	case spec.TrimBorders:
		return imageio.TrimSquare(square, spec.InputSize)
	case square.Rect.Dx() == spec.InputSize && square.Rect.Dy() == spec.InputSize:
		return square
	default:
		return imageio.Square(square, spec.InputSize)
	}
}

// Picture decodes image file bytes into the picture re-ranking compares
// (rerank.NewPicture), from the square Decode makes, as deeprank eval
// takes it: a search's hits are compared with a query's by it.
func (e *Embedder) Picture(data []byte) (*rerank.Picture, error) {
	square, full, err := imageio.DecodeSquare(data, e.m.Spec.SquareSide(), e.opts.Decode)
	if err != nil {
		return nil, err
	}
	return rerank.NewPicture(square, full), nil
}

// DecodeMemory estimates, from data's header alone, the most memory Decode
// holds at once for data (see imageio.SquareMemory), so that concurrent
// decodes can share a budget. It returns Decode's error for a header that
// Decode refuses.
func (e *Embedder) DecodeMemory(data []byte) (int64, error) {
	return imageio.SquareMemory(data, e.m.Spec.SquareSide(), e.opts.Decode)
}

// Embed runs the network over inputs, sharing the work among the workers,
// and returns one vector per input, the image's own: of unit length but
// for its aspect value (model.Spec.AspectWeight).
func (e *Embedder) Embed(inputs []*Input) [][]float32 { return e.embed(inputs, 1) }

// EmbedQueryVariants runs the network over inputs from Decode and returns
// for each the vectors of its variants (Options.QueryVariants), the
// image's own first, each as Embed's; without Options.QueryVariants, its
// own alone. An input from DecodeItem is a programming error and panics.
func (e *Embedder) EmbedQueryVariants(inputs []*Input) [][][]float32 {
	if len(inputs) == 0 {
		return nil
	}
	n := inputs[0].n
	for _, in := range inputs {
		if in.picture == nil || in.n != n {
			panic("embedder: EmbedQueryVariants takes inputs from Decode")
		}
	}
	dim := e.Dim()
	out := make([][][]float32, len(inputs))
	for i, v := range e.embed(inputs, n) {
		out[i] = make([][]float32, n)
		for j := range n {
			out[i][j] = v[j*dim : (j+1)*dim : (j+1)*dim]
		}
	}
	return out
}

// EmbedItems runs the network over inputs from DecodeItem and returns for
// each its PerItem vectors (as Embed's) one after another, the image's own
// first: what a collection stores. An input from Decode, which lacks its
// variants, is a programming error and panics.
func (e *Embedder) EmbedItems(inputs []*Input) [][]float32 { return e.embed(inputs, e.PerItem()) }

// embed embeds the first n inputs of each of inputs.
func (e *Embedder) embed(inputs []*Input, n int) [][]float32 {
	if len(inputs) == 0 {
		return nil
	}
	per := e.net.InputShape().Size()
	x := make([]float32, 0, len(inputs)*n*per)
	for _, in := range inputs {
		if in.n < n {
			panic(fmt.Sprintf("embedder: %d vectors asked of an input of %d: EmbedItems takes inputs from DecodeItem", n, in.n))
		}
		x = append(x, in.tensors[:n*per]...)
	}
	// At most BatchSize images a pass, whatever the vectors an image: a
	// pass's activations grow with its images.
	total := len(inputs) * n
	emb := make([]float32, 0, total*e.net.Dim())
	for lo := 0; lo < total; lo += e.opts.BatchSize {
		hi := min(lo+e.opts.BatchSize, total)
		emb = append(emb, e.net.Forward(x[lo*per:hi*per], hi-lo)...)
	}
	w := n * e.net.Dim()
	out := make([][]float32, len(inputs))
	for i := range out {
		out[i] = emb[i*w : (i+1)*w : (i+1)*w]
		if a := inputs[i].aspects; a != nil {
			out[i] = WithAspects(out[i], e.net.Dim(), a[:n])
		}
	}
	return out
}

// Result is the outcome for one input.
type Result struct {
	Vector []float32 // nil when Err is set
	// Variants are the vectors of the image's variants as a query
	// (Options.QueryVariants), Vector first: a search with them all
	// finds what any of them is near (vectorstore.SearchAny).
	Variants [][]float32
	// Picture is the image's picture for re-ranking the hits of a search
	// by Vector or Variants (Input.Picture).
	Picture *rerank.Picture
	Err     error
}

// EmbedFiles embeds the images at paths. It returns one Result per path, in
// order: a file that cannot be read or decoded gets an error naming it and
// does not stop the others. The error return is for ctx only.
func (e *Embedder) EmbedFiles(ctx context.Context, paths []string) ([]Result, error) {
	results := make([]Result, len(paths))
	for lo := 0; lo < len(paths); lo += e.opts.BatchSize {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hi := min(lo+e.opts.BatchSize, len(paths))
		inputs := make([]*Input, hi-lo)
		var wg sync.WaitGroup
		sem := make(chan struct{}, e.opts.Workers)
		for i := lo; i < hi; i++ {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				data, err := os.ReadFile(paths[i])
				if err == nil {
					inputs[i-lo], err = e.Decode(data)
					if err != nil {
						err = &os.PathError{Op: "decode", Path: paths[i], Err: err}
					} else {
						results[i].Picture = inputs[i-lo].Picture()
					}
				}
				results[i].Err = err
			}()
		}
		wg.Wait()
		var good []*Input
		var at []int
		for i, in := range inputs {
			if in != nil {
				good = append(good, in)
				at = append(at, lo+i)
			}
		}
		for j, v := range e.EmbedQueryVariants(good) {
			results[at[j]].Vector, results[at[j]].Variants = v[0], v
		}
	}
	return results, nil
}

// EmbedSquares runs net over the input squares that squares gives for
// each path (one, or an item's: ItemSquares), in batches, and returns each
// path's vectors one after another. Paths may repeat.
func EmbedSquares(net *model.Net, norm model.Normalization, paths []string, squares func(path string) []*image.RGBA) map[string][]float32 {
	const chunk = 64
	paths = slices.Compact(slices.Sorted(slices.Values(paths)))
	per := net.InputShape().Size()
	dim := net.Dim()
	out := make(map[string][]float32, len(paths))
	x := make([]float32, 0, chunk*per)
	var pending []string
	var counts []int
	flush := func() {
		emb := net.Forward(x, len(x)/per)
		at := 0
		for i, p := range pending {
			out[p] = emb[at*dim : (at+counts[i])*dim : (at+counts[i])*dim]
			at += counts[i]
		}
		x, pending, counts = x[:0], pending[:0], counts[:0]
	}
	for _, p := range paths {
		sq := squares(p)
		for _, s := range sq {
			x = slices.Grow(x, per)[:len(x)+per]
			model.ToTensor(s, norm, x[len(x)-per:])
		}
		pending, counts = append(pending, p), append(counts, len(sq))
		if len(x) >= chunk*per {
			flush()
		}
	}
	if len(pending) > 0 {
		flush()
	}
	return out
}
