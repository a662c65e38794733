package trainer

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/deeprank/deeprank/model"
)

// netGraph is the network of a model.Arch as a gorgonia expression graph for
// a fixed number of images.
type netGraph struct {
	g      *G.ExprGraph
	input  *G.Node   // (N, 3, S, S)
	params []*G.Node // in model.Arch.Params order
	masks  []*G.Node // dropout masks (N, units), in layer order; empty at inference
	rates  []float64 // the drop probability of each mask
	embed  *G.Node   // (N, Dim), rows of unit length; (N/(1+views), Dim) once summed (sumViews)
	ops    layerOps
	ws     scratch // shared by the graph's ops, which run one at a time
}

// layerOps makes a graph's convolution (with its bias and ReLU) and
// max-pool nodes.
type layerOps struct {
	conv    func(ng *netGraph, l model.Layer, x, w, b *G.Node) (*G.Node, error)
	maxPool func(ng *netGraph, l model.Layer, x *G.Node) (*G.Node, error)
}

// fastOps are the custom ops of ops_conv.go and ops_pool.go, which every
// graph uses; the tests compare them with gorgonia's own.
var fastOps = layerOps{conv: convNode, maxPool: maxPoolNode}

// paramFunc makes the graph node of a parameter. shape is the shape the graph
// needs (biases broadcast as (1, C, 1, 1) or (1, C)); it has as many values
// as p.Shape.
type paramFunc func(g *G.ExprGraph, p model.Param, shape tensor.Shape) *G.Node

// buildNet builds the network for n images of data type dt, its
// convolutions and max-pools made by ops. With training set, each Dropout
// layer becomes a product with a mask input (see masks); otherwise it is
// left out.
func buildNet(a model.Arch, n int, dt tensor.Dtype, param paramFunc, training bool, ops layerOps) (*netGraph, error) {
	ng := &netGraph{g: G.NewGraph(), ops: ops}
	in := a.Input
	ng.input = G.NewTensor(ng.g, dt, 4, G.WithShape(n, in.C, in.H, in.W), G.WithName("input"))
	byName := map[string]model.Param{}
	for _, p := range a.Params() {
		byName[p.Name] = p
	}
	get := func(name string, shape tensor.Shape) *G.Node {
		node := param(ng.g, byName[name], shape)
		ng.params = append(ng.params, node)
		return node
	}
	var outs []*G.Node
	for _, b := range a.Branches {
		h := ng.input
		for _, l := range b.Layers {
			var err error
			if h, err = ng.layer(l, h, n, dt, get, training); err != nil {
				return nil, fmt.Errorf("build %s: %w", b.Name, err)
			}
		}
		outs = append(outs, h)
	}
	h, err := G.Concat(1, outs...)
	if err != nil {
		return nil, fmt.Errorf("build concat: %w", err)
	}
	for _, l := range a.Head {
		if h, err = ng.layer(l, h, n, dt, get, training); err != nil {
			return nil, fmt.Errorf("build head: %w", err)
		}
	}
	ng.embed = h
	return ng, nil
}

func (ng *netGraph) layer(l model.Layer, h *G.Node, n int, dt tensor.Dtype, get func(string, tensor.Shape) *G.Node, training bool) (*G.Node, error) {
	var err error
	switch l.Kind {
	case model.Conv:
		w := get(l.Name+".w", tensor.Shape{l.Out.C, l.In.C, l.Kernel, l.Kernel})
		b := get(l.Name+".b", tensor.Shape{l.Out.C})
		return ng.ops.conv(ng, l, h, w, b) // with the bias and ReLU
	case model.MaxPool:
		return ng.ops.maxPool(ng, l, h)
	case model.GlobalAvgPool:
		// GlobalAveragePool2D has no gradient in gorgonia: mean over H*W.
		if h, err = G.Reshape(h, tensor.Shape{n, l.In.C, l.In.H * l.In.W}); err != nil {
			return nil, err
		}
		return G.Mean(h, 2)
	case model.Dense:
		if h.Dims() != 2 {
			if h, err = G.Reshape(h, tensor.Shape{n, l.In.Size()}); err != nil {
				return nil, err
			}
		}
		w := get(l.Name+".w", tensor.Shape{l.In.Size(), l.Out.C})
		b := get(l.Name+".b", tensor.Shape{1, l.Out.C})
		if h, err = G.Mul(h, w); err != nil {
			return nil, err
		}
		if h, err = G.BroadcastAdd(h, b, nil, []byte{0}); err != nil {
			return nil, err
		}
	case model.Dropout:
		if !training || l.Rate == 0 {
			return h, nil
		}
		mask := G.NewMatrix(ng.g, dt, G.WithShape(n, l.In.Size()), G.WithName(fmt.Sprintf("dropout%d", len(ng.masks))))
		ng.masks = append(ng.masks, mask)
		ng.rates = append(ng.rates, l.Rate)
		return G.HadamardProd(h, mask)
	case model.L2Normalize:
		return ng.l2Normalize(h, n, l.In.Size(), dt)
	default:
		return nil, fmt.Errorf("layer kind %v has no graph", l.Kind)
	}
	if l.ReLU {
		return G.Rectify(h)
	}
	return h, nil
}

// l2Normalize divides each row by sqrt(sum of squares + model.L2Epsilon).
// gorgonia's Norm has no epsilon, hence by hand.
func (ng *netGraph) l2Normalize(h *G.Node, n, dim int, dt tensor.Dtype) (*G.Node, error) {
	var err error
	if h.Dims() != 2 {
		if h, err = G.Reshape(h, tensor.Shape{n, dim}); err != nil {
			return nil, err
		}
	}
	sq, err := G.Square(h)
	if err != nil {
		return nil, err
	}
	ss, err := G.Sum(sq, 1)
	if err != nil {
		return nil, err
	}
	if ss, err = G.Add(ss, scalar(dt, model.L2Epsilon)); err != nil {
		return nil, err
	}
	norm, err := G.Sqrt(ss)
	if err != nil {
		return nil, err
	}
	if norm, err = G.Reshape(norm, tensor.Shape{n, 1}); err != nil {
		return nil, err
	}
	return G.BroadcastHadamardDiv(h, norm, nil, []byte{1})
}

// sumViews makes ng.embed, the embeddings of 1+views blocks of n images
// each (the images, then each view of all of them: what
// model.Views.Expand lays out), the normalised sum of each image's
// embedding and its views', each view's times its weight for that image:
// what model.Net.Forward gives with views, so that the loss trains the
// embedding inference uses. The weights are an input, since a view may
// have none for some images (a trimmed view of an image with no border):
// it returns their values, views*n laid out as Expand writes its weights,
// for Expand to write before each run. The graph must be of float32.
func (ng *netGraph) sumViews(n, views int) ([]float32, error) {
	sum, err := sliceRows(ng.embed, 0, n)
	if err != nil {
		return nil, err
	}
	weights := G.NewMatrix(ng.g, tensor.Float32, G.WithShape(views*n, 1), G.WithName("view_weights"))
	t := tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(views*n, 1))
	if err := G.Let(weights, t); err != nil {
		return nil, err
	}
	for vi := range views {
		block, err := sliceRows(ng.embed, (1+vi)*n, (2+vi)*n)
		if err != nil {
			return nil, err
		}
		w, err := sliceRows(weights, vi*n, (vi+1)*n)
		if err != nil {
			return nil, err
		}
		if block, err = G.BroadcastHadamardProd(block, w, nil, []byte{1}); err != nil {
			return nil, err
		}
		if sum, err = G.Add(sum, block); err != nil {
			return nil, err
		}
	}
	ng.embed, err = ng.l2Normalize(sum, n, ng.embed.Shape()[1], tensor.Float32)
	return t.Data().([]float32), err
}

func scalar(dt tensor.Dtype, v float64) *G.Node {
	if dt == tensor.Float64 {
		return G.NewConstant(v)
	}
	return G.NewConstant(float32(v))
}

// tripletLoss is the paper's ranking loss, per triplet:
// mean over triplets of max(0, gap + |q-p|^2 - |q-n|^2). embed holds the
// batch laid out as B queries, then B positives, then B negatives.
func tripletLoss(embed *G.Node, b int, gap float64, dt tensor.Dtype) (loss, dpos, dneg *G.Node, err error) {
	q, err := sliceRows(embed, 0, b)
	if err != nil {
		return nil, nil, nil, err
	}
	p, err := sliceRows(embed, b, 2*b)
	if err != nil {
		return nil, nil, nil, err
	}
	n, err := sliceRows(embed, 2*b, 3*b)
	if err != nil {
		return nil, nil, nil, err
	}
	sqDist := func(a, c *G.Node) (*G.Node, error) {
		d, err := G.Sub(a, c)
		if err != nil {
			return nil, err
		}
		if d, err = G.Square(d); err != nil {
			return nil, err
		}
		return G.Sum(d, 1)
	}
	if dpos, err = sqDist(q, p); err != nil {
		return nil, nil, nil, err
	}
	if dneg, err = sqDist(q, n); err != nil {
		return nil, nil, nil, err
	}
	margin, err := G.Sub(dpos, dneg)
	if err != nil {
		return nil, nil, nil, err
	}
	if margin, err = G.Add(margin, scalar(dt, gap)); err != nil {
		return nil, nil, nil, err
	}
	if margin, err = G.Rectify(margin); err != nil {
		return nil, nil, nil, err
	}
	loss, err = G.Mean(margin)
	return loss, dpos, dneg, err
}

// sliceRows returns rows [lo, hi) of matrix m as a matrix: gorgonia's
// Slice drops the dimension of a one-row slice, so it is reshaped back.
func sliceRows(m *G.Node, lo, hi int) (*G.Node, error) {
	rows, err := G.Slice(m, G.S(lo, hi))
	if err != nil || hi-lo > 1 {
		return rows, err
	}
	return G.Reshape(rows, tensor.Shape{1, m.Shape()[1]})
}
