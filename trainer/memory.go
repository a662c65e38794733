package trainer

import (
	"fmt"
	"image"
	"math"

	"github.com/deeprank/deeprank/eval"
	"github.com/deeprank/deeprank/imageio"
)

// memory is mining's memory (trainconfig.Options.MiningMemory): the last
// images drawn into batches, each as the augmented view its batch held,
// with the embedding mining gave it then and its class. Mining may take a
// triplet's negative from it as well as from the batch, so that a query's
// negative is the semi-hard (or hardest) of thousands of recent images
// instead of a batch's few dozen. The view chosen is drawn again exactly
// (its path, its step's seed and its slot give fill's generator) and
// embedded afresh in the step: the memory's embeddings are a step or a few
// hundred old, so they only choose; the loss never sees them. It is a ring, each batch
// overwriting the oldest rows. Its fields are exported for the
// checkpoint, so that a resumed run mines as the straight one does.
type memory struct {
	Dim    int
	Emb    []float32 // rows of Dim values; zero where empty
	Labels []int     // each row's class; -1 where empty
	Paths  []string  // each row's image
	Seeds  []uint64  // the seed of the batch each row was drawn in
	Slots  []int     // and its slot there
	Next   int       // the row the next image overwrites
}

// newMemory makes an empty memory of n rows of dim values.
func newMemory(n, dim int) memory {
	labels := make([]int, n)
	for i := range labels {
		labels[i] = -1
	}
	return memory{Dim: dim, Emb: make([]float32, n*dim), Labels: labels,
		Paths: make([]string, n), Seeds: make([]uint64, n), Slots: make([]int, n)}
}

// rows is the number of images the memory holds when full; 0 for the
// zero memory, a run without one.
func (m *memory) rows() int { return len(m.Labels) }

// remember writes a batch's images over the oldest rows: their embeddings
// emb (rows of m.Dim), classes labels and paths, all in slot order, and
// the batch's seed.
func (m *memory) remember(emb []float32, labels []int, paths []string, seed uint64) {
	for slot, l := range labels {
		r := m.Next
		copy(m.Emb[r*m.Dim:(r+1)*m.Dim], emb[slot*m.Dim:(slot+1)*m.Dim])
		m.Labels[r], m.Paths[r], m.Seeds[r], m.Slots[r] = l, paths[slot], seed, slot
		m.Next = (m.Next + 1) % m.rows()
	}
}

// offer offers c every filled row of another class than label, at its
// squared distance from v.
func (m *memory) offer(c *chooser, v []float32, label int) {
	for r, l := range m.Labels {
		if l >= 0 && l != label {
			c.offer(negative{-1, r}, eval.SquaredDistance(v, m.Emb[r*m.Dim:(r+1)*m.Dim]))
		}
	}
}

// view draws row r's image again as its batch held it, at the network's
// input, augmented as augment says for its path (nil: not augmented).
func (m *memory) view(f *batchFiller, r int, augment func(path string) *imageio.Augment) *image.RGBA {
	return f.slotImage(m.Paths[r], augment, m.Seeds[r], m.Slots[r])
}

// check reports a memory that is damaged, or not of rows images of dim
// values, or (with known not nil) that holds an image the run does not
// train on with that class: the checkpoint's state is not checksummed.
func (m *memory) check(rows, dim int, known func(path string, label int) bool) error {
	if rows < 1 || m.Dim != dim || m.rows() != rows || len(m.Emb) != rows*dim ||
		len(m.Paths) != rows || len(m.Seeds) != rows || len(m.Slots) != rows || m.Next < 0 || m.Next >= rows {
		return fmt.Errorf("damaged state: a mining memory of %d rows of %d values (next %d; %d values, %d paths, %d seeds, %d slots), not %d rows of %d",
			m.rows(), m.Dim, m.Next, len(m.Emb), len(m.Paths), len(m.Seeds), len(m.Slots), rows, dim)
	}
	for r, l := range m.Labels {
		switch {
		case l < -1 || m.Slots[r] < 0:
			return fmt.Errorf("damaged state: a mining memory row of class %d, slot %d", l, m.Slots[r])
		case l >= 0 && known != nil && !known(m.Paths[r], l):
			return fmt.Errorf("a mining memory row holds %q of class %d, which this run's training data does not", m.Paths[r], l)
		}
	}
	for _, v := range m.Emb {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("damaged state: a mining memory embedding holds %v", v)
		}
	}
	return nil
}
