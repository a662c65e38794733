package trainer

import (
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// The KoLeo term (trainconfig.Options.KoLeoWeight) is the part of the
// Kozachenko-Leonenko estimate of the embeddings' differential entropy
// that depends on them, as SSCD (Pizzi et al., 2022) adds it to InfoNCE.
// Over a shard's n rows of unit-length embeddings,
//
//	koleo = -1/n sum_i 1/2 log(rho_i^2 + eps),  rho_i^2 = 2 - 2 max_{j in N(i)} s(i, j)
//
// with s the cosine and N(i) the rows of classes other than i's: an
// image's own views and the images of its class are not pushed away. Its
// gradient pushes each image away from its nearest image of another
// class alone, the harder the nearer (down to koleoEps), where InfoNCE
// spreads its push over every negative by softmax weight: it evens out
// the distances between different images, so that one threshold (dupes'
// max_distance) holds for copies anywhere in the space. A row with no
// other class in its shard adds a constant, as if its nearest were
// orthogonal.

// koleoEps bounds the push on a near pair: a row at distance rho from its
// nearest gets a gradient of rho/(rho^2 + eps), at most 1/(2 sqrt(eps)),
// about 16 at rho = sqrt(eps), where two near-identical images of
// different classes (a corpus's duplicates) would otherwise get an
// unbounded one. Below that distance the push falls off, to none between
// identical embeddings, which no direction would part.
const koleoEps = 1e-3

// koleoCandidate reports whether row j is in N(i), given the rows' classes.
func koleoCandidate(labels []int, i, j int) bool { return labels[j] != labels[i] }

// koleoMask writes into mask, (n, n) row-major for n rows of the classes
// labels, 1 where row j is in N(i) and 0 elsewhere: the graph's mask
// input.
func koleoMask[T float](labels []int, mask []T) {
	n := len(labels)
	for i := range n {
		for j := range n {
			var v T
			if koleoCandidate(labels, i, j) {
				v = 1
			}
			mask[i*n+j] = v
		}
	}
}

// addKoLeo adds weight times the KoLeo term of embed's n rows to loss. It
// returns the new loss and the term's mask, (n, n), an input to set for
// every batch (koleoMask).
func addKoLeo(embed, loss *G.Node, n int, weight float64, dt tensor.Dtype) (*G.Node, *G.Node, error) {
	rows, err := G.Transpose(embed)
	if err != nil {
		return nil, nil, err
	}
	sim, err := G.Mul(embed, rows) // (n, n) cosines
	if err != nil {
		return nil, nil, err
	}
	mask := G.NewMatrix(embed.Graph(), dt, G.WithShape(n, n), G.WithName("koleo-mask"))
	op := &nearestOp{kernelOp: newKernelOp(tensor.Shape{n}, "nearest(%d)", n), n: n, argmax: make([]int32, n)}
	nearest, err := G.ApplyOp(op, sim, mask)
	if err != nil {
		return nil, nil, err
	}
	// rho^2 + eps = 2 + eps - 2 s, and -1/2 log of it, weighted.
	rho2, err := G.Mul(nearest, scalar(dt, -2))
	if err != nil {
		return nil, nil, err
	}
	if rho2, err = G.Add(rho2, scalar(dt, 2+koleoEps)); err != nil {
		return nil, nil, err
	}
	logs, err := G.Log(rho2)
	if err != nil {
		return nil, nil, err
	}
	term, err := G.Mean(logs)
	if err != nil {
		return nil, nil, err
	}
	if term, err = G.Mul(term, scalar(dt, -weight/2)); err != nil {
		return nil, nil, err
	}
	loss, err = G.Add(loss, term)
	return loss, mask, err
}

// nearestOp takes an (n, n) matrix of cosines and an (n, n) mask of 0 and
// 1, and gives for each row the largest cosine where the mask is 1 (0
// where the row's mask is all 0), recording which column it came from so
// that its gradient is one scatter. Of equal values the first wins.
type nearestOp struct {
	kernelOp
	n      int
	argmax []int32 // per row, the column of its largest cosine; -1 for none
}

func (op *nearestOp) Arity() int    { return 2 }
func (op *nearestOp) Type() hm.Type { return fnType(1, 2, 2) }
func (op *nearestOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return op.inferShape(in, tensor.Shape{op.n, op.n}, tensor.Shape{op.n, op.n})
}

func (op *nearestOp) Do(values ...G.Value) (G.Value, error) {
	want := []tensor.Shape{{op.n, op.n}, {op.n, op.n}}
	return op.run(values, want,
		func(in [][]float32, y []float32) { nearestForward(op, in[0], in[1], y) },
		func(in [][]float64, y []float64) { nearestForward(op, in[0], in[1], y) })
}

func nearestForward[T float](op *nearestOp, sim, mask, y []T) {
	for i := range op.n {
		best, v := int32(-1), T(0)
		for j, s := range sim[i*op.n:][:op.n] {
			if mask[i*op.n+j] != 0 && (best < 0 || s > v) {
				best, v = int32(j), s
			}
		}
		y[i], op.argmax[i] = v, best
	}
}

func (op *nearestOp) DiffWRT(int) []bool { return []bool{true, false} }

func (op *nearestOp) SymDiff(_ G.Nodes, _, dy *G.Node) (G.Nodes, error) {
	grad := &nearestGradOp{kernelOp: newKernelOp(tensor.Shape{op.n, op.n}, "d%s/dsim", op.name), nearest: op}
	dsim, err := G.ApplyOp(grad, dy)
	return G.Nodes{dsim, nil}, err
}

// nearestGradOp is the gradient of a nearestOp's cosines: each row's
// gradient goes to the column that was its largest in the forward pass of
// the same run (dy depends on that pass, so it has run).
type nearestGradOp struct {
	kernelOp
	nearest *nearestOp
}

func (op *nearestGradOp) Arity() int    { return 1 }
func (op *nearestGradOp) Type() hm.Type { return fnType(2, 1) }
func (op *nearestGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return op.inferShape(in, tensor.Shape{op.nearest.n})
}

func (op *nearestGradOp) Do(values ...G.Value) (G.Value, error) {
	return op.run(values, []tensor.Shape{{op.nearest.n}},
		func(in [][]float32, dsim []float32) { nearestBackward(op.nearest, in[0], dsim) },
		func(in [][]float64, dsim []float64) { nearestBackward(op.nearest, in[0], dsim) })
}

func nearestBackward[T float](op *nearestOp, dy, dsim []T) {
	clear(dsim)
	for i, j := range op.argmax {
		if j >= 0 {
			dsim[i*op.n+int(j)] = dy[i]
		}
	}
}

// koleoLossOf is the KoLeo term, unweighted, written out in plain Go with
// float64 sums: emb holds n embeddings of dim values each, labels their
// classes. It is the reference the graph is tested against, and part of
// a run's held-out loss.
func koleoLossOf(emb []float32, dim int, labels []int) float64 {
	n := len(labels)
	total := 0.0
	for i := range n {
		nearest, found := 0.0, false
		for j := range n {
			if !koleoCandidate(labels, i, j) {
				continue
			}
			s := 0.0
			for k := range dim {
				s += float64(emb[i*dim+k]) * float64(emb[j*dim+k])
			}
			if !found || s > nearest {
				nearest, found = s, true
			}
		}
		total += -0.5 * math.Log(2-2*nearest+koleoEps)
	}
	return total / float64(n)
}
