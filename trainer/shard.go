package trainer

import (
	"fmt"
	"math/rand/v2"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/deeprank/deeprank/model"
)

// shard is one equal part of every batch, with its own copy of the training
// graph over the model's shared weights. Gorgonia runs one op at a time, so
// a batch split into shards that run side by side keeps more cores busy;
// their gradients are averaged before the optimiser step.
type shard struct {
	ng    *netGraph
	vm    G.VM
	b     int // triplets
	loss  *G.Node
	x     []float32   // this shard's triplets: b queries, b positives, b negatives
	masks [][]float32 // dropout masks, in layer order
	grads [][]float32 // in ng.params order; nil until the first run
}

// newShard builds the graph of b triplets over m's weights, its
// convolutions and max-pools made by ops.
func newShard(a model.Arch, m *model.Model, b int, gap float64, ops layerOps) (*shard, error) {
	ng, err := buildNet(a, 3*b, tensor.Float32, sharedParams(m), true, ops)
	if err != nil {
		return nil, err
	}
	loss, _, _, err := tripletLoss(ng.embed, b, gap, tensor.Float32)
	if err != nil {
		return nil, fmt.Errorf("build loss: %w", err)
	}
	if _, err := G.Grad(loss, ng.params...); err != nil {
		return nil, fmt.Errorf("build gradients: %w", err)
	}
	in := a.Input
	x := tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(3*b, in.C, in.H, in.W))
	if err := G.Let(ng.input, x); err != nil {
		return nil, err
	}
	s := &shard{ng: ng, b: b, loss: loss, x: x.Data().([]float32)}
	for _, mn := range ng.masks {
		t := tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(mn.Shape()...))
		if err := G.Let(mn, t); err != nil {
			return nil, err
		}
		s.masks = append(s.masks, t.Data().([]float32))
	}
	s.vm = G.NewTapeMachine(ng.g, G.BindDualValues(ng.params...))
	return s, nil
}

// run copies triplets [lo, lo+s.b) of batch x (b queries, then b
// positives, then b negatives) into the shard, draws its dropout masks from
// rng, and runs the forward and backward pass. Gradients add up in s.grads
// until cleared; it returns the shard's mean loss.
func (s *shard) run(x []float32, b, lo int, rng *rand.Rand) (float64, error) {
	img := len(s.x) / (3 * s.b) // values per image
	for j := range 3 {
		copy(s.x[j*s.b*img:(j+1)*s.b*img], x[(j*b+lo)*img:(j*b+lo+s.b)*img])
	}
	for i, d := range s.masks {
		rate := float32(s.ng.rates[i])
		keep := 1 / (1 - rate)
		for j := range d {
			if rng.Float32() < rate {
				d[j] = 0
			} else {
				d[j] = keep
			}
		}
	}
	defer s.vm.Reset()
	if err := s.vm.RunAll(); err != nil {
		return 0, err
	}
	if s.grads == nil {
		for _, p := range s.ng.params {
			g, err := p.Grad()
			if err != nil {
				return 0, fmt.Errorf("gradient of %s: %w", p.Name(), err)
			}
			s.grads = append(s.grads, g.Data().([]float32))
		}
	}
	return float64(s.loss.Value().Data().(float32)), nil
}

// Close releases the shard's machine.
func (s *shard) Close() error { return s.vm.Close() }

// sharedParams makes parameter nodes whose values are the model's own weight
// slices: what the optimiser writes, model.Net reads at once.
func sharedParams(m *model.Model) paramFunc {
	return func(g *G.ExprGraph, p model.Param, shape tensor.Shape) *G.Node {
		t := tensor.New(tensor.WithBacking(m.Weights[p.Name]), tensor.WithShape(shape...))
		return G.NewTensor(g, tensor.Float32, shape.Dims(), G.WithShape(shape...), G.WithName(p.Name), G.WithValue(t))
	}
}
