package trainer

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/deeprank/deeprank/model"
)

// smallSpec is a compact spec quick enough for unit tests.
func smallSpec(size int) model.Spec {
	s := model.DefaultSpec()
	s.InputSize = size
	s.Width = 4
	s.Stages = 2
	s.DenseDim = 16
	s.EmbeddingDim = 8
	s.Shallow = model.ScaledShallowBranches(size)
	for i := range s.Shallow {
		s.Shallow[i].Filters = 6
	}
	return s
}

func randomInput(rng *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	return x
}

// TestParity checks that the gorgonia graph and the fast forward pass give
// the same embeddings for the same weights on every spec variant.
func TestParity(t *testing.T) {
	vgg := model.ReferenceSpec()
	vgg.InputSize = 32
	vgg.Shallow = model.ScaledShallowBranches(32)
	vgg.DenseDim = 256
	vgg.EmbeddingDim = 64
	ref224 := smallSpec(224)
	ref224.Shallow = model.ScaledShallowBranches(224)
	odd := smallSpec(37) // odd sizes need asymmetric 'same' padding
	odd.Shallow = []model.ShallowBranch{
		{Filters: 5, Kernel: 4, Stride: 3, PoolKernel: 3, PoolStride: 2},
		{Filters: 3, Kernel: 5, Stride: 2, PoolKernel: 4, PoolStride: 3},
	}
	noShallow := smallSpec(32)
	noShallow.Shallow = nil
	color := smallSpec(32)
	color.ColorFeatures = 5
	pooled := smallSpec(33)
	pooled.Shallow = []model.ShallowBranch{
		{Filters: 5, Kernel: 4, Stride: 4, PoolKernel: 2, PoolStride: 2, Pooled: true},
		{Filters: 3, Kernel: 5, Stride: 3, PoolKernel: 3, PoolStride: 2},
	}
	backbones := smallSpec(32)
	backbones.PooledBackbones = []model.PooledBackbone{{Width: 3, Stages: 2}, {Width: 2, Stages: 3}}
	views := smallSpec(32)
	views.CenterViews, views.GreyView, views.TrimView = []float64{0.8, 0.6}, 0.5, 1.5
	cases := []struct {
		name  string
		spec  model.Spec
		batch int
	}{
		{"default", model.DefaultSpec(), 3},
		{"compact-small", smallSpec(32), 4},
		{"compact-odd-padding", odd, 2},
		{"no-shallow", noShallow, 2},
		{"color-branch", color, 3},
		{"pooled-shallow", pooled, 3},
		{"pooled-backbones", backbones, 3},
		{"views", views, 3}, // the graph of train_views
		{"reference-shallow-224", ref224, 2},
		{"vgg16", vgg, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := model.New(tc.spec, model.UnitNormalization())
			if err != nil {
				t.Fatal(err)
			}
			m.Initialize(7)
			// Non-zero biases so that a misplaced bias shows.
			rng := rand.New(rand.NewPCG(1, 2))
			for name, w := range m.Weights {
				if name[len(name)-1] == 'b' {
					for i := range w {
						w[i] = float32(rng.NormFloat64() * 0.1)
					}
				}
			}
			net, err := model.NewNet(m, nil)
			if err != nil {
				t.Fatal(err)
			}
			gf, err := newGraphForward(m, tc.batch)
			if err != nil {
				t.Fatal(err)
			}
			defer gf.Close()
			x := randomInput(rng, tc.batch*net.InputShape().Size())
			if tc.spec.TrimView > 0 {
				// The first image framed in white, which its trimmed view
				// trims; the others' noise has no border, and no view.
				frame(x[:net.InputShape().Size()], tc.spec.InputSize, 4)
			}
			want, err := gf.Forward(x)
			if err != nil {
				t.Fatal(err)
			}
			if tc.spec.TrimView > 0 {
				trim := gf.weights[len(gf.weights)-tc.batch:]
				if trim[0] == 0 || slices.ContainsFunc(trim[1:], func(w float32) bool { return w != 0 }) {
					t.Fatalf("trimmed view weights %v: want one for the framed image only", trim)
				}
			}
			got := net.Forward(x, tc.batch)
			if len(got) != len(want) {
				t.Fatalf("fast pass gave %d values, gorgonia %d", len(got), len(want))
			}
			maxDiff := 0.0
			for i := range got {
				maxDiff = max(maxDiff, math.Abs(float64(got[i]-want[i])))
			}
			t.Logf("max |fast - gorgonia| = %.2g over %d values", maxDiff, len(got))
			if maxDiff > 1e-4 {
				t.Errorf("max abs difference %g > 1e-4", maxDiff)
			}
		})
	}
}

// frame paints a border of width w in white (1, as unit normalisation
// gives 255) on a normalised (3, size, size) image.
func frame(img []float32, size, w int) {
	plane := size * size
	for c := range 3 {
		for y := range size {
			for x := range size {
				if x < w || y < w || x >= size-w || y >= size-w {
					img[c*plane+y*size+x] = 1
				}
			}
		}
	}
}
