package trainer

import (
	"fmt"
	"sync/atomic"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/deeprank/deeprank/model"
)

// stockOps build convolutions and max-pools from gorgonia's own ops: the
// reference that the custom ops of ops_conv.go and ops_pool.go must match.
var stockOps = layerOps{conv: stockConv, maxPool: stockMaxPool}

func stockConv(ng *netGraph, l model.Layer, h, w, b *G.Node) (*G.Node, error) {
	var err error
	pad := []int{l.Pad.Top, l.Pad.Left}
	if l.Pad.Top != l.Pad.Bottom || l.Pad.Left != l.Pad.Right {
		// Conv2d pads symmetrically only: pad explicitly instead.
		if h, err = zeroPad(ng, h, l.Pad); err != nil {
			return nil, err
		}
		pad = []int{0, 0}
	}
	if h, err = G.Conv2d(h, w, tensor.Shape{l.Kernel, l.Kernel}, pad, []int{l.Stride, l.Stride}, []int{1, 1}); err != nil {
		return nil, err
	}
	if b, err = G.Reshape(b, tensor.Shape{1, l.Out.C, 1, 1}); err != nil {
		return nil, err
	}
	if h, err = G.BroadcastAdd(h, b, nil, []byte{0, 2, 3}); err != nil {
		return nil, err
	}
	if l.ReLU {
		return G.Rectify(h)
	}
	return h, nil
}

func stockMaxPool(_ *netGraph, l model.Layer, h *G.Node) (*G.Node, error) {
	// MaxPool2D reads pad[1] and pad[3] as the top and left offsets and
	// pad[0], pad[2] as the extra rows and columns at the bottom and right
	// (see shared/facts.md); padded cells are never the maximum.
	pad := []int{l.Pad.Bottom, l.Pad.Top, l.Pad.Right, l.Pad.Left}
	return G.MaxPool2D(h, tensor.Shape{l.Kernel, l.Kernel}, pad, []int{l.Stride, l.Stride})
}

// zeroPads numbers zeroPad's constants: graph nodes need unique names.
var zeroPads atomic.Int64

// zeroPad surrounds h (N, C, H, W) with zeros.
func zeroPad(ng *netGraph, h *G.Node, p model.Padding) (*G.Node, error) {
	var err error
	s := h.Shape().Clone()
	dt := h.Dtype()
	zeros := func(rows, cols int) *G.Node {
		t := tensor.New(tensor.Of(dt), tensor.WithShape(s[0], s[1], rows, cols))
		// A graph input, not a constant: constants made outside the graph
		// break Concat's edges.
		return G.NewTensor(ng.g, dt, 4, G.WithShape(t.Shape()...), G.WithValue(t), G.WithName(fmt.Sprintf("zeropad%d", zeroPads.Add(1))))
	}
	parts := []*G.Node{}
	if p.Top > 0 {
		parts = append(parts, zeros(p.Top, s[3]))
	}
	parts = append(parts, h)
	if p.Bottom > 0 {
		parts = append(parts, zeros(p.Bottom, s[3]))
	}
	if h, err = G.Concat(2, parts...); err != nil {
		return nil, err
	}
	rows := s[2] + p.Top + p.Bottom
	// A new slice: Concat keeps the one it is given as the node's children.
	parts = nil
	if p.Left > 0 {
		parts = append(parts, zeros(rows, p.Left))
	}
	parts = append(parts, h)
	if p.Right > 0 {
		parts = append(parts, zeros(rows, p.Right))
	}
	return G.Concat(3, parts...)
}
