package trainer

import (
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// The contrastive loss (trainconfig.Contrastive) is InfoNCE over one
// shard of b triplets, 3b rows of unit-length embeddings laid out as b
// queries, b positives, b negatives. Each query and each positive is an
// anchor a whose partner is its other view (query i with positive i):
//
//	loss_a = -s(a, partner)/tau + log sum_{j in C(a)} exp(s(a, j)/tau)
//
// with s the dot product (the cosine) and C(a) the candidates: every row
// but a itself and the rows of a's class other than its partner, which
// must not be pushed away from a. The shard's loss is the mean over its 2b
// anchors. Every other image of the shard, mined negatives included, is a
// negative, where the triplet loss has one per query.

// contrastivePartner is the row of anchor a's other view in a shard of b
// triplets.
func contrastivePartner(b, a int) int {
	if a < b {
		return a + b
	}
	return a - b
}

// contrastiveCandidate reports whether row j is in C(a), the rows anchor
// a's softmax runs over, given the class of each of the shard's 3b rows.
func contrastiveCandidate(labels []int, b, a, j int) bool {
	return j != a && (j == contrastivePartner(b, a) || labels[j] != labels[a])
}

// contrastiveMask writes into mask, (2b, 3b) row-major, 1 where row j is a
// candidate of anchor a and 0 elsewhere: the graph's mask input for a
// shard whose 3b rows have the classes labels.
func contrastiveMask[T float](labels []int, b int, mask []T) {
	for a := range 2 * b {
		for j := range 3 * b {
			var v T
			if contrastiveCandidate(labels, b, a, j) {
				v = 1
			}
			mask[a*3*b+j] = v
		}
	}
}

// contrastiveLoss builds the contrastive loss of embed's 3b rows at
// temperature tau. Its mask, (2b, 3b), is an input to set for every
// batch (contrastiveMask); it says which rows each anchor's softmax runs
// over. The partners are fixed by the layout, a constant one-hot matrix.
// Rows are never sliced one at a time: gorgonia drops the dimension of a
// slice of length 1, which would break a shard of one triplet.
func contrastiveLoss(embed *G.Node, b int, tau float64, dt tensor.Dtype) (loss, mask *G.Node, err error) {
	anchors, err := G.Slice(embed, G.S(0, 2*b))
	if err != nil {
		return nil, nil, err
	}
	rows, err := G.Transpose(embed)
	if err != nil {
		return nil, nil, err
	}
	sim, err := G.Mul(anchors, rows) // (2b, 3b) cosines
	if err != nil {
		return nil, nil, err
	}
	if sim, err = G.Mul(sim, scalar(dt, 1/tau)); err != nil {
		return nil, nil, err
	}
	// No max is subtracted before the exponential: the cosines lie in
	// [-1, 1] and tau >= trainconfig.MinTemperature, so exp stays within
	// float32's range.
	e, err := G.Exp(sim)
	if err != nil {
		return nil, nil, err
	}
	g := embed.Graph()
	mask = G.NewMatrix(g, dt, G.WithShape(2*b, 3*b), G.WithName("contrastive-mask"))
	if e, err = G.HadamardProd(e, mask); err != nil {
		return nil, nil, err
	}
	if e, err = G.Sum(e, 1); err != nil {
		return nil, nil, err
	}
	lse, err := G.Log(e)
	if err != nil {
		return nil, nil, err
	}
	partners := G.NewMatrix(g, dt, G.WithShape(2*b, 3*b), G.WithName("contrastive-partners"), G.WithValue(partnerMatrix(b, dt)))
	pos, err := G.HadamardProd(sim, partners)
	if err != nil {
		return nil, nil, err
	}
	if pos, err = G.Sum(pos, 1); err != nil { // s(a, partner)/tau
		return nil, nil, err
	}
	perAnchor, err := G.Sub(lse, pos)
	if err != nil {
		return nil, nil, err
	}
	loss, err = G.Mean(perAnchor)
	return loss, mask, err
}

// partnerMatrix is the (2b, 3b) matrix of data type dt (float32 or
// float64) with a 1 at each anchor's partner.
func partnerMatrix(b int, dt tensor.Dtype) tensor.Tensor {
	if dt == tensor.Float64 {
		return tensor.New(tensor.WithBacking(partnerOneHot[float64](b)), tensor.WithShape(2*b, 3*b))
	}
	return tensor.New(tensor.WithBacking(partnerOneHot[float32](b)), tensor.WithShape(2*b, 3*b))
}

func partnerOneHot[T float](b int) []T {
	m := make([]T, 2*b*3*b)
	for a := range 2 * b {
		m[a*3*b+contrastivePartner(b, a)] = 1
	}
	return m
}

// contrastiveLossOf is the contrastive loss written out in plain Go, with
// float64 sums: emb holds a shard's 3b embeddings of dim values each, in
// the graph's row order, and labels their classes. It is the held-out
// loss of a contrastive run, and the reference the graph is tested
// against.
func contrastiveLossOf(emb []float32, dim int, labels []int, b int, tau float64) float64 {
	row := func(i int) []float32 { return emb[i*dim : (i+1)*dim] }
	dot := func(u, v []float32) float64 {
		s := 0.0
		for k := range u {
			s += float64(u[k]) * float64(v[k])
		}
		return s
	}
	total := 0.0
	for a := range 2 * b {
		sum := 0.0
		for j := range 3 * b {
			if contrastiveCandidate(labels, b, a, j) {
				sum += math.Exp(dot(row(a), row(j)) / tau)
			}
		}
		total += math.Log(sum) - dot(row(a), row(contrastivePartner(b, a)))/tau
	}
	return total / float64(2*b)
}
