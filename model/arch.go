package model

import "fmt"

// LayerKind names the operations a network is made of.
type LayerKind int

// The layer kinds. Every engine (the trainer's gorgonia graph and the fast
// forward pass) implements each of them.
const (
	// Conv is a 2-D convolution with bias and optional ReLU. Weights are
	// (Out, In, Kernel, Kernel), bias (Out).
	Conv LayerKind = iota
	// MaxPool is a 2-D max-pool; padded cells are never the maximum.
	MaxPool
	// GlobalAvgPool averages each channel over its spatial extent.
	GlobalAvgPool
	// Dense is a fully connected layer with bias and optional ReLU. Weights
	// are (In, Out), bias (Out). Its input is the flattened (C*H*W) tensor.
	Dense
	// Dropout drops units with probability Rate while training; it is the
	// identity at inference.
	Dropout
	// L2Normalize divides the flattened tensor by its Euclidean norm.
	L2Normalize
)

func (k LayerKind) String() string {
	switch k {
	case Conv:
		return "conv"
	case MaxPool:
		return "maxpool"
	case GlobalAvgPool:
		return "gap"
	case Dense:
		return "dense"
	case Dropout:
		return "dropout"
	case L2Normalize:
		return "l2norm"
	}
	return fmt.Sprintf("LayerKind(%d)", int(k))
}

// Shape is the (channels, height, width) of one image's activations. A flat
// vector of n values is (n, 1, 1).
type Shape struct{ C, H, W int }

// Size is the number of values in the shape.
func (s Shape) Size() int { return s.C * s.H * s.W }

// Padding is the number of cells added on each side, as Keras 'same' pads:
// the larger half goes to the bottom and the right.
type Padding struct{ Top, Bottom, Left, Right int }

// Layer is one resolved operation with its input and output shapes.
type Layer struct {
	Kind   LayerKind
	Name   string // prefix of the layer's parameters: Name+".w", Name+".b"
	Kernel int
	Stride int
	Pad    Padding
	ReLU   bool
	Rate   float64 // Dropout only
	In     Shape
	Out    Shape
}

// Branch is a chain of layers from the input image to a flat vector.
type Branch struct {
	Name   string
	Layers []Layer
}

// Arch is a Spec resolved into layers with shapes: parallel branches from the
// input, their outputs concatenated, then Head.
type Arch struct {
	Input    Shape
	Branches []Branch
	// Head maps the concatenated branch outputs to the embedding; it ends
	// with L2Normalize.
	Head []Layer
}

// Param is a named parameter tensor of the network.
type Param struct {
	Name  string
	Shape []int
	// FanIn is the number of inputs of each unit, for initialisation.
	FanIn int
}

// samePadding returns the output size and Keras 'same' padding of a window
// op along one axis.
func samePadding(in, kernel, stride int) (out, before, after int) {
	out = (in + stride - 1) / stride
	total := max((out-1)*stride+kernel-in, 0)
	return out, total / 2, total - total/2
}

// builder appends layers to a chain, tracking the current shape.
type builder struct {
	layers []Layer
	cur    Shape
}

func (b *builder) add(l Layer) {
	l.In = b.cur
	switch l.Kind {
	case Conv, MaxPool:
		oh, pt, pb := samePadding(b.cur.H, l.Kernel, l.Stride)
		ow, pl, pr := samePadding(b.cur.W, l.Kernel, l.Stride)
		l.Pad = Padding{pt, pb, pl, pr}
		c := b.cur.C
		if l.Kind == Conv {
			c = l.Out.C
		}
		l.Out = Shape{c, oh, ow}
	case GlobalAvgPool:
		l.Out = Shape{b.cur.C, 1, 1}
	case Dense:
		l.Out = Shape{l.Out.C, 1, 1}
	case Dropout, L2Normalize:
		l.Out = b.cur
	}
	b.cur = l.Out
	b.layers = append(b.layers, l)
}

func (b *builder) conv(name string, out, kernel, stride int, relu bool) {
	b.add(Layer{Kind: Conv, Name: name, Kernel: kernel, Stride: stride, ReLU: relu, Out: Shape{C: out}})
}

func (b *builder) pool(kernel, stride int) {
	b.add(Layer{Kind: MaxPool, Kernel: kernel, Stride: stride})
}

// compactStages adds the compact backbone's stages, named under branch: a
// 3x3 convolution with ReLU and a 2x2 max-pool each, channels starting at
// width and doubling per stage.
func (b *builder) compactStages(branch string, width, stages int) {
	for st := range stages {
		b.conv(fmt.Sprintf("%s.stage%d_conv", branch, st+1), width<<st, 3, 1, true)
		b.pool(2, 2)
	}
}

func (b *builder) dense(name string, out int, relu bool) {
	b.add(Layer{Kind: Dense, Name: name, ReLU: relu, Out: Shape{C: out}})
}

// Arch resolves the spec into layers. The spec must be valid.
func (s Spec) Arch() (Arch, error) {
	if err := s.Validate(); err != nil {
		return Arch{}, err
	}
	in := Shape{3, s.InputSize, s.InputSize}
	a := Arch{Input: in}

	cnn := &builder{cur: in}
	switch s.Backbone {
	case BackboneVGG16:
		blocks := []struct{ convs, ch int }{{2, 64}, {2, 128}, {3, 256}, {3, 512}, {3, 512}}
		for bi, blk := range blocks {
			for ci := range blk.convs {
				cnn.conv(fmt.Sprintf("convnet.block%d_conv%d", bi+1, ci+1), blk.ch, 3, 1, true)
			}
			cnn.pool(2, 2)
		}
	case BackboneCompact:
		cnn.compactStages("convnet", s.Width, s.Stages)
	}
	cnn.add(Layer{Kind: GlobalAvgPool})
	cnn.dense("convnet.fc1", s.DenseDim, true)
	cnn.add(Layer{Kind: Dropout, Rate: s.Dropout})
	cnn.dense("convnet.fc2", s.DenseDim, true)
	cnn.add(Layer{Kind: Dropout, Rate: s.Dropout})
	cnn.add(Layer{Kind: L2Normalize})
	// Every branch starts from the input and ends in a flat vector; the head
	// sees them concatenated.
	concat := 0
	addBranch := func(name string, b *builder) {
		a.Branches = append(a.Branches, Branch{Name: name, Layers: b.layers})
		concat += b.cur.Size()
	}
	addBranch("convnet", cnn)

	for i, sb := range s.Shallow {
		name := fmt.Sprintf("shallow%d", i+1)
		b := &builder{cur: in}
		b.conv(name+".conv", sb.Filters, sb.Kernel, sb.Stride, sb.Pooled)
		b.pool(sb.PoolKernel, sb.PoolStride)
		if sb.Pooled {
			b.add(Layer{Kind: GlobalAvgPool})
		}
		b.add(Layer{Kind: L2Normalize})
		addBranch(name, b)
	}
	if s.ColorFeatures > 0 {
		b := &builder{cur: in}
		// Kernel 2, stride 2: every pixel is seen once, at a quarter of the
		// cost of a 1x1 convolution at every pixel.
		b.conv("color.conv", s.ColorFeatures, 2, 2, true)
		b.add(Layer{Kind: GlobalAvgPool})
		b.add(Layer{Kind: L2Normalize})
		addBranch("color", b)
	}

	for i, pb := range s.PooledBackbones {
		name := fmt.Sprintf("pooled%d", i+1)
		b := &builder{cur: in}
		b.compactStages(name, pb.Width, pb.Stages)
		b.add(Layer{Kind: GlobalAvgPool})
		b.add(Layer{Kind: L2Normalize})
		addBranch(name, b)
	}

	head := &builder{cur: Shape{concat, 1, 1}}
	head.dense("embedding", s.EmbeddingDim, false)
	head.add(Layer{Kind: L2Normalize})
	a.Head = head.layers
	return a, nil
}

// Params lists the network's parameters in a fixed order.
func (a Arch) Params() []Param {
	var ps []Param
	add := func(l Layer) {
		switch l.Kind {
		case Conv:
			fan := l.In.C * l.Kernel * l.Kernel
			ps = append(ps,
				Param{Name: l.Name + ".w", Shape: []int{l.Out.C, l.In.C, l.Kernel, l.Kernel}, FanIn: fan},
				Param{Name: l.Name + ".b", Shape: []int{l.Out.C}, FanIn: fan})
		case Dense:
			fan := l.In.Size()
			ps = append(ps,
				Param{Name: l.Name + ".w", Shape: []int{fan, l.Out.C}, FanIn: fan},
				Param{Name: l.Name + ".b", Shape: []int{l.Out.C}, FanIn: fan})
		}
	}
	for _, b := range a.Branches {
		for _, l := range b.Layers {
			add(l)
		}
	}
	for _, l := range a.Head {
		add(l)
	}
	return ps
}

// Dim is the size of the embedding.
func (a Arch) Dim() int { return a.Head[len(a.Head)-1].Out.C }
