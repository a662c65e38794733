// Package embedder turns images into vectors with a deeprank model, using
// the fast forward pass of package model (no autodiff graph on this path).
//
// An Embedder decodes and resizes images on several goroutines while the
// network runs, and embeds in batches. The same image always gives the same
// vector. An Embedder is safe for concurrent use.
package embedder

import (
	"context"
	"fmt"
	"runtime"
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

// Result is the outcome for one input.
type Result struct {
	Vector []float32 // nil when Err is set
	Err    error
}

// EmbedFiles embeds the images at paths. It returns one Result per path, in
// order: a file that cannot be read or decoded gets an error naming it and
// does not stop the others. The error return is for ctx only.
func (e *Embedder) EmbedFiles(ctx context.Context, paths []string) ([]Result, error) {
	size := e.m.Spec.InputSize
	per := 3 * size * size
	results := make([]Result, len(paths))
	for lo := 0; lo < len(paths); lo += e.opts.BatchSize {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hi := min(lo+e.opts.BatchSize, len(paths))
		x := make([]float32, (hi-lo)*per)
		ok := make([]bool, hi-lo)
		var wg sync.WaitGroup
		sem := make(chan struct{}, e.opts.Workers)
		for i := lo; i < hi; i++ {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				img, err := imageio.LoadSquare(paths[i], size, e.opts.Decode)
				if err != nil {
					results[i].Err = err
					return
				}
				imageio.ToTensor(img, e.m.Normalization, x[(i-lo)*per:(i-lo+1)*per])
				ok[i-lo] = true
			}()
		}
		wg.Wait()
		e.forward(x, ok, results[lo:hi])
	}
	return results, nil
}

// forward embeds the decoded images of a batch (those with ok set).
func (e *Embedder) forward(x []float32, ok []bool, results []Result) {
	per := len(x) / len(ok)
	n := 0
	for i, good := range ok {
		if good {
			copy(x[n*per:(n+1)*per], x[i*per:(i+1)*per])
			n++
		}
	}
	if n == 0 {
		return
	}
	emb := e.net.Forward(x[:n*per], n)
	dim := e.Dim()
	n = 0
	for i, good := range ok {
		if good {
			results[i].Vector = emb[n*dim : (n+1)*dim : (n+1)*dim]
			n++
		}
	}
}
