package trainer

import (
	"fmt"
	"math/rand/v2"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/deeprank/deeprank/model"
	"github.com/deeprank/deeprank/trainer/trainconfig"
)

// shard is one equal part of every batch, with its own copy of the training
// graph over the model's shared weights. Gorgonia runs one op at a time, so
// a batch split into shards that run side by side keeps more cores busy;
// their gradients are averaged before the optimiser step.
type shard struct {
	ng   *netGraph
	vm   G.VM
	b    int // triplets
	loss *G.Node
	x    []float32 // this shard's triplets: b queries, b positives, b negatives
	// views, when training embeds as inference does (TrainViews), expand
	// the triplets' images, copied to images, into x: the images, then
	// each view of them; and into viewWeights, the graph's input of each
	// view's weight for each image (sumViews).
	views       model.Views
	images      []float32
	viewWeights []float32
	// target is the teacher's embedding of each of the shard's images, in
	// x's order, when the loss has a distillation term; else nil.
	target []float32
	// classMask is the contrastive loss's mask of candidates, (2b, 3b),
	// set from the classes of the shard's images for every batch; nil
	// with the triplet loss.
	classMask []float32
	// koleoMask is the KoLeo term's mask, (3b, 3b), set with classMask;
	// nil without the term.
	koleoMask []float32
	masks     [][]float32 // dropout masks, in layer order
	grads     [][]float32 // in ng.params order; nil until the first run
}

// newShard builds the graph of b triplets over m's weights, its
// convolutions and max-pools made by ops, with the loss o names (o.Loss,
// o.Gap, o.Temperature, o.KoLeoWeight). With o.Distill.Weight above 0,
// the loss adds that weight times the mean squared distance of each
// image's embedding to its target (see shard.target).
func newShard(a model.Arch, m *model.Model, b int, o trainconfig.Options, ops layerOps) (*shard, error) {
	var views model.Views
	if o.TrainViews {
		views = model.NewViews(m)
	}
	ng, err := buildNet(a, 3*b*(1+views.Len()), tensor.Float32, sharedParams(m), true, ops)
	if err != nil {
		return nil, err
	}
	var viewWeights []float32
	if views.Len() > 0 {
		if viewWeights, err = ng.sumViews(3*b, views.Len()); err != nil {
			return nil, fmt.Errorf("build the views' sum: %w", err)
		}
	}
	var loss *G.Node
	var classMask, spreadMask []float32
	switch o.Loss {
	case trainconfig.Contrastive:
		var mask *G.Node
		if loss, mask, err = contrastiveLoss(ng.embed, b, o.Temperature, tensor.Float32); err != nil {
			return nil, fmt.Errorf("build contrastive loss: %w", err)
		}
		if classMask, err = letInput(mask); err != nil {
			return nil, err
		}
		if o.KoLeoWeight > 0 {
			if loss, mask, err = addKoLeo(ng.embed, loss, 3*b, o.KoLeoWeight, tensor.Float32); err != nil {
				return nil, fmt.Errorf("build the KoLeo term: %w", err)
			}
			if spreadMask, err = letInput(mask); err != nil {
				return nil, err
			}
		}
	default:
		if loss, _, _, err = tripletLoss(ng.embed, b, o.Gap, tensor.Float32); err != nil {
			return nil, fmt.Errorf("build loss: %w", err)
		}
	}
	var target []float32
	if o.Distill.Weight > 0 {
		if loss, target, err = addDistillation(ng, loss, 3*b, a.Dim(), o.Distill.Weight); err != nil {
			return nil, fmt.Errorf("build distillation: %w", err)
		}
	}
	if _, err := G.Grad(loss, ng.params...); err != nil {
		return nil, fmt.Errorf("build gradients: %w", err)
	}
	in := a.Input
	x := tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(3*b*(1+views.Len()), in.C, in.H, in.W))
	if err := G.Let(ng.input, x); err != nil {
		return nil, err
	}
	s := &shard{ng: ng, b: b, loss: loss, x: x.Data().([]float32), target: target, classMask: classMask, koleoMask: spreadMask}
	if views.Len() > 0 {
		s.views, s.images = views, make([]float32, 3*b*in.Size())
		s.viewWeights = viewWeights
	}
	for _, mn := range ng.masks {
		d, err := letInput(mn)
		if err != nil {
			return nil, err
		}
		s.masks = append(s.masks, d)
	}
	s.vm = G.NewTapeMachine(ng.g, G.BindDualValues(ng.params...))
	return s, nil
}

// run copies triplets [lo, lo+s.b) of batch x (b queries, then b
// positives, then b negatives), and their rows of the teacher's targets
// when the loss has a distillation term, into the shard, sets the
// contrastive loss's masks from the classes of those rows (labels holds
// the batch's, in x's order), draws its dropout masks from rng, and runs the
// forward and backward pass. Gradients add up in s.grads until cleared; it
// returns the shard's mean loss.
func (s *shard) run(x, target []float32, labels []int, b, lo int, rng *rand.Rand) (float64, error) {
	if s.views.Len() == 0 {
		copyRows(s.x, x, s.b, b, lo)
	} else {
		copyRows(s.images, x, s.b, b, lo)
		s.views.Expand(s.x, s.viewWeights, s.images, 3*s.b)
	}
	if s.target != nil {
		copyRows(s.target, target, s.b, b, lo)
	}
	if s.classMask != nil {
		own := make([]int, 3*s.b)
		copyRows(own, labels, s.b, b, lo)
		contrastiveMask(own, s.b, s.classMask)
		if s.koleoMask != nil {
			koleoMask(own, s.koleoMask)
		}
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

// letInput gives input node n a float32 tensor of its shape and returns
// the tensor's data, which the shard fills before every run.
func letInput(n *G.Node) ([]float32, error) {
	t := tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(n.Shape()...))
	if err := G.Let(n, t); err != nil {
		return nil, err
	}
	return t.Data().([]float32), nil
}

// copyRows copies into dst, laid out as 3 parts of sb rows, rows [lo,
// lo+sb) of each of the 3 parts of b rows of src.
func copyRows[T any](dst, src []T, sb, b, lo int) {
	row := len(dst) / (3 * sb)
	for j := range 3 {
		copy(dst[j*sb*row:(j+1)*sb*row], src[(j*b+lo)*row:(j*b+lo+sb)*row])
	}
}

// addDistillation adds to loss weight times the mean over the n images of
// |embedding - target|^2, the targets an input of the graph, and returns
// the new loss and the targets' backing slice (n rows of dim).
func addDistillation(ng *netGraph, loss *G.Node, n, dim int, weight float64) (*G.Node, []float32, error) {
	target := G.NewMatrix(ng.g, tensor.Float32, G.WithShape(n, dim), G.WithName("target"))
	t := tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(n, dim))
	if err := G.Let(target, t); err != nil {
		return nil, nil, err
	}
	d, err := G.Sub(ng.embed, target)
	if err != nil {
		return nil, nil, err
	}
	if d, err = G.Square(d); err != nil {
		return nil, nil, err
	}
	if d, err = G.Sum(d, 1); err != nil {
		return nil, nil, err
	}
	if d, err = G.Mean(d); err != nil {
		return nil, nil, err
	}
	if d, err = G.Mul(d, scalar(tensor.Float32, weight)); err != nil {
		return nil, nil, err
	}
	if loss, err = G.Add(loss, d); err != nil {
		return nil, nil, err
	}
	return loss, t.Data().([]float32), nil
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
