package trainer

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/deeprank/deeprank/model"
)

// gradCase is one graph whose gradients are checked against central
// finite differences, in float64.
type gradCase struct {
	name string
	// build makes the function under test from the input x; get makes
	// parameters.
	build   func(ng *netGraph, x *G.Node, get func(string, tensor.Shape) *G.Node) (*G.Node, error)
	inShape tensor.Shape
}

func layerCase(name string, l model.Layer, inShape tensor.Shape) gradCase {
	return gradCase{name: name, inShape: inShape, build: func(ng *netGraph, x *G.Node, get func(string, tensor.Shape) *G.Node) (*G.Node, error) {
		return ng.layer(l, x, inShape[0], tensor.Float64, get, true)
	}}
}

// gradCases are the graphs whose gradients are checked: every layer kind,
// with the paddings, strides and ReLUs the specs use, and the loss.
func gradCases() []gradCase {
	sq := func(s int) model.Shape { return model.Shape{C: 2, H: s, W: s} }
	return []gradCase{
		layerCase("conv-3x3-same-relu", model.Layer{Kind: model.Conv, Name: "c", Kernel: 3, Stride: 1, ReLU: true,
			Pad: model.Padding{Top: 1, Bottom: 1, Left: 1, Right: 1}, In: sq(5), Out: model.Shape{C: 3, H: 5, W: 5}}, tensor.Shape{2, 2, 5, 5}),
		layerCase("conv-strided-asymmetric-pad", model.Layer{Kind: model.Conv, Name: "c", Kernel: 3, Stride: 2,
			Pad: model.Padding{Bottom: 1, Right: 1}, In: sq(6), Out: model.Shape{C: 3, H: 3, W: 3}}, tensor.Shape{2, 2, 6, 6}),
		// The colour branch's convolution: kernel = stride.
		layerCase("conv-2x2-stride-2-relu", model.Layer{Kind: model.Conv, Name: "c", Kernel: 2, Stride: 2, ReLU: true,
			In: sq(4), Out: model.Shape{C: 3, H: 2, W: 2}}, tensor.Shape{2, 2, 4, 4}),
		// Padding on every side, more at the bottom and right ('same' at
		// an odd size), stride 3 with a kernel of 4.
		layerCase("conv-4x4-stride-3-pad-all-sides-relu", model.Layer{Kind: model.Conv, Name: "c", Kernel: 4, Stride: 3, ReLU: true,
			Pad: model.Padding{Top: 1, Bottom: 2, Left: 1, Right: 2}, In: sq(7), Out: model.Shape{C: 3, H: 3, W: 3}}, tensor.Shape{2, 2, 7, 7}),
		layerCase("maxpool-padded", model.Layer{Kind: model.MaxPool, Kernel: 3, Stride: 2,
			Pad: model.Padding{Bottom: 1, Right: 1}, In: sq(6), Out: model.Shape{C: 2, H: 3, W: 3}}, tensor.Shape{2, 2, 6, 6}),
		layerCase("maxpool-padded-top-left", model.Layer{Kind: model.MaxPool, Kernel: 3, Stride: 2,
			Pad: model.Padding{Top: 1, Bottom: 1, Left: 1, Right: 1}, In: sq(5), Out: model.Shape{C: 2, H: 3, W: 3}}, tensor.Shape{2, 2, 5, 5}),
		layerCase("maxpool-2x2", model.Layer{Kind: model.MaxPool, Kernel: 2, Stride: 2, In: sq(4), Out: sq(2)}, tensor.Shape{2, 2, 4, 4}),
		layerCase("global-avg-pool", model.Layer{Kind: model.GlobalAvgPool, In: sq(4), Out: model.Shape{C: 2, H: 1, W: 1}}, tensor.Shape{2, 2, 4, 4}),
		layerCase("dense-relu-from-4d", model.Layer{Kind: model.Dense, Name: "d", ReLU: true, In: sq(2), Out: model.Shape{C: 5, H: 1, W: 1}}, tensor.Shape{3, 2, 2, 2}),
		layerCase("dropout", model.Layer{Kind: model.Dropout, Rate: 0.5, In: model.Shape{C: 6, H: 1, W: 1}, Out: model.Shape{C: 6, H: 1, W: 1}}, tensor.Shape{3, 6}),
		layerCase("l2-normalize", model.Layer{Kind: model.L2Normalize, In: model.Shape{C: 6, H: 1, W: 1}, Out: model.Shape{C: 6, H: 1, W: 1}}, tensor.Shape{3, 6}),
		{name: "triplet-loss", inShape: tensor.Shape{6, 4}, build: func(ng *netGraph, x *G.Node, _ func(string, tensor.Shape) *G.Node) (*G.Node, error) {
			loss, _, _, err := tripletLoss(x, 2, 1, tensor.Float64)
			return loss, err
		}},
		{name: "triplet-loss-one-triplet", inShape: tensor.Shape{3, 4}, build: func(ng *netGraph, x *G.Node, _ func(string, tensor.Shape) *G.Node) (*G.Node, error) {
			loss, _, _, err := tripletLoss(x, 1, 1, tensor.Float64)
			return loss, err
		}},
		contrastiveCase(0.1, 0), contrastiveCase(0.02, 0), contrastiveCase(0.1, 2),
	}
}

// contrastiveCase is the contrastive loss at temperature tau over 3
// triplets, L2-normalised first as in the network, two of the triplets of
// one class and a negative of that class too (rows left out of some
// anchors' softmax). It checks Transpose, Exp, Log and HadamardProd,
// which the checked list of /work/shared/facts.md leaves out. With koleo
// above 0 it adds that weight times the KoLeo term (nearestOp's gradient).
func contrastiveCase(tau, koleo float64) gradCase {
	const b, dim = 3, 4
	return gradCase{name: fmt.Sprintf("contrastive-loss-tau-%g-koleo-%g", tau, koleo), inShape: tensor.Shape{3 * b, dim},
		build: func(ng *netGraph, x *G.Node, _ func(string, tensor.Shape) *G.Node) (*G.Node, error) {
			h, err := ng.l2Normalize(x, 3*b, dim, tensor.Float64)
			if err != nil {
				return nil, err
			}
			loss, mask, err := contrastiveLoss(h, b, tau, tensor.Float64)
			if err != nil {
				return nil, err
			}
			labels := []int{0, 1, 0, 0, 1, 0, 2, 0, 3}
			m := make([]float64, 2*b*3*b)
			contrastiveMask(labels, b, m)
			if err := G.Let(mask, tensor.New(tensor.WithBacking(m), tensor.WithShape(2*b, 3*b))); err != nil || koleo == 0 {
				return loss, err
			}
			if loss, mask, err = addKoLeo(h, loss, 3*b, koleo, tensor.Float64); err != nil {
				return nil, err
			}
			km := make([]float64, 3*b*3*b)
			koleoMask(labels, km)
			return loss, G.Let(mask, tensor.New(tensor.WithBacking(km), tensor.WithShape(3*b, 3*b)))
		}}
}

func TestGradients(t *testing.T) {
	for _, tc := range gradCases() {
		t.Run(tc.name, func(t *testing.T) { checkGradients(t, tc) })
	}
}

// caseGraph is a gradCase built over random inputs and parameters, with
// its output projected onto a random direction to make a scalar.
type caseGraph struct {
	nodes  []*G.Node // the input, then the parameters
	values [][]float64
	out    *G.Node
	obj    *G.Node // the scalar
	vm     G.VM
}

// buildCase builds tc with ops; the same case always gets the same values.
func buildCase(t *testing.T, tc gradCase, ops layerOps) *caseGraph {
	t.Helper()
	rng := rand.New(rand.NewPCG(3, 4))
	ng := &netGraph{g: G.NewGraph(), ops: ops}
	randT := func(shape tensor.Shape) []float64 {
		v := make([]float64, shape.TotalSize())
		for i := range v {
			v[i] = rng.NormFloat64()
		}
		return v
	}
	c := &caseGraph{}
	addNode := func(name string, shape tensor.Shape) *G.Node {
		v := randT(shape)
		n := G.NewTensor(ng.g, tensor.Float64, shape.Dims(), G.WithShape(shape...), G.WithName(name),
			G.WithValue(tensor.New(tensor.WithBacking(v), tensor.WithShape(shape...))))
		c.nodes = append(c.nodes, n)
		c.values = append(c.values, v)
		return n
	}
	x := addNode("x", tc.inShape)
	var err error
	if c.out, err = tc.build(ng, x, addNode); err != nil {
		t.Fatal(err)
	}
	for i, m := range ng.masks { // a fixed dropout mask of 0 and 2
		v := make([]float64, m.Shape().TotalSize())
		for j := range v {
			v[j] = float64(2 * ((i + j) % 2))
		}
		if err := G.Let(m, tensor.New(tensor.WithBacking(v), tensor.WithShape(m.Shape()...))); err != nil {
			t.Fatal(err)
		}
	}
	c.obj = c.out
	if c.out.Shape().TotalSize() > 1 {
		r := G.NewTensor(ng.g, tensor.Float64, c.out.Dims(), G.WithShape(c.out.Shape()...), G.WithName("r"),
			G.WithValue(tensor.New(tensor.WithBacking(randT(c.out.Shape())), tensor.WithShape(c.out.Shape()...))))
		if c.obj, err = G.HadamardProd(c.out, r); err != nil {
			t.Fatal(err)
		}
		if c.obj, err = G.Sum(c.obj); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := G.Grad(c.obj, c.nodes...); err != nil {
		t.Fatal(err)
	}
	c.vm = G.NewTapeMachine(ng.g, G.BindDualValues(c.nodes...))
	t.Cleanup(func() { c.vm.Close() })
	return c
}

// run runs the forward and backward pass and returns the scalar.
func (c *caseGraph) run(t *testing.T) float64 {
	t.Helper()
	defer c.vm.Reset()
	if err := c.vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	return c.obj.Value().Data().(float64)
}

// grads returns copies of the gradients of the last run, in nodes order.
func (c *caseGraph) grads(t *testing.T) [][]float64 {
	t.Helper()
	gs := make([][]float64, len(c.nodes))
	for i, n := range c.nodes {
		g, err := n.Grad()
		if err != nil {
			t.Fatal(err)
		}
		gs[i] = append([]float64(nil), g.Data().([]float64)...)
	}
	return gs
}

// checkGradients compares the analytic gradients of tc, built with the
// graphs' own ops, with central finite differences.
func checkGradients(t *testing.T, tc gradCase) {
	c := buildCase(t, tc, fastOps)
	c.run(t)
	analytic := c.grads(t)
	const eps = 1e-6
	worst := 0.0
	for i, v := range c.values {
		for j := range v {
			orig := v[j]
			v[j] = orig + eps
			up := c.run(t)
			v[j] = orig - eps
			down := c.run(t)
			v[j] = orig
			numeric := (up - down) / (2 * eps)
			diff := math.Abs(numeric-analytic[i][j]) / math.Max(1, math.Abs(numeric))
			worst = max(worst, diff)
			if diff > 1e-5 {
				t.Errorf("%s[%d]: analytic %.8f, numeric %.8f", c.nodes[i].Name(), j, analytic[i][j], numeric)
			}
		}
	}
	t.Logf("worst relative gradient error %.2g over %d inputs", worst, len(c.nodes))
}
