package trainer

import (
	"fmt"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/deeprank/deeprank/model"
)

// maxPoolOp is a max-pool over (N, C, H, W) that records where each
// maximum came from, so that its gradient is one scatter. Windows are
// clipped to the image: padded cells are never the maximum. Of equal
// values the first in row-major order wins, as in gorgonia's MaxPool2D.
type maxPoolOp struct {
	kernelOp
	in           tensor.Shape
	k, s         int
	top, left    int
	oh, ow       int
	argmax       []int32 // per output value, its index in its input plane
	planes, h, w int
}

// maxPoolNode applies layer l (a model.MaxPool) to x.
func maxPoolNode(_ *netGraph, l model.Layer, x *G.Node) (*G.Node, error) {
	s := x.Shape()
	if s.Dims() != 4 || s[1] != l.In.C || s[2] != l.In.H || s[3] != l.In.W {
		return nil, fmt.Errorf("max-pool: input shape %v, want (N, %d, %d, %d)", s, l.In.C, l.In.H, l.In.W)
	}
	// Every window must hold at least one input cell.
	for _, d := range []struct{ pad, size, outs int }{{l.Pad.Top, l.In.H, l.Out.H}, {l.Pad.Left, l.In.W, l.Out.W}} {
		if d.pad >= l.Kernel || (d.outs-1)*l.Stride-d.pad >= d.size {
			return nil, fmt.Errorf("max-pool: kernel %d, stride %d, padding %+v: a window over %dx%d would hold padding only", l.Kernel, l.Stride, l.Pad, l.In.H, l.In.W)
		}
	}
	op := &maxPoolOp{
		kernelOp: newKernelOp(tensor.Shape{s[0], l.Out.C, l.Out.H, l.Out.W}, "maxpool(k%d s%d %+v)", l.Kernel, l.Stride, l.Pad),
		in:       s.Clone(),
		k:        l.Kernel, s: l.Stride, top: l.Pad.Top, left: l.Pad.Left,
		oh: l.Out.H, ow: l.Out.W,
		planes: s[0] * s[1], h: s[2], w: s[3],
	}
	op.argmax = make([]int32, op.shape.TotalSize())
	return G.ApplyOp(op, x)
}

func (op *maxPoolOp) Arity() int    { return 1 }
func (op *maxPoolOp) Type() hm.Type { return fnType(4, 4) }
func (op *maxPoolOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return op.inferShape(in, op.in)
}

func (op *maxPoolOp) Do(values ...G.Value) (G.Value, error) {
	return op.run(values, []tensor.Shape{op.in},
		func(in [][]float32, y []float32) { maxPoolForward(op, in[0], y) },
		func(in [][]float64, y []float64) { maxPoolForward(op, in[0], y) })
}

func maxPoolForward[T float](op *maxPoolOp, x, y []T) {
	hw, p := op.h*op.w, op.oh*op.ow
	// The compact backbone's 2x2 pools at stride 2 with every window
	// inside the image: most of the pooled values, worth a loop of their own.
	pairs := op.k == 2 && op.s == 2 && op.top == 0 && op.left == 0 && 2*op.oh <= op.h && 2*op.ow <= op.w
	for pl := range op.planes {
		in, out, am := x[pl*hw:][:hw], y[pl*p:][:p], op.argmax[pl*p:][:p]
		if pairs {
			maxPool2x2(in, op.w, out, am, op.oh, op.ow)
			continue
		}
		for oy := range op.oh {
			y0 := oy*op.s - op.top
			y1 := min(y0+op.k, op.h)
			y0 = max(y0, 0)
			for ox := range op.ow {
				x0 := ox*op.s - op.left
				x1 := min(x0+op.k, op.w)
				x0 = max(x0, 0)
				best := y0*op.w + x0
				v := in[best]
				for iy := y0; iy < y1; iy++ {
					row := in[iy*op.w:][:x1]
					for ix := x0; ix < x1; ix++ {
						if row[ix] > v {
							v, best = row[ix], iy*op.w+ix
						}
					}
				}
				out[oy*op.ow+ox] = v
				am[oy*op.ow+ox] = int32(best)
			}
		}
	}
}

// maxPool2x2 pools one plane of width w in 2x2 windows at stride 2; of
// equal values the first in row-major order wins.
func maxPool2x2[T float](in []T, w int, out []T, argmax []int32, oh, ow int) {
	for oy := range oh {
		at := 2 * oy * w
		r0, r1 := in[at:][:2*ow], in[at+w:][:2*ow]
		o, am := out[oy*ow:][:ow], argmax[oy*ow:][:ow]
		for ox := range o {
			v, best := r0[2*ox], at+2*ox
			if r0[2*ox+1] > v {
				v, best = r0[2*ox+1], at+2*ox+1
			}
			if r1[2*ox] > v {
				v, best = r1[2*ox], at+w+2*ox
			}
			if r1[2*ox+1] > v {
				v, best = r1[2*ox+1], at+w+2*ox+1
			}
			o[ox], am[ox] = v, int32(best)
		}
	}
}

func (op *maxPoolOp) DiffWRT(int) []bool { return []bool{true} }

func (op *maxPoolOp) SymDiff(_ G.Nodes, _, dy *G.Node) (G.Nodes, error) {
	grad := &maxPoolGradOp{kernelOp: newKernelOp(op.in, "d%s/dx", op.name), pool: op}
	dx, err := G.ApplyOp(grad, dy)
	return G.Nodes{dx}, err
}

// maxPoolGradOp is the gradient of a max-pool's input: each output's
// gradient goes to the input value that was its maximum in the forward
// pass of the same run (dy depends on that pass, so it has run).
type maxPoolGradOp struct {
	kernelOp
	pool *maxPoolOp
}

func (op *maxPoolGradOp) Arity() int    { return 1 }
func (op *maxPoolGradOp) Type() hm.Type { return fnType(4, 4) }
func (op *maxPoolGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return op.inferShape(in, op.pool.shape)
}

func (op *maxPoolGradOp) Do(values ...G.Value) (G.Value, error) {
	return op.run(values, []tensor.Shape{op.pool.shape},
		func(in [][]float32, dx []float32) { maxPoolBackward(op.pool, in[0], dx) },
		func(in [][]float64, dx []float64) { maxPoolBackward(op.pool, in[0], dx) })
}

func maxPoolBackward[T float](op *maxPoolOp, dy, dx []T) {
	hw, p := op.h*op.w, op.oh*op.ow
	clear(dx)
	for pl := range op.planes {
		d := dx[pl*hw:][:hw]
		for j, i := range op.argmax[pl*p:][:p] {
			d[i] += dy[pl*p+j]
		}
	}
}
