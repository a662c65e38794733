package trainer

import (
	"fmt"
	"hash"
	"hash/fnv"
	"io"
	"sync/atomic"

	"github.com/chewxy/hm"
	"gonum.org/v1/gonum/blas"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// The training graph's convolutions and max-pools are custom gorgonia ops
// (ops_conv.go, ops_pool.go): gorgonia's own Conv2d builds an im2col
// matrix in image-major order, multiplies, then transposes the result back
// to NCHW, and allocates every intermediate afresh on every run; its
// transposes, im2col and col2im took more of a training step than the
// matrix products did. These ops multiply in NCHW order directly, fuse
// the bias and ReLU into the pass that stores the product, and keep their
// outputs and scratch space from one run to the next. gorgonia stays the
// graph, autodiff and optimiser engine.

// float is the element type of a graph: float32 in training, float64 in the
// finite-difference gradient tests.
type float interface{ float32 | float64 }

// gemm computes C = op(A) * op(B) + beta * C for row-major matrices with
// gorgonia's BLAS, so that these ops multiply with the build's Sgemm
// (internal/sgemm, or OpenBLAS with the openblas tag) as gorgonia does.
func gemm[T float](transA, transB bool, m, n, k int, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	tA, tB := blas.NoTrans, blas.NoTrans
	if transA {
		tA = blas.Trans
	}
	if transB {
		tB = blas.Trans
	}
	switch a := any(a).(type) {
	case []float32:
		G.WhichBLAS().Sgemm(tA, tB, m, n, k, 1, a, lda, any(b).([]float32), ldb, float32(beta), any(c).([]float32), ldc)
	case []float64:
		G.WhichBLAS().Dgemm(tA, tB, m, n, k, 1, a, lda, any(b).([]float64), ldb, float64(beta), any(c).([]float64), ldc)
	}
}

// scratch is working memory shared by the ops of one graph. A tape machine
// runs one op at a time, so they can share it; separate graphs (the
// shards) have their own.
type scratch struct {
	f32 []float32
	f64 []float64
}

// scratchOf returns n values of s's memory, growing it if needed.
func scratchOf[T float](s *scratch, n int) []T {
	var zero T
	switch any(zero).(type) {
	case float32:
		if cap(s.f32) < n {
			s.f32 = make([]float32, n)
		}
		return any(s.f32[:n]).([]T)
	default:
		if cap(s.f64) < n {
			s.f64 = make([]float64, n)
		}
		return any(s.f64[:n]).([]T)
	}
}

// opSeq numbers the ops, see kernelOp.
var opSeq atomic.Uint64

// kernelOp is what the ops of this package share. Each op owns its output
// tensor, reused by every run of the machine (gorgonia's tape machine would
// allocate a new one per run), and some hold state between their forward
// and backward passes (the max-pool's argmax): so each has a unique name,
// which its hash includes, and gorgonia never merges two of their nodes.
type kernelOp struct {
	name  string
	shape tensor.Shape // of the output
	out   tensor.Tensor
}

func newKernelOp(shape tensor.Shape, format string, args ...any) kernelOp {
	return kernelOp{name: fmt.Sprintf("%s#%d", fmt.Sprintf(format, args...), opSeq.Add(1)), shape: shape}
}

func (o *kernelOp) ReturnsPtr() bool      { return false }
func (o *kernelOp) CallsExtern() bool     { return false }
func (o *kernelOp) OverwritesInput() int  { return -1 }
func (o *kernelOp) WriteHash(h hash.Hash) { io.WriteString(h, o.name) }
func (o *kernelOp) String() string        { return o.name }

func (o *kernelOp) Hashcode() uint32 {
	h := fnv.New32a()
	o.WriteHash(h)
	return h.Sum32()
}

// inferShape checks the inputs' shapes against want and returns the
// output's.
func (o *kernelOp) inferShape(inputs []G.DimSizer, want ...tensor.Shape) (tensor.Shape, error) {
	if len(inputs) != len(want) {
		return nil, fmt.Errorf("%s: %d inputs, want %d", o.name, len(inputs), len(want))
	}
	for i, in := range inputs {
		s, ok := in.(tensor.Shape)
		if !ok || !s.Eq(want[i]) {
			return nil, fmt.Errorf("%s: input %d has shape %v, want %v", o.name, i, in, want[i])
		}
	}
	return o.shape.Clone(), nil
}

// output returns the op's output tensor of data type dt, made on the
// first run.
func (o *kernelOp) output(dt tensor.Dtype) tensor.Tensor {
	if o.out == nil || o.out.Dtype() != dt {
		o.out = tensor.New(tensor.Of(dt), tensor.WithShape(o.shape...))
	}
	return o.out
}

// inputsOf checks that the op's run inputs have the shapes want and one
// float data type, and returns their values as []T for that type: a
// [][]float32 or a [][]float64.
func (o *kernelOp) inputsOf(values []G.Value, want ...tensor.Shape) (tensor.Dtype, any, error) {
	if len(values) != len(want) {
		return tensor.Dtype{}, nil, fmt.Errorf("%s: %d inputs, want %d", o.name, len(values), len(want))
	}
	dt := values[0].Dtype()
	var f32 [][]float32
	var f64 [][]float64
	for i, v := range values {
		if v.Dtype() != dt || !v.Shape().Eq(want[i]) {
			return dt, nil, fmt.Errorf("%s: input %d is %v%v, want %v%v", o.name, i, v.Dtype(), v.Shape(), dt, want[i])
		}
		switch d := v.Data().(type) {
		case []float32:
			f32 = append(f32, d)
		case []float64:
			f64 = append(f64, d)
		default:
			return dt, nil, fmt.Errorf("%s: input %d: data type %v is not float32 or float64", o.name, i, dt)
		}
	}
	if f32 != nil {
		return dt, f32, nil
	}
	return dt, f64, nil
}

// run checks values against want, then calls f32 or f64 with the inputs'
// data and the output's, and returns the output.
func (o *kernelOp) run(values []G.Value, want []tensor.Shape, f32 func(in [][]float32, out []float32), f64 func(in [][]float64, out []float64)) (G.Value, error) {
	dt, in, err := o.inputsOf(values, want...)
	if err != nil {
		return nil, err
	}
	out := o.output(dt)
	switch in := in.(type) {
	case [][]float32:
		f32(in, out.Data().([]float32))
	case [][]float64:
		f64(in, out.Data().([]float64))
	}
	return out, nil
}

// fnType is the type of an op from tensors of the given ranks to a tensor
// of rank out, all of one element type.
func fnType(out int, in ...int) hm.Type {
	a := hm.TypeVariable('a')
	ts := make([]hm.Type, 0, len(in)+1)
	for _, d := range in {
		ts = append(ts, &G.TensorType{Dims: d, Of: a})
	}
	return hm.NewFnType(append(ts, &G.TensorType{Dims: out, Of: a})...)
}
