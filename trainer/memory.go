package trainer

import (
	"fmt"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// memory is the contrastive loss's cross-batch memory
// (trainconfig.Options.Memory; Wang et al., "Cross-Batch Memory for
// Embedding Learning", CVPR 2020): the embeddings of the last images
// trained on, as the network embedded them at their step, with their
// classes, kept as more negatives for every anchor. It is a ring: each
// step's images overwrite the oldest rows. Its fields are exported for
// the checkpoint, so that a resumed run goes on with the same negatives.
type memory struct {
	Dim    int
	Emb    []float32 // rows of Dim values; zero where empty
	Labels []int     // each row's class; -1 where empty
	Next   int       // the row the next image overwrites
}

// newMemory makes an empty memory of n rows of dim values.
func newMemory(n, dim int) memory {
	labels := make([]int, n)
	for i := range labels {
		labels[i] = -1
	}
	return memory{Dim: dim, Emb: make([]float32, n*dim), Labels: labels}
}

// rows is the number of embeddings the memory holds when full; 0 for the
// zero memory, a run without one.
func (m *memory) rows() int { return len(m.Labels) }

// push writes the embeddings emb (rows of m.Dim) of images of the classes
// labels over the oldest rows.
func (m *memory) push(emb []float32, labels []int) {
	for i, l := range labels {
		copy(m.Emb[m.Next*m.Dim:(m.Next+1)*m.Dim], emb[i*m.Dim:(i+1)*m.Dim])
		m.Labels[m.Next] = l
		m.Next = (m.Next + 1) % m.rows()
	}
}

// mask writes into dst, (2b, rows) row-major, 1 where memory row j is a
// negative of anchor a and 0 elsewhere: rows not yet filled are none, and
// nor are rows of the anchor's class, which are other views of the
// anchor's own image (or of its class) and must not be pushed away. own
// holds the classes of a shard's 3b images, anchors first.
func (m *memory) mask(own []int, b int, dst []float32) {
	n := m.rows()
	for a := range 2 * b {
		row := dst[a*n : (a+1)*n]
		for j, l := range m.Labels {
			row[j] = 0
			if l >= 0 && l != own[a] {
				row[j] = 1
			}
		}
	}
}

// check reports a memory that cannot belong to a run whose options ask
// for rows embeddings of dim values: the checkpoint's state is not
// checksummed.
func (m *memory) check(rows, dim int) error {
	if rows < 1 || m.Dim != dim || m.rows() != rows || len(m.Emb) != rows*dim || m.Next < 0 || m.Next >= rows {
		return fmt.Errorf("damaged or foreign state: a memory of %d rows of %d values (next %d, %d values), where the options ask for %d rows of %d",
			m.rows(), m.Dim, m.Next, len(m.Emb), rows, dim)
	}
	for _, l := range m.Labels {
		if l < -1 {
			return fmt.Errorf("damaged state: a memory row of class %d", l)
		}
	}
	return nil
}

// snapshotOp copies its input, a matrix, into its own output tensor when
// the forward pass runs it. The contrastive memory needs each step's
// embeddings, and the embedding node's value cannot be read after the
// step: gorgonia's backward pass reuses the memory of some forward values
// for gradients, and the embeddings come out scaled. Nothing depends on
// the snapshot, so no gradient runs through it.
type snapshotOp struct{ kernelOp }

func newSnapshotOp(shape tensor.Shape) *snapshotOp {
	return &snapshotOp{newKernelOp(shape, "snapshot%v", shape)}
}

func (o *snapshotOp) Arity() int    { return 1 }
func (o *snapshotOp) Type() hm.Type { return fnType(2, 2) }

func (o *snapshotOp) InferShape(inputs ...G.DimSizer) (tensor.Shape, error) {
	return o.inferShape(inputs, o.shape)
}

func (o *snapshotOp) Do(values ...G.Value) (G.Value, error) {
	return o.run(values, []tensor.Shape{o.shape},
		func(in [][]float32, out []float32) { copy(out, in[0]) },
		func(in [][]float64, out []float64) { copy(out, in[0]) })
}
