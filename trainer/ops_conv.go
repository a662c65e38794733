package trainer

import (
	"fmt"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/deeprank/deeprank/model"
)

// convGeom is the geometry of one convolution: n images of c x h x w, o
// filters of k x k at stride s, zero padding pad, giving o x oh x ow per
// image.
type convGeom struct {
	n, c, h, w int
	o, k, s    int
	pad        model.Padding
	oh, ow     int
}

// convGroupValues bounds the scratch space of one group of images (its
// im2col matrix and its product), about 2 MB in float32: large enough that
// the late layers' small images still make wide products, small enough to
// stay in the L2 and L3 caches.
const convGroupValues = 1 << 19

func (g convGeom) taps() int   { return g.c * g.k * g.k } // rows of the im2col matrix
func (g convGeom) pixels() int { return g.oh * g.ow }     // output pixels per image

// group is how many images one im2col matrix holds.
func (g convGeom) group() int {
	return max(1, min(g.n, convGroupValues/((g.taps()+g.o)*g.pixels())))
}

// validCols is the range [lo, hi) of output columns whose input column
// for kernel column kx lies inside the image (the rest read padding).
func (g convGeom) validCols(kx int) (lo, hi int) {
	return validRange(g.pad.Left, kx, g.s, g.w, g.ow)
}

// validRange is the range of outputs i in [0, outs) whose input
// i*stride - pad + tap lies in [0, size).
func validRange(pad, tap, stride, size, outs int) (lo, hi int) {
	if d := pad - tap; d > 0 {
		lo = (d + stride - 1) / stride
	}
	if v := size - 1 + pad - tap; v >= 0 {
		hi = min(outs, v/stride+1)
	}
	return min(lo, hi), hi
}

// im2col writes images [n0, n0+cnt) of x into col, a matrix of taps() rows
// and cnt*pixels() columns: row (channel, ky, kx), column (image, oy, ox)
// holds the input value under that kernel tap, 0 in the padding.
func im2col[T float](g convGeom, x []T, n0, cnt int, col []T) {
	p, hw := g.pixels(), g.h*g.w
	ld := cnt * p
	for ci := range g.c {
		for ky := range g.k {
			ylo, yhi := validRange(g.pad.Top, ky, g.s, g.h, g.oh)
			for kx := range g.k {
				row := col[((ci*g.k+ky)*g.k+kx)*ld:][:ld]
				lo, hi := g.validCols(kx)
				for i := range cnt {
					plane := x[((n0+i)*g.c+ci)*hw:][:hw]
					dst := row[i*p:][:p]
					clear(dst[:ylo*g.ow])
					clear(dst[yhi*g.ow:])
					for oy := ylo; oy < yhi; oy++ {
						d := dst[oy*g.ow:][:g.ow]
						src := plane[(oy*g.s-g.pad.Top+ky)*g.w:][:g.w]
						clear(d[:lo])
						clear(d[hi:])
						if lo == hi {
							continue
						}
						ix := lo*g.s - g.pad.Left + kx
						if g.s == 1 {
							copy(d[lo:hi], src[ix:])
							continue
						}
						for ox := lo; ox < hi; ox++ {
							d[ox] = src[ix]
							ix += g.s
						}
					}
				}
			}
		}
	}
}

// col2im adds col (laid out as im2col writes it) into images [n0, n0+cnt)
// of dx: each input value receives the sum over the taps that read it.
func col2im[T float](g convGeom, col []T, n0, cnt int, dx []T) {
	p, hw := g.pixels(), g.h*g.w
	ld := cnt * p
	for ci := range g.c {
		for ky := range g.k {
			ylo, yhi := validRange(g.pad.Top, ky, g.s, g.h, g.oh)
			for kx := range g.k {
				row := col[((ci*g.k+ky)*g.k+kx)*ld:][:ld]
				lo, hi := g.validCols(kx)
				for i := range cnt {
					plane := dx[((n0+i)*g.c+ci)*hw:][:hw]
					src := row[i*p:][:p]
					for oy := ylo; oy < yhi; oy++ {
						s := src[oy*g.ow:][:g.ow]
						d := plane[(oy*g.s-g.pad.Top+ky)*g.w:][:g.w]
						if lo == hi {
							continue
						}
						ix := lo*g.s - g.pad.Left + kx
						if g.s == 1 {
							dd := d[ix:][:hi-lo]
							for j, v := range s[lo:hi] {
								dd[j] += v
							}
							continue
						}
						for ox := lo; ox < hi; ox++ {
							d[ix] += s[ox]
							ix += g.s
						}
					}
				}
			}
		}
	}
}

// convOp is a convolution with bias and, optionally, ReLU: inputs x
// (N, C, H, W), weights (O, C, K, K) and bias (O); output (N, O, OH, OW).
// Each group of images is one im2col matrix and one matrix product, whose
// result is stored in NCHW order with the bias and ReLU applied on the way.
type convOp struct {
	kernelOp
	g    convGeom
	relu bool
	// inputGrad says whether x needs a gradient: not where x is the
	// graph's input image.
	inputGrad bool
	ws        *scratch
}

// convNode applies layer l (a model.Conv) to x with weights w and bias b.
func convNode(ng *netGraph, l model.Layer, x, w, b *G.Node) (*G.Node, error) {
	s := x.Shape()
	if s.Dims() != 4 || s[1] != l.In.C || s[2] != l.In.H || s[3] != l.In.W {
		return nil, fmt.Errorf("conv %s: input shape %v, want (N, %d, %d, %d)", l.Name, s, l.In.C, l.In.H, l.In.W)
	}
	g := convGeom{n: s[0], c: l.In.C, h: l.In.H, w: l.In.W, o: l.Out.C, k: l.Kernel, s: l.Stride, pad: l.Pad, oh: l.Out.H, ow: l.Out.W}
	op := &convOp{
		kernelOp:  newKernelOp(tensor.Shape{g.n, g.o, g.oh, g.ow}, "conv(%s k%d s%d %+v relu %t)", l.Name, g.k, g.s, g.pad, l.ReLU),
		g:         g,
		relu:      l.ReLU,
		inputGrad: x != ng.input,
		ws:        &ng.ws,
	}
	return G.ApplyOp(op, x, w, b)
}

func (op *convOp) xShape() tensor.Shape { return tensor.Shape{op.g.n, op.g.c, op.g.h, op.g.w} }
func (op *convOp) wShape() tensor.Shape { return tensor.Shape{op.g.o, op.g.c, op.g.k, op.g.k} }
func (op *convOp) bShape() tensor.Shape { return tensor.Shape{op.g.o} }

func (op *convOp) Arity() int    { return 3 }
func (op *convOp) Type() hm.Type { return fnType(4, 4, 4, 1) }
func (op *convOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return op.inferShape(in, op.xShape(), op.wShape(), op.bShape())
}

func (op *convOp) Do(values ...G.Value) (G.Value, error) {
	return op.run(values, []tensor.Shape{op.xShape(), op.wShape(), op.bShape()},
		func(in [][]float32, y []float32) { convForward(op, in[0], in[1], in[2], y) },
		func(in [][]float64, y []float64) { convForward(op, in[0], in[1], in[2], y) })
}

func convForward[T float](op *convOp, x, w, b, y []T) {
	g := op.g
	p, taps, grp := g.pixels(), g.taps(), g.group()
	buf := scratchOf[T](op.ws, (taps+g.o)*grp*p)
	for n0 := 0; n0 < g.n; n0 += grp {
		cnt := min(grp, g.n-n0)
		ld := cnt * p
		col, prod := buf[:taps*ld], buf[taps*ld:][:g.o*ld]
		im2col(g, x, n0, cnt, col)
		gemm(false, false, g.o, ld, taps, w, taps, col, ld, 0, prod, ld)
		for i := range cnt {
			for o := range g.o {
				src := prod[o*ld+i*p:][:p]
				dst := y[((n0+i)*g.o+o)*p:][:p]
				bias := b[o]
				if op.relu {
					for j, v := range src {
						dst[j] = max(v+bias, 0)
					}
				} else {
					for j, v := range src {
						dst[j] = v + bias
					}
				}
			}
		}
	}
}

func (op *convOp) DiffWRT(int) []bool { return []bool{op.inputGrad, true, true} }

// SymDiff gives the gradients of x, w and b from the output y and its
// gradient dy; with ReLU, each masks dy where y is 0 as it reads it.
func (op *convOp) SymDiff(inputs G.Nodes, y, dy *G.Node) (G.Nodes, error) {
	x, w := inputs[0], inputs[1]
	grads := make(G.Nodes, 3)
	var err error
	if op.inputGrad {
		in := &convGradOp{kernelOp: newKernelOp(op.xShape(), "d%s/dx", op.name), c: op, first: op.wShape(),
			f32: convInputGrad[float32], f64: convInputGrad[float64]}
		if grads[0], err = G.ApplyOp(in, w, y, dy); err != nil {
			return nil, err
		}
	}
	wg := &convGradOp{kernelOp: newKernelOp(op.wShape(), "d%s/dw", op.name), c: op, first: op.xShape(),
		f32: convWeightGrad[float32], f64: convWeightGrad[float64]}
	if grads[1], err = G.ApplyOp(wg, x, y, dy); err != nil {
		return nil, err
	}
	bg := &convBiasGradOp{kernelOp: newKernelOp(op.bShape(), "d%s/db", op.name), c: op}
	if grads[2], err = G.ApplyOp(bg, y, dy); err != nil {
		return nil, err
	}
	return grads, nil
}

// gatherGrad copies the output gradient of images [n0, n0+cnt) into dz as
// an o x cnt*pixels() matrix (the layout of the forward product), zero
// where ReLU cut the output.
func gatherGrad[T float](op *convOp, y, dy []T, n0, cnt int, dz []T) {
	g := op.g
	p := g.pixels()
	for i := range cnt {
		for o := range g.o {
			at := ((n0+i)*g.o + o) * p
			dst := dz[o*cnt*p+i*p:][:p]
			src := dy[at:][:p]
			if !op.relu {
				copy(dst, src)
				continue
			}
			for j, v := range y[at:][:p] {
				if v > 0 {
					dst[j] = src[j]
				} else {
					dst[j] = 0
				}
			}
		}
	}
}

// convGradOp is a gradient of a convolution: of its input (inputs w, y,
// dy: dx = col2im(w^T * dz) per group of images, convInputGrad) or of its
// weights (inputs x, y, dy: dw = the sum over groups of dz * im2col(x)^T,
// convWeightGrad).
type convGradOp struct {
	kernelOp
	c     *convOp
	first tensor.Shape // of the first input, w or x
	f32   func(op *convOp, first, y, dy, out []float32)
	f64   func(op *convOp, first, y, dy, out []float64)
}

func (op *convGradOp) Arity() int    { return 3 }
func (op *convGradOp) Type() hm.Type { return fnType(4, 4, 4, 4) }
func (op *convGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return op.inferShape(in, op.first, op.c.shape, op.c.shape)
}

func (op *convGradOp) Do(values ...G.Value) (G.Value, error) {
	return op.run(values, []tensor.Shape{op.first, op.c.shape, op.c.shape},
		func(in [][]float32, out []float32) { op.f32(op.c, in[0], in[1], in[2], out) },
		func(in [][]float64, out []float64) { op.f64(op.c, in[0], in[1], in[2], out) })
}

func convInputGrad[T float](op *convOp, w, y, dy, dx []T) {
	g := op.g
	p, taps, grp := g.pixels(), g.taps(), g.group()
	buf := scratchOf[T](op.ws, (taps+g.o)*grp*p)
	clear(dx)
	for n0 := 0; n0 < g.n; n0 += grp {
		cnt := min(grp, g.n-n0)
		ld := cnt * p
		col, dz := buf[:taps*ld], buf[taps*ld:][:g.o*ld]
		gatherGrad(op, y, dy, n0, cnt, dz)
		gemm(true, false, taps, ld, g.o, w, taps, dz, ld, 0, col, ld)
		col2im(g, col, n0, cnt, dx)
	}
}

func convWeightGrad[T float](op *convOp, x, y, dy, dw []T) {
	g := op.g
	p, taps, grp := g.pixels(), g.taps(), g.group()
	buf := scratchOf[T](op.ws, (taps+g.o)*grp*p)
	for n0 := 0; n0 < g.n; n0 += grp {
		cnt := min(grp, g.n-n0)
		ld := cnt * p
		col, dz := buf[:taps*ld], buf[taps*ld:][:g.o*ld]
		im2col(g, x, n0, cnt, col)
		gatherGrad(op, y, dy, n0, cnt, dz)
		var beta T // the first group overwrites dw, the others add to it
		if n0 > 0 {
			beta = 1
		}
		gemm(false, true, g.o, taps, ld, dz, ld, col, ld, beta, dw, taps)
	}
}

// convBiasGradOp is the gradient of a convolution's bias: inputs y, dy;
// db[o] = the sum of dz over images and pixels of channel o.
type convBiasGradOp struct {
	kernelOp
	c *convOp
}

func (op *convBiasGradOp) Arity() int    { return 2 }
func (op *convBiasGradOp) Type() hm.Type { return fnType(1, 4, 4) }
func (op *convBiasGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return op.inferShape(in, op.c.shape, op.c.shape)
}

func (op *convBiasGradOp) Do(values ...G.Value) (G.Value, error) {
	return op.run(values, []tensor.Shape{op.c.shape, op.c.shape},
		func(in [][]float32, db []float32) { convBiasGrad(op.c, in[0], in[1], db) },
		func(in [][]float64, db []float64) { convBiasGrad(op.c, in[0], in[1], db) })
}

func convBiasGrad[T float](op *convOp, y, dy, db []T) {
	g := op.g
	p := g.pixels()
	clear(db)
	for n := range g.n {
		for o := range g.o {
			at := (n*g.o + o) * p
			var sum T
			if op.relu {
				ys := y[at:][:p]
				for j, v := range dy[at:][:p] {
					if ys[j] > 0 {
						sum += v
					}
				}
			} else {
				for _, v := range dy[at:][:p] {
					sum += v
				}
			}
			db[o] += sum
		}
	}
}
