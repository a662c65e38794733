package eval

import (
	"context"
	"fmt"
	"image"
	"path/filepath"
	"slices"

	"github.com/deeprank/deeprank/embedder"
	"github.com/deeprank/deeprank/model"
)

// Tracker scores a model whose weights change (a trainer's validation
// after each epoch) on a suite's labelled sets: Recall@1 of each, as `eval`
// reports it for a model without variants (model.Spec.Variants): it ranks
// by the images' own vectors. The images are decoded once, framed for the
// network's input (embedder.Prepare), and kept; each score then costs one
// forward pass over them.
type Tracker struct {
	names   []string
	sets    []Set
	files   []string               // every image, once
	squares map[string]*image.RGBA // by file
}

// NewTracker reads the sets of suite and decodes their images for a
// network of spec on workers goroutines (0: GOMAXPROCS). Every set must have
// labels (classes, or queries and gallery): a set of triplets alone has no
// Recall@1 to track.
func NewTracker(ctx context.Context, suite *Suite, spec model.Spec, workers int) (*Tracker, error) {
	t := &Tracker{squares: map[string]*image.RGBA{}}
	for i, setSpec := range suite.Sets {
		set, err := setSpec.Build(0)
		if err != nil {
			return nil, fmt.Errorf("validation suite: sets[%d] (%q): %w", i, setSpec.Name, err)
		}
		if len(set.Labels) == 0 {
			return nil, fmt.Errorf("validation suite: sets[%d] (%q): %w: a tracked set needs labels: give classes, or queries and gallery", i, setSpec.Name, ErrSuite)
		}
		var todo []string
		for _, p := range slices.Concat(set.Paths, set.QueryPaths) {
			file := filepath.Join(set.Root, p)
			if _, ok := t.squares[file]; !ok {
				t.squares[file] = nil
				todo = append(todo, p)
			}
		}
		imgs, err := decodeAll(ctx, set.Root, todo, []int{spec.SquareSide()}, workers)
		if err != nil {
			return nil, fmt.Errorf("validation suite: sets[%d] (%q): %w", i, setSpec.Name, err)
		}
		for _, p := range todo {
			file := filepath.Join(set.Root, p)
			t.squares[file] = embedder.Prepare(spec, imgs[p].squares[0])
			t.files = append(t.files, file)
		}
		t.names = append(t.names, setSpec.Name)
		t.sets = append(t.sets, set)
	}
	return t, nil
}

// Names are the sets' names, in the suite's order.
func (t *Tracker) Names() []string { return t.names }

// Images is how many distinct images the sets hold.
func (t *Tracker) Images() int { return len(t.files) }

// Recall1 embeds every image with net and returns each set's Recall@1, in
// the suite's order.
func (t *Tracker) Recall1(net *model.Net, norm model.Normalization) []float64 {
	vecs := embedder.EmbedSquares(net, norm, t.files, func(file string) []*image.RGBA { return []*image.RGBA{t.squares[file]} })
	out := make([]float64, len(t.sets))
	for i, set := range t.sets {
		// score ranks exactly as Run does; it reads vectors by the set's
		// own paths.
		byPath := map[string][]float32{}
		for _, p := range slices.Concat(set.Paths, set.QueryPaths) {
			byPath[p] = vecs[filepath.Join(set.Root, p)]
		}
		out[i] = score("", set, nil, byPath, 0, nil, nil).Retrieval.Recall[1]
	}
	return out
}
