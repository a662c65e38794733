// Package embedder turns images into vectors with a deeprank model, using
// the fast forward pass of package model (no autodiff graph on this path).
//
// An Embedder decodes and resizes images on several goroutines while the
// network runs, and embeds in batches. The same image always gives the same
// vector. An Embedder is safe for concurrent use. EmbedSquares is the batch
// path for images already decoded and resized (eval, the trainer's held-out
// pass).
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
)

// Options tunes an Embedder. nil means defaults.
type Options struct {
	// Workers decode images and share each batch's forward pass; 0 means
	// GOMAXPROCS.
	Workers int
	// BatchSize is the number of images per forward pass; 0 means 32.
	BatchSize int
	// Decode bounds decoded images (see imageio.Options).
	Decode *imageio.Options
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
func (e *Embedder) Dim() int { return e.net.Dim() }

// ModelVersion is the version of the model the vectors come from.
func (e *Embedder) ModelVersion() string { return e.version }

// Input is one decoded image, ready for the network.
type Input struct {
	// Width and Height are the image's own size, before resizing.
	Width, Height int
	tensor        []float32
}

// Decode turns image file bytes into an Input: decoding (within the pixel
// limit), resizing and normalising. It is safe to call from many goroutines.
func (e *Embedder) Decode(data []byte) (*Input, error) {
	size := e.m.Spec.InputSize
	square, full, err := imageio.DecodeSquare(data, e.m.Spec.SquareSide(), e.opts.Decode)
	if err != nil {
		return nil, err
	}
	in := &Input{Width: full.X, Height: full.Y, tensor: make([]float32, 3*size*size)}
	model.ToTensor(Prepare(e.m.Spec, square), e.m.Normalization, in.tensor)
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

// DecodeMemory estimates, from data's header alone, the most memory Decode
// holds at once for data (see imageio.SquareMemory), so that concurrent
// decodes can share a budget. It returns Decode's error for a header that
// Decode refuses.
func (e *Embedder) DecodeMemory(data []byte) (int64, error) {
	return imageio.SquareMemory(data, e.m.Spec.SquareSide(), e.opts.Decode)
}

// Embed runs the network over inputs, sharing the work among the workers,
// and returns one unit-length vector per input.
func (e *Embedder) Embed(inputs []*Input) [][]float32 {
	if len(inputs) == 0 {
		return nil
	}
	per := len(inputs[0].tensor)
	x := make([]float32, len(inputs)*per)
	for i, in := range inputs {
		copy(x[i*per:], in.tensor)
	}
	emb := e.net.Forward(x, len(inputs))
	dim := e.Dim()
	out := make([][]float32, len(inputs))
	for i := range out {
		out[i] = emb[i*dim : (i+1)*dim : (i+1)*dim]
	}
	return out
}

// Result is the outcome for one input.
type Result struct {
	Vector []float32 // nil when Err is set
	Err    error
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
		for j, v := range e.Embed(good) {
			results[at[j]].Vector = v
		}
	}
	return results, nil
}

// EmbedSquares runs net over the image that img gives for each path, in
// batches, and returns each path's vector. Paths may repeat.
func EmbedSquares(net *model.Net, norm model.Normalization, paths []string, img func(path string) *image.RGBA) map[string][]float32 {
	const chunk = 64
	paths = slices.Compact(slices.Sorted(slices.Values(paths)))
	per := net.InputShape().Size()
	dim := net.Dim()
	out := make(map[string][]float32, len(paths))
	x := make([]float32, chunk*per)
	for lo := 0; lo < len(paths); lo += chunk {
		hi := min(lo+chunk, len(paths))
		for i, p := range paths[lo:hi] {
			model.ToTensor(img(p), norm, x[i*per:(i+1)*per])
		}
		emb := net.Forward(x[:(hi-lo)*per], hi-lo)
		for i, p := range paths[lo:hi] {
			out[p] = emb[i*dim : (i+1)*dim]
		}
	}
	return out
}
