package model

import (
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"

	"gonum.org/v1/gonum/blas"

	"github.com/deeprank/deeprank/internal/convkernel"
	"github.com/deeprank/deeprank/internal/epilogue"
	gosgemm "github.com/deeprank/deeprank/internal/sgemm"
)

// L2Epsilon is added to the squared norm before the square root in
// L2Normalize, in every engine, so a zero vector stays finite.
const L2Epsilon = 1e-12

// trainingBLAS names the BLAS the trainer's gorgonia graph multiplies
// with: internal/sgemm, or OpenBLAS in a build with the openblas tag
// (blas_openblas.go).
var trainingBLAS = gosgemm.Describe()

// BLAS names what this build multiplies matrices with: in the trainer's
// graph, and in the fast forward pass, which uses internal/convkernel and
// internal/sgemm in every build (see Net).
func BLAS() string {
	return fmt.Sprintf("%s; forward pass: convkernel (%s) and %s", trainingBLAS, convkernel.Describe(), gosgemm.Describe())
}

// Net is the fast inference engine of a model: convolutions as implicit
// matrix products (internal/convkernel), no im2col and no autodiff graph.
// It reads the model's weights in place, so a Net sees later changes to
// them (the trainer uses that to evaluate while it trains): a Forward call
// packs the filters for the kernels again if their weights changed. A Net
// is safe for concurrent use.
//
// Each image runs through every branch's spatial layers in turn (its
// activations stay in the core's cache). A stride-1 convolution reads its
// windows from the padded image through a table of offsets, a block of
// output rows at a time, and the bias, ReLU and the max-pool after it run
// on the block while its product is in the cache (implicitConv,
// internal/epilogue); the other convolutions read each output position's
// window where it lies in the image (windowConv). The dense layers then
// run on the batch, split by rows across the workers, with
// internal/sgemm.
//
// The build with the openblas tag runs the same forward pass: OpenBLAS
// has no product that reads windows in place, and on the dense layers'
// shapes (a batch of 32) internal/sgemm measured as fast as OpenBLAS or
// faster (BenchmarkSgemm, fc1, fc2, embedding); the tag picks OpenBLAS for
// training only.
//
// Every buffer is kept from batch to batch: in steady state a batch
// allocates only the embeddings Forward returns (and, with more than one
// worker, their goroutines). Workers take a batch's images one at a time
// as they come free, so a worker slowed by other jobs does less of the
// batch.
type Net struct {
	arch     Arch
	weights  map[string][]float32
	workers  int
	branches [][]step // each branch's layers, fused
	spatial  []int    // how many of each branch's steps run image by image
	width    int      // the branches' outputs, concatenated
	head     []step
	views    Views         // Spec.CenterViews and GreyView
	thumb    *Thumbnail    // a copy of Spec.Thumbnail
	norm     Normalization // the inputs', for the thumbnail
	scratch  sync.Pool     // of *scratch
	batches  sync.Pool     // of *batchScratch
}

// step is one operation of the compiled network: a layer, and for a
// convolution the max-pool that follows it, if any, fused into it.
type step struct {
	Layer
	pool *Layer
	// A convolution has one of two plans: implicit for stride 1 where it
	// wastes little, windows for the rest.
	implicit *implicitPlan
	windows  *windowPlan
	// packed is which of the Net's packed filters are a convolution's.
	packed int
	// An implicit convolution followed by another writes its output
	// already laid out as the next one's padded input (outPadded, the
	// next one's plan), which then reads it as it is (inPadded): no copy
	// into the padding between them.
	outPadded *implicitPlan
	inPadded  bool
}

// perImage reports whether a step works on one image at a time.
func (s step) perImage() bool { return s.Kind != Dense }

// compile fuses a chain of layers into steps, dropping dropout (an
// identity at inference).
func compile(layers []Layer) []step {
	var out []step
	for i := 0; i < len(layers); i++ {
		l := layers[i]
		switch {
		case l.Kind == Dropout:
			continue
		case l.Kind == Conv:
			st := step{Layer: l}
			if i+1 < len(layers) && layers[i+1].Kind == MaxPool {
				pool := layers[i+1]
				st.pool = &pool
				i++
			}
			if st.implicit = planImplicit(l, st.pool); st.implicit == nil {
				st.windows = planWindows(l)
			}
			out = append(out, st)
		default:
			out = append(out, step{Layer: l})
		}
	}
	for i := 1; i < len(out); i++ {
		if out[i-1].implicit != nil && out[i].implicit != nil {
			out[i-1].outPadded = out[i].implicit
			out[i].inPadded = true
		}
	}
	return out
}

// scratch is one worker's buffers for one image at a time, kept between
// images and batches.
type scratch struct {
	prod, byChannel, pool, a, b, padded []float32
}

// batchScratch is one call's buffers for the whole batch, kept between
// batches: workers write their images' rows of spatial side by side.
type batchScratch struct {
	spatial [][]float32 // each branch's spatial output, image by image
	concat  []float32   // the branches' outputs side by side
	filters filterCache
	views   []float32 // the images and their views, for Forward
	viewEmb []float32 // their embeddings, before they are summed
	// viewWeights holds each view's weight for each image (Views.Expand).
	viewWeights []float32
}

// grow returns buf resized to n values, reallocating only when it is too
// small.
func grow(buf *[]float32, n int) []float32 {
	if cap(*buf) < n {
		*buf = make([]float32, n)
	}
	return (*buf)[:n]
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
	workers := runtime.GOMAXPROCS(0)
	if opts != nil && opts.Workers > 0 {
		workers = opts.Workers
	}
	n := newNet(a, m.Weights, workers)
	n.views = NewViews(m)
	if t := m.Spec.Thumbnail; t != nil {
		thumb := *t // the Net's own: a clone of m shares the pointer
		n.thumb = &thumb
	}
	n.norm = m.Normalization
	return n, nil
}

// newNet compiles an architecture whose weights are checked.
func newNet(a Arch, weights map[string][]float32, workers int) *Net {
	n := &Net{arch: a, weights: weights, workers: workers, head: compile(a.Head)}
	packed := 0
	for _, b := range a.Branches {
		steps := compile(b.Layers)
		for i := range steps {
			if steps[i].Kind == Conv {
				steps[i].packed = packed
				packed++
			}
		}
		spatial := 0
		for spatial < len(steps) && steps[spatial].perImage() {
			spatial++
		}
		n.branches = append(n.branches, steps)
		n.spatial = append(n.spatial, spatial)
		n.width += b.Layers[len(b.Layers)-1].Out.Size()
	}
	n.scratch.New = func() any { return new(scratch) }
	n.batches.New = func() any { return new(batchScratch) }
	return n
}

// Dim is the embedding size: the learned embedding's and, with
// Spec.Thumbnail, the thumbnail's.
func (n *Net) Dim() int {
	if n.thumb != nil {
		return n.arch.Dim() + n.thumb.Dim()
	}
	return n.arch.Dim()
}

// Learned is how many leading values of each row the network learned when
// a thumbnail follows them (Spec.Thumbnail), and 0 when it learned all Dim:
// a collection's vectorstore.Spec.Learned.
func (n *Net) Learned() int {
	if n.thumb != nil {
		return n.arch.Dim()
	}
	return 0
}

// InputShape is the (3, size, size) shape of one input image.
func (n *Net) InputShape() Shape { return n.arch.Input }

// Forward embeds count images. x holds them normalised and laid out
// (count, 3, size, size); the result is (count, Dim), each row of unit
// length. With views (Spec.CenterViews, Spec.GreyView, Spec.TrimView),
// each row's learned embedding is the normalised sum of the image's
// embedding and its views', each times its weight (none for a trimmed view
// of an image with no plain border). With Spec.Thumbnail, each row is the
// learned embedding and the image's thumbnail, weighted (appendThumbnails).
// It panics if len(x) does not match count.
func (n *Net) Forward(x []float32, count int) []float32 {
	in := n.arch.Input.Size()
	if len(x) != count*in {
		panic(fmt.Sprintf("model: Forward: %d values for %d images of %d", len(x), count, in))
	}
	learned := n.embed(x, count)
	if n.thumb == nil {
		return learned
	}
	return n.appendThumbnails(x, count, learned)
}

// embed is Forward's learned embedding, with its views.
func (n *Net) embed(x []float32, count int) []float32 {
	in := n.arch.Input.Size()
	out := make([]float32, count*n.arch.Dim())
	bs := n.batches.Get().(*batchScratch)
	defer n.batches.Put(bs)
	if n.views.Len() == 0 {
		n.forward(x, count, bs, out)
		return out
	}
	// The views go through the network as more images of one batch: the
	// image first, then each view of it, block after block.
	views := n.views.Len()
	all := grow(&bs.views, (1+views)*count*in)
	weights := grow(&bs.viewWeights, views*count)
	n.views.Expand(all, weights, x, count)
	dim := n.arch.Dim()
	emb := grow(&bs.viewEmb, (1+views)*count*dim)
	n.forward(all, (1+views)*count, bs, emb)
	copy(out, emb[:count*dim])
	for vi := range views {
		for i := range count {
			w := weights[vi*count+i]
			if w == 0 {
				continue
			}
			e := emb[((1+vi)*count+i)*dim : ((1+vi)*count+i+1)*dim]
			for j, v := range e {
				out[i*dim+j] += w * v
			}
		}
	}
	l2Normalize(out, dim)
	return out
}

// forward is Forward without views, into out, with bs's buffers.
func (n *Net) forward(x []float32, count int, bs *batchScratch, out []float32) {
	if len(bs.spatial) < len(n.branches) {
		bs.spatial = make([][]float32, len(n.branches))
	}
	for bi, steps := range n.branches {
		if spatial := n.spatial[bi]; spatial > 0 {
			bs.spatial[bi] = grow(&bs.spatial[bi], count*steps[spatial-1].outShape().Size())
		}
		// Checked once a call, not packed once a Net: the Net reads the
		// weights in place and must see the trainer's updates between
		// calls.
		n.packFilters(&bs.filters, steps)
	}
	bs.concat = grow(&bs.concat, count*n.width)
	workers := min(n.workers, count)
	if workers <= 1 {
		sc := n.scratch.Get().(*scratch)
		for i := range count {
			n.spatialImage(x, i, bs, sc)
		}
		n.dense(x, 0, count, bs, sc, out)
		n.scratch.Put(sc)
		return
	}
	// Workers take the next image as they come free: a worker slowed by
	// another job on its core does less of the batch, not holds up the
	// rest.
	var next atomic.Int64
	fanOut(workers, func(int) {
		sc := n.scratch.Get().(*scratch)
		defer n.scratch.Put(sc)
		for i := int(next.Add(1) - 1); i < count; i = int(next.Add(1) - 1) {
			n.spatialImage(x, i, bs, sc)
		}
	})
	// Then the dense layers, each worker on its share of the batch's rows
	// (the dense layers were a few percent of a batch, done by one core
	// while the others waited).
	per := (count + workers - 1) / workers
	fanOut(workers, func(w int) {
		lo, hi := w*per, min((w+1)*per, count)
		if lo >= hi {
			return
		}
		sc := n.scratch.Get().(*scratch)
		defer n.scratch.Put(sc)
		n.dense(x, lo, hi, bs, sc, out)
	})
}

// fanOut runs fn(0) to fn(k-1) at once, fn(0) on the calling goroutine,
// and returns when all have.
func fanOut(k int, fn func(int)) {
	var wg sync.WaitGroup
	for i := 1; i < k; i++ {
		wg.Go(func() { fn(i) })
	}
	fn(0)
	wg.Wait()
}

// spatialImage runs image i of x through every branch's spatial layers in
// turn, while it is in the cache, into its rows of bs.spatial.
func (n *Net) spatialImage(x []float32, i int, bs *batchScratch, sc *scratch) {
	in := n.arch.Input.Size()
	img := x[i*in : (i+1)*in]
	for bi, steps := range n.branches {
		spatial := n.spatial[bi]
		if spatial == 0 {
			continue
		}
		size := steps[spatial-1].outShape().Size()
		copy(bs.spatial[bi][i*size:(i+1)*size], n.image(steps[:spatial], img, bs.filters.packed, sc))
	}
}

// dense runs the layers after the spatial ones on images lo..hi of the
// batch: each branch's rest, then the head on the branches' outputs side
// by side (bs.concat, sized for the batch), into their rows of out. Each
// caller works in its own sc and writes only its rows of bs.concat and
// out, so callers on other rows may run at once.
func (n *Net) dense(x []float32, lo, hi int, bs *batchScratch, sc *scratch, out []float32) {
	rows := hi - lo
	off := 0
	for bi, steps := range n.branches {
		spatial := n.spatial[bi]
		size := n.arch.Input.Size()
		h := x
		if spatial > 0 {
			size = steps[spatial-1].outShape().Size()
			h = bs.spatial[bi]
		}
		h = n.denseSteps(steps[spatial:], h[lo*size:hi*size], rows, sc)
		bw := len(h) / rows
		for i := range rows {
			copy(bs.concat[(lo+i)*n.width+off:], h[i*bw:(i+1)*bw])
		}
		off += bw
	}
	h := n.denseSteps(n.head, bs.concat[lo*n.width:hi*n.width], rows, sc)
	dim := n.arch.Dim()
	copy(out[lo*dim:hi*dim], h)
}

// denseSteps runs steps on rows activations at once, in sc's two buffers
// by turns; the result is valid until sc is used again.
func (n *Net) denseSteps(steps []step, h []float32, rows int, sc *scratch) []float32 {
	for i, st := range steps {
		buf := &sc.a
		if i%2 == 1 {
			buf = &sc.b
		}
		out := grow(buf, rows*st.Out.Size())
		switch st.Kind {
		case Dense:
			n.fullyConnected(st.Layer, h, rows, out)
		case L2Normalize:
			copy(out, h)
			l2Normalize(out, st.In.Size())
		default:
			panic("model: no batch pass for layer kind " + st.Kind.String())
		}
		h = out
	}
	return h
}

// outShape is the shape a step leaves.
func (s step) outShape() Shape {
	if s.pool != nil {
		return s.pool.Out
	}
	return s.Out
}

// image runs one image through per-image steps, in sc's buffers, with
// the convolutions' filters packed by packFilters; the result is valid
// until sc is used again.
func (n *Net) image(steps []step, h []float32, filters [][]float32, sc *scratch) []float32 {
	for i, st := range steps {
		dst := &sc.a
		if i%2 == 1 {
			dst = &sc.b
		}
		size := st.outShape().Size()
		if q := st.outPadded; q != nil {
			size = q.size(st.outShape().C)
		}
		out := grow(dst, size)
		switch st.Kind {
		case Conv:
			if st.implicit != nil {
				n.implicitConv(st, filters[st.packed], h, out, sc)
			} else {
				n.windowConv(st, filters[st.packed], h, out, sc)
			}
		case MaxPool:
			maxPool(st.Layer, h, out, nil, false, &sc.pool)
		case GlobalAvgPool:
			globalAvgPool(st.Layer, h, out)
		case L2Normalize:
			copy(out, h)
			l2Normalize(out, st.In.Size())
		default:
			panic("model: no per-image pass for layer kind " + st.Kind.String())
		}
		h = out
	}
	return h
}

// plainPool reports whether a pool is the backbone's 2x2, stride 2,
// unpadded one on even sides, which epilogue.Pool2x2Rows does.
func plainPool(l Layer) bool {
	return l.Kernel == 2 && l.Stride == 2 && l.Pad == (Padding{}) && l.In.H%2 == 0 && l.In.W%2 == 0
}

// implicitPlan is how implicitConv runs a stride-1 convolution: the input
// is copied into a buffer with the padding around each channel (hp x wp
// values a channel), and output (y, x) is then column y*wp+x of the
// product of the filters with rows that are runs of that buffer: row (c,
// ky, kx) starts at offs[(c*k+ky)*k+kx] = c*hp*wp + ky*wp + kx. A row of
// the buffer is the image's row after its left padding, then zeros up to
// wp = W + max(left, right): the zeros between two rows serve as the
// right padding of one and the left padding of the next, so fewer columns
// are computed (the default model's 8x8 stage 4: 9 a row, not 10).
// Columns with x past the output's width straddle two rows and are
// computed but not used; so are those that round a block up to whole
// tiles.
type implicitPlan struct {
	hp, wp    int
	top, left int // the image's first value in a channel: row top, column left
	slack     int // values after the last channel that a block reads
	offs      []int
	rows      int // output rows per block (even where a 2x2 pool follows)
}

// size is how many values an image of c channels takes laid out for the
// plan.
func (p *implicitPlan) size(c int) int { return c*p.hp*p.wp + p.slack }

// prodChunk is about how many values of the product implicitConv keeps
// at a time: a block of output rows whose product (128 KiB) stays in the
// core's own cache until the epilogue has pooled it.
const prodChunk = 32 << 10

// minImplicitUse is the least share of the columns implicitConv computes
// that must be outputs for it to be chosen over windowConv, which drops
// only the positions that round up its last tile: on small images the
// columns past each row's end and the rounding to whole tiles waste too
// much (a 4x4 image with a 3x3 kernel would compute 24 columns for 16
// outputs).
const minImplicitUse = 0.85

// planImplicit returns how implicitConv runs conv, followed by pool (or
// nil), or nil if it does not: for stride-1 convolutions with no pool or
// the plain 2x2 one, when few of the columns it computes are wasted.
func planImplicit(conv Layer, pool *Layer) *implicitPlan {
	if conv.Stride != 1 || pool != nil && !plainPool(*pool) {
		return nil
	}
	k := conv.Kernel
	hp, wp := conv.In.H+conv.Pad.Top+conv.Pad.Bottom, conv.In.W+max(conv.Pad.Left, conv.Pad.Right)
	OH := conv.Out.H
	// The rows' zeros are enough padding on both sides, and an output
	// row fits in a row of the buffer.
	if hp-k+1 != OH || conv.In.W+conv.Pad.Left+conv.Pad.Right-k+1 != conv.Out.W || conv.Out.W > wp {
		return nil
	}
	// As many blocks as prodChunk asks for, as even as they come: a short
	// last block would round more of its columns up to a whole tile
	// (stage 2's 32 rows: 16 and 16 compute 1,056 columns, 30 and 2 1,080).
	most := max(prodChunk/(convkernel.Panels(conv.Out.C)*convkernel.Rows*wp), 1)
	blocks := (OH + most - 1) / most
	rows := (OH + blocks - 1) / blocks
	if pool != nil {
		rows = roundUp(rows, 2)
	}
	rows = min(rows, OH)
	computed := 0
	for y0 := 0; y0 < OH; y0 += rows {
		computed += roundUp((min(y0+rows, OH)-y0)*wp, convkernel.Cols)
	}
	if float64(OH*conv.Out.W) < minImplicitUse*float64(computed) {
		return nil
	}
	offs := make([]int, 0, conv.In.C*k*k)
	for c := range conv.In.C {
		for ky := range k {
			for kx := range k {
				offs = append(offs, c*hp*wp+ky*wp+kx)
			}
		}
	}
	// The last column a block reads is below the channels' planes plus k
	// + Cols.
	return &implicitPlan{hp: hp, wp: wp, top: conv.Pad.Top, left: conv.Pad.Left, slack: k + convkernel.Cols, offs: offs, rows: rows}
}

// roundUp rounds n up to a multiple of m.
func roundUp(n, m int) int { return (n + m - 1) / m * m }

// filterCache holds the convolutions' filters packed for their kernels
// (packed[st.packed]) and the weights each was packed from.
type filterCache struct{ packed, from [][]float32 }

// packFilters packs the filters of steps' convolutions into fc, but only
// those whose weights are not, bit for bit, what fc packed last: comparing
// the weights costs a read of them, packing a scatter of them, which took
// a few percent of a batch on two cores while the other core waited.
func (n *Net) packFilters(fc *filterCache, steps []step) {
	for _, st := range steps {
		if st.Kind != Conv {
			continue
		}
		for len(fc.packed) <= st.packed {
			fc.packed = append(fc.packed, nil)
			fc.from = append(fc.from, nil)
		}
		w, depth := n.weights[st.Name+".w"], st.In.C*st.Kernel*st.Kernel
		if sameBits(fc.from[st.packed], w) {
			continue
		}
		fc.from[st.packed] = append(fc.from[st.packed][:0], w...)
		if st.implicit != nil {
			fc.packed[st.packed] = convkernel.PackFilters(fc.packed[st.packed], w, st.Out.C, depth)
		} else {
			fc.packed[st.packed] = convkernel.PackWindowFilters(fc.packed[st.packed], w, st.Out.C, depth)
		}
	}
}

// sameBits reports whether a and b hold the same values, bit for bit (a
// weight that went from 0 to -0, or a NaN, counts as changed).
func sameBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i, v := range a {
		if math.Float32bits(v) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// implicitConv convolves one image into out as planImplicit planned, a
// block of output rows at a time: the product of the packed filters with
// the padded image for the block's columns, then the bias, ReLU and the
// 2x2 pool that follows, if any, row by row while the product is in the
// cache. No im2col matrix is written: the kernel reads the windows from
// the padded image itself.
func (n *Net) implicitConv(st step, filters, h, out []float32, sc *scratch) {
	l, p := st.Layer, st.implicit
	b := n.weights[l.Name+".b"]
	OH, OW := l.Out.H, l.Out.W
	floor := float32(math.Inf(-1))
	if l.ReLU {
		floor = 0
	}
	padded := h
	if !st.inPadded {
		padded = padImage(l, h, p.hp, p.wp, p.slack, &sc.padded)
	}
	// Output row y of channel c starts at c*plane + first + y*stride.
	plane, stride, first := st.outShape().H*st.outShape().W, st.outShape().W, 0
	if q := st.outPadded; q != nil {
		// The padding and slack are zero; the rows are written below.
		clear(out)
		plane, stride, first = q.hp*q.wp, q.wp, q.top*q.wp+q.left
	}
	panels := convkernel.Panels(l.Out.C)
	for y0 := 0; y0 < OH; y0 += p.rows {
		y1 := min(y0+p.rows, OH)
		cols := roundUp((y1-y0)*p.wp, convkernel.Cols)
		prod := grow(&sc.prod, panels*convkernel.Rows*cols)
		convkernel.Multiply(filters, panels, padded[y0*p.wp:], p.offs, cols, prod, cols)
		for c := range l.Out.C {
			pc := prod[c*cols : (c+1)*cols]
			dst := out[c*plane+first:]
			if st.pool == nil {
				for y := y0; y < y1; y++ {
					epilogue.BiasFloor(dst[y*stride:][:OW], pc[(y-y0)*p.wp:], b[c], floor)
				}
				continue
			}
			epilogue.Pool2x2Rows(dst[y0/2*stride:], stride, pc, p.wp, (y1-y0)/2, OW/2, b[c], floor)
		}
	}
}

// padImage copies one image into buf with each channel inside its padding
// (hp x wp values a channel: the image's rows after the layer's top and
// left padding, zeros around them), followed by slack zeros, and returns
// it.
func padImage(l Layer, h []float32, hp, wp, slack int, buf *[]float32) []float32 {
	H, W := l.In.H, l.In.W
	plane := hp * wp
	padded := grow(buf, l.In.C*plane+slack)
	clear(padded[l.In.C*plane:])
	top, left, right := l.Pad.Top, l.Pad.Left, wp-l.Pad.Left-W
	for c := range l.In.C {
		dst := padded[c*plane : (c+1)*plane]
		clear(dst[:top*wp])
		clear(dst[(top+H)*wp:])
		for y := range H {
			row := dst[(top+y)*wp : (top+y+1)*wp]
			clear(row[:left])
			copy(row[left:left+W], h[(c*H+y)*W:(c*H+y+1)*W])
			clear(row[left+W : left+W+right])
		}
	}
	return padded
}

// windowPlan is how windowConv runs a convolution of any stride: output
// position i's window is the (padded) image's values at pos[i] plus each
// of offs, offs[(c*k+ky)*k+kx] = c*hp*wp + ky*wp + kx, where the image is
// hp x wp a channel. pos is rounded up to whole tiles with positions whose
// products are not used.
type windowPlan struct {
	padded    bool // the image is copied inside its padding first
	hp, wp    int
	pos, offs []int
}

// planWindows returns how windowConv runs conv.
func planWindows(conv Layer) *windowPlan {
	k, s := conv.Kernel, conv.Stride
	p := &windowPlan{
		padded: conv.Pad != (Padding{}),
		hp:     conv.In.H + conv.Pad.Top + conv.Pad.Bottom,
		wp:     conv.In.W + conv.Pad.Left + conv.Pad.Right,
	}
	// 'same' padding makes every window fit: (out-1)*s + k <= in + pad.
	p.pos = make([]int, roundUp(conv.Out.H*conv.Out.W, convkernel.WindowRows))
	for oy := range conv.Out.H {
		for ox := range conv.Out.W {
			p.pos[oy*conv.Out.W+ox] = oy*s*p.wp + ox*s
		}
	}
	for c := range conv.In.C {
		for ky := range k {
			for kx := range k {
				p.offs = append(p.offs, (c*p.hp+ky)*p.wp+kx)
			}
		}
	}
	return p
}

// windowConv convolves one image into out as planWindows planned: the
// product of each output position's window, read where it lies in the
// image, with the packed filters (a position a row), then channel by
// channel the bias and ReLU, and the max-pool that follows, if any. The
// shallow branches' convolutions (windows of 8x8 and 16x16 at strides of
// 8 and 16) and the colour branch's (2x2, stride 2) run here: their
// windows' rows are a few values apart, which im2col gathered one by one.
func (n *Net) windowConv(st step, filters, h, out []float32, sc *scratch) {
	l, p := st.Layer, st.windows
	b := n.weights[l.Name+".b"]
	img := h
	if p.padded {
		img = padImage(l, h, p.hp, p.wp, 0, &sc.padded)
	}
	panels := convkernel.WindowPanels(l.Out.C)
	ldc := panels * convkernel.WindowCols
	prod := grow(&sc.prod, len(p.pos)*ldc)
	convkernel.MultiplyWindows(filters, panels, img, p.pos, p.offs, prod, ldc)
	floor := float32(math.Inf(-1))
	if l.ReLU {
		floor = 0
	}
	npos := l.Out.H * l.Out.W
	if st.pool == nil {
		// The bias and ReLU in vectors, after the transpose: a
		// comparison a value, on random signs, mispredicts half the
		// time.
		epilogue.Transpose(out, npos, prod, ldc, npos, l.Out.C)
		for c := range l.Out.C {
			plane := out[c*npos : (c+1)*npos]
			epilogue.BiasFloor(plane, plane, b[c], floor)
		}
		return
	}
	byChannel := grow(&sc.byChannel, l.Out.C*npos)
	epilogue.Transpose(byChannel, npos, prod, ldc, npos, l.Out.C)
	maxPool(*st.pool, byChannel, out, b, l.ReLU, &sc.pool)
}

// maxPool pools one image's activations h into out. With bias, it pools
// a convolution's product and adds the channel's bias after taking the
// maximum (the same as before: adding a constant and ReLU keep the order),
// then applies ReLU if relu is set. acc is scratch for one input row.
//
// A window's maximum is taken down its rows first, for a whole row of
// columns at once (independent maxima the CPU overlaps), then across its
// columns: k + k*k/stride comparisons an output instead of k*k in one
// dependent chain.
func maxPool(l Layer, h, out, bias []float32, relu bool, acc *[]float32) {
	H, W, OH, OW := l.In.H, l.In.W, l.Out.H, l.Out.W
	floor := float32(math.Inf(-1))
	if relu {
		floor = 0
	}
	col := grow(acc, W)
	for c := range l.In.C {
		in := h[c*H*W : (c+1)*H*W]
		o := out[c*OH*OW : (c+1)*OH*OW]
		var b float32
		if bias != nil {
			b = bias[c]
		}
		if plainPool(l) {
			epilogue.Pool2x2Rows(o, OW, in, W, OH, OW, b, floor)
			continue
		}
		for oy := range OH {
			y0 := max(oy*l.Stride-l.Pad.Top, 0)
			y1 := min(oy*l.Stride-l.Pad.Top+l.Kernel, H)
			copy(col, in[y0*W:(y0+1)*W])
			for y := y0 + 1; y < y1; y++ {
				for x, v := range in[y*W : (y+1)*W] {
					col[x] = max(col[x], v)
				}
			}
			for ox := range OW {
				x0 := max(ox*l.Stride-l.Pad.Left, 0)
				x1 := min(ox*l.Stride-l.Pad.Left+l.Kernel, W)
				m := col[x0]
				for _, v := range col[x0+1 : x1] {
					m = max(m, v)
				}
				o[oy*OW+ox] = max(m+b, floor)
			}
		}
	}
}

// globalAvgPool averages each channel of one image's activations.
func globalAvgPool(l Layer, h, out []float32) {
	hw := l.In.H * l.In.W
	for c := range out {
		out[c] = sum(h[c*hw:(c+1)*hw]) / float32(hw)
	}
}

// sum adds up v in eight running sums: one sum would make each addition
// wait for the one before (four cycles each), eight keep the adder busy.
// They are separate variables, which the compiler keeps in registers (an
// array would live in memory).
func sum(v []float32) float32 {
	var s0, s1, s2, s3, s4, s5, s6, s7 float32
	for len(v) >= 8 {
		w := (*[8]float32)(v)
		s0 += w[0]
		s1 += w[1]
		s2 += w[2]
		s3 += w[3]
		s4 += w[4]
		s5 += w[5]
		s6 += w[6]
		s7 += w[7]
		v = v[8:]
	}
	for _, x := range v {
		s0 += x
	}
	return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
}

// fullyConnected runs a dense layer on count rows of h into out.
func (n *Net) fullyConnected(l Layer, h []float32, count int, out []float32) {
	w, b := n.weights[l.Name+".w"], n.weights[l.Name+".b"]
	in, o := l.In.Size(), l.Out.C
	gosgemm.Implementation{}.Sgemm(blas.NoTrans, blas.NoTrans, count, o, in, 1, h, in, w, o, 0, out, o)
	floor := float32(math.Inf(-1))
	if l.ReLU {
		floor = 0
	}
	for i := range count {
		row := out[i*o : (i+1)*o]
		for j := range row {
			row[j] = max(row[j]+b[j], floor)
		}
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
