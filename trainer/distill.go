package trainer

import (
	"fmt"

	"github.com/deeprank/deeprank/model"
)

// teacher embeds training images, unchanged, with a fixed model: the
// targets of the distillation term (trainconfig.Distill). An image's
// embedding never changes, so it is computed once, the first time a batch
// holds the image.
type teacher struct {
	net *model.Net
	// images gives the cached images at the teacher's input size, in its
	// normalisation: a batch filler of the teacher's own.
	images *batchFiller
	memo   map[string][]float32
}

// newTeacher loads the teacher's model file, whose embedding must have dim
// dimensions, to embed the images of cache.
func newTeacher(path string, dim int, cache imageCache, workers int) (*teacher, error) {
	m, err := model.Load(path)
	if err != nil {
		return nil, fmt.Errorf("distill.model: %w", err)
	}
	if m.Spec.EmbeddingDim != dim {
		return nil, fmt.Errorf("distill.model %s: its embedding has %d dimensions, the model trained %d: the pull compares the two, so they must match", path, m.Spec.EmbeddingDim, dim)
	}
	// The pull compares learned embeddings: a teacher's thumbnail is not
	// one.
	net, err := model.NewNet(learnedOnly(m), &model.NetOptions{Workers: workers})
	if err != nil {
		return nil, fmt.Errorf("distill.model %s: %w", path, err)
	}
	return &teacher{net: net, images: newBatchFiller(cache, m.Normalization, m.Spec, workers), memo: map[string][]float32{}}, nil
}

// targets writes the teacher's embedding of each image of paths into dst,
// one row each, in order.
func (tc *teacher) targets(paths []string, dst []float32) {
	var missing []string
	for _, p := range paths {
		if _, ok := tc.memo[p]; !ok {
			tc.memo[p] = nil // once, however often the batch holds it
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		f := tc.images
		per := 3 * f.size * f.size
		x := make([]float32, len(missing)*per)
		for i, p := range missing {
			model.ToTensor(f.input(f.cache[p]), f.norm, x[i*per:(i+1)*per])
		}
		emb := tc.net.Forward(x, len(missing))
		dim := tc.net.Dim()
		for i, p := range missing {
			tc.memo[p] = emb[i*dim : (i+1)*dim : (i+1)*dim]
		}
	}
	dim := tc.net.Dim()
	for i, p := range paths {
		copy(dst[i*dim:(i+1)*dim], tc.memo[p])
	}
}
