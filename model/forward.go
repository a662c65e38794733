package model

import (
	"fmt"
	"math"
	"runtime"
	"sync"

	"gonum.org/v1/gonum/blas"

	gosgemm "github.com/deeprank/deeprank/internal/sgemm"
)

// L2Epsilon is added to the squared norm before the square root in
// L2Normalize, in every engine, so a zero vector stays finite.
const L2Epsilon = 1e-12

// sgemm is the BLAS the forward pass multiplies with: internal/sgemm's
// blocked kernel (the same one the trainer hands gorgonia), or OpenBLAS in
// a build with the openblas tag (blas_openblas.go).
var sgemm blas.Float32Level3 = gosgemm.Implementation{}

var blasName = gosgemm.Describe()

// BLAS names the library this build multiplies matrices with, in the fast
// forward pass and in the trainer.
func BLAS() string { return blasName }

// Net is the fast inference engine of a model: im2col and SGEMM in pure Go,
// no autodiff graph. It reads the model's weights in place, so a Net sees
// later changes to them (the trainer uses that to evaluate while it trains).
// A Net is safe for concurrent use.
type Net struct {
	arch    Arch
	weights map[string][]float32
	workers int
}

// NetOptions tunes a Net. The zero value (or nil) means defaults.
type NetOptions struct {
	// Workers is how many goroutines share a batch; 0 means GOMAXPROCS.
	Workers int
}

// NewNet builds the inference engine for m.
func NewNet(m *Model, opts *NetOptions) (*Net, error) {
	a, err := m.Spec.Arch()
	if err != nil {
		return nil, err
	}
	for _, p := range a.Params() {
		if len(m.Weights[p.Name]) != shapeSize(p.Shape) {
			return nil, fmt.Errorf("new net: parameter %s has %d values, want %d", p.Name, len(m.Weights[p.Name]), shapeSize(p.Shape))
		}
	}
	n := &Net{arch: a, weights: m.Weights, workers: runtime.GOMAXPROCS(0)}
	if opts != nil && opts.Workers > 0 {
		n.workers = opts.Workers
	}
	return n, nil
}

// Dim is the embedding size.
func (n *Net) Dim() int { return n.arch.Dim() }

// InputShape is the (3, size, size) shape of one input image.
func (n *Net) InputShape() Shape { return n.arch.Input }

// Forward embeds count images. x holds them normalised and laid out
// (count, 3, size, size); the result is (count, Dim), each row of unit
// length. It panics if len(x) does not match count.
func (n *Net) Forward(x []float32, count int) []float32 {
	in := n.arch.Input.Size()
	if len(x) != count*in {
		panic(fmt.Sprintf("model: Forward: %d values for %d images of %d", len(x), count, in))
	}
	out := make([]float32, count*n.Dim())
	workers := min(n.workers, count)
	if workers <= 1 {
		n.forward(x, count, out)
		return out
	}
	var wg sync.WaitGroup
	per := (count + workers - 1) / workers
	for lo := 0; lo < count; lo += per {
		hi := min(lo+per, count)
		wg.Add(1)
		go func() {
			defer wg.Done()
			n.forward(x[lo*in:hi*in], hi-lo, out[lo*n.Dim():hi*n.Dim()])
		}()
	}
	wg.Wait()
	return out
}

// forward runs count images through the network into out.
func (n *Net) forward(x []float32, count int, out []float32) {
	var concat []float32 // (count, total branch width)
	width := 0
	var outs [][]float32
	for _, b := range n.arch.Branches {
		h := x
		for _, l := range b.Layers {
			h = n.apply(l, h, count)
		}
		outs = append(outs, h)
		width += b.Layers[len(b.Layers)-1].Out.Size()
	}
	concat = make([]float32, count*width)
	off := 0
	for bi, b := range n.arch.Branches {
		bw := b.Layers[len(b.Layers)-1].Out.Size()
		for i := range count {
			copy(concat[i*width+off:], outs[bi][i*bw:(i+1)*bw])
		}
		off += bw
	}
	h := concat
	for _, l := range n.arch.Head {
		h = n.apply(l, h, count)
	}
	copy(out, h)
}

// apply runs one layer on a batch of count activations of shape l.In.
func (n *Net) apply(l Layer, h []float32, count int) []float32 {
	switch l.Kind {
	case Conv:
		return n.conv(l, h, count)
	case MaxPool:
		return maxPool(l, h, count)
	case GlobalAvgPool:
		return globalAvgPool(l, h, count)
	case Dense:
		return n.dense(l, h, count)
	case Dropout:
		return h
	case L2Normalize:
		out := make([]float32, len(h))
		copy(out, h)
		l2Normalize(out, l.In.Size())
		return out
	}
	panic("model: unknown layer kind " + l.Kind.String())
}

func (n *Net) conv(l Layer, h []float32, count int) []float32 {
	w, b := n.weights[l.Name+".w"], n.weights[l.Name+".b"]
	ckk := l.In.C * l.Kernel * l.Kernel
	hw := l.Out.H * l.Out.W
	col := make([]float32, ckk*hw)
	out := make([]float32, count*l.Out.Size())
	for i := range count {
		im2col(l, h[i*l.In.Size():(i+1)*l.In.Size()], col)
		o := out[i*l.Out.Size() : (i+1)*l.Out.Size()]
		for c := range l.Out.C {
			row := o[c*hw : (c+1)*hw]
			for j := range row {
				row[j] = b[c]
			}
		}
		// o (Cout x HW) = w (Cout x CKK) * col (CKK x HW) + o
		sgemm.Sgemm(blas.NoTrans, blas.NoTrans, l.Out.C, hw, ckk, 1, w, ckk, col, hw, 1, o, hw)
		if l.ReLU {
			relu(o)
		}
	}
	return out
}

// im2col lays out every kernel window of one image as a column: row
// (c, ky, kx), column (oy, ox). Cells in the padding are zero.
func im2col(l Layer, img, col []float32) {
	k, s := l.Kernel, l.Stride
	H, W := l.In.H, l.In.W
	OH, OW := l.Out.H, l.Out.W
	r := 0
	for c := range l.In.C {
		plane := img[c*H*W : (c+1)*H*W]
		for ky := range k {
			for kx := range k {
				dst := col[r*OH*OW : (r+1)*OH*OW]
				r++
				for oy := range OH {
					y := oy*s + ky - l.Pad.Top
					d := dst[oy*OW : (oy+1)*OW]
					if y < 0 || y >= H {
						clear(d)
						continue
					}
					src := plane[y*W : (y+1)*W]
					// Output columns whose input x = ox*s + kx - pad is
					// inside the row: [lo, hi).
					off := kx - l.Pad.Left
					lo := min(max((-off+s-1)/s, 0), OW)
					hi := min(max((W-off+s-1)/s, lo), OW)
					clear(d[:lo])
					clear(d[hi:])
					if s == 1 {
						copy(d[lo:hi], src[lo+off:hi+off])
						continue
					}
					for ox := lo; ox < hi; ox++ {
						d[ox] = src[ox*s+off]
					}
				}
			}
		}
	}
}

func maxPool(l Layer, h []float32, count int) []float32 {
	out := make([]float32, count*l.Out.Size())
	H, W, OH, OW := l.In.H, l.In.W, l.Out.H, l.Out.W
	if l.Kernel == 2 && l.Stride == 2 && l.Pad == (Padding{}) && H%2 == 0 && W%2 == 0 {
		// The backbone's pool: no clipping, no padding.
		for p := range count * l.In.C {
			in := h[p*H*W : (p+1)*H*W]
			o := out[p*OH*OW : (p+1)*OH*OW]
			for oy := range OH {
				r0 := in[2*oy*W : (2*oy+1)*W]
				r1 := in[(2*oy+1)*W : (2*oy+2)*W]
				row := o[oy*OW : (oy+1)*OW]
				for ox := range row {
					row[ox] = max(r0[2*ox], r0[2*ox+1], r1[2*ox], r1[2*ox+1])
				}
			}
		}
		return out
	}
	for p := range count * l.In.C {
		in := h[p*H*W : (p+1)*H*W]
		o := out[p*OH*OW : (p+1)*OH*OW]
		for oy := range OH {
			y0 := max(oy*l.Stride-l.Pad.Top, 0)
			y1 := min(oy*l.Stride-l.Pad.Top+l.Kernel, H)
			for ox := range OW {
				x0 := max(ox*l.Stride-l.Pad.Left, 0)
				x1 := min(ox*l.Stride-l.Pad.Left+l.Kernel, W)
				m := float32(math.Inf(-1))
				for y := y0; y < y1; y++ {
					for _, v := range in[y*W+x0 : y*W+x1] {
						m = max(m, v)
					}
				}
				o[oy*OW+ox] = m
			}
		}
	}
	return out
}

func globalAvgPool(l Layer, h []float32, count int) []float32 {
	hw := l.In.H * l.In.W
	out := make([]float32, count*l.In.C)
	for p := range out {
		var s float32
		for _, v := range h[p*hw : (p+1)*hw] {
			s += v
		}
		out[p] = s / float32(hw)
	}
	return out
}

func (n *Net) dense(l Layer, h []float32, count int) []float32 {
	w, b := n.weights[l.Name+".w"], n.weights[l.Name+".b"]
	in, o := l.In.Size(), l.Out.C
	out := make([]float32, count*o)
	for i := range count {
		copy(out[i*o:(i+1)*o], b)
	}
	sgemm.Sgemm(blas.NoTrans, blas.NoTrans, count, o, in, 1, h, in, w, o, 1, out, o)
	if l.ReLU {
		relu(out)
	}
	return out
}

func relu(v []float32) {
	for i, x := range v {
		v[i] = max(x, 0)
	}
}

// l2Normalize scales each row of width dim to unit length.
func l2Normalize(v []float32, dim int) {
	for r := 0; r < len(v); r += dim {
		row := v[r : r+dim]
		var ss float32
		for _, x := range row {
			ss += x * x
		}
		inv := 1 / float32(math.Sqrt(float64(ss+L2Epsilon)))
		for i := range row {
			row[i] *= inv
		}
	}
}
