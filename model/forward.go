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
//
// Each image runs through every branch's spatial layers in turn (its
// activations stay in the core's cache); a convolution works a block of
// output rows at a time (im2col of the block, its product, then the bias,
// ReLU and the max-pool after it while the product is in the cache, see
// internal/epilogue); the dense layers then run on the whole batch. Every
// buffer is kept from batch to batch: in steady state a batch allocates
// only the embeddings Forward returns (and, with more than one worker,
// their goroutines). Workers take a batch's images one at a time as they
// come free, so a worker slowed by other jobs does less of the batch.
type Net struct {
	arch     Arch
	weights  map[string][]float32
	workers  int
	branches [][]step // each branch's layers, fused
	spatial  []int    // how many of each branch's steps run image by image
	width    int      // the branches' outputs, concatenated
	head     []step
	scratch  sync.Pool // of *scratch
	batches  sync.Pool // of *batchScratch
}

// step is one operation of the compiled network: a layer, and for a
// convolution the max-pool that follows it, if any, fused into it.
type step struct {
	Layer
	pool *Layer
	// implicit is set for a convolution done by an implicit GEMM (see
	// implicitConv).
	implicit *implicitPlan
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
		case l.Kind == Conv && i+1 < len(layers) && layers[i+1].Kind == MaxPool:
			pool := layers[i+1]
			out = append(out, step{Layer: l, pool: &pool, implicit: planImplicit(l, &pool)})
			i++
		case l.Kind == Conv:
			out = append(out, step{Layer: l, implicit: planImplicit(l, nil)})
		default:
			out = append(out, step{Layer: l})
		}
	}
	return out
}

// scratch is one worker's buffers for one image at a time, kept between
// images and batches.
type scratch struct {
	col, prod, pool, a, b, padded []float32
}

// batchScratch is one call's buffers for the whole batch, kept between
// batches: workers write their images' rows of spatial side by side.
type batchScratch struct {
	spatial [][]float32 // each branch's spatial output, image by image
	concat  []float32   // the branches' outputs side by side
	batch   [2][]float32
	filters [][]float32 // each implicit convolution's packed filters
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
	return newNet(a, m.Weights, workers), nil
}

// newNet compiles an architecture whose weights are checked.
func newNet(a Arch, weights map[string][]float32, workers int) *Net {
	n := &Net{arch: a, weights: weights, workers: workers, head: compile(a.Head)}
	implicit := 0
	for _, b := range a.Branches {
		steps := compile(b.Layers)
		for _, st := range steps {
			if st.implicit != nil {
				st.implicit.id = implicit
				implicit++
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
	bs := n.batches.Get().(*batchScratch)
	defer n.batches.Put(bs)
	if len(bs.spatial) < len(n.branches) {
		bs.spatial = make([][]float32, len(n.branches))
	}
	for bi, steps := range n.branches {
		if spatial := n.spatial[bi]; spatial > 0 {
			bs.spatial[bi] = grow(&bs.spatial[bi], count*steps[spatial-1].outShape().Size())
		}
		// Packed once a call, not once a Net: the Net reads the weights
		// in place and must see the trainer's updates between calls.
		bs.filters = n.packFilters(bs.filters, steps)
	}
	workers := min(n.workers, count)
	if workers <= 1 {
		sc := n.scratch.Get().(*scratch)
		for i := range count {
			n.spatialImage(x, i, bs, sc)
		}
		n.scratch.Put(sc)
	} else {
		// Workers take the next image as they come free: a worker slowed
		// by another job on its core does less of the batch, not holds
		// up the rest.
		var next atomic.Int64
		work := func() {
			sc := n.scratch.Get().(*scratch)
			defer n.scratch.Put(sc)
			for i := int(next.Add(1) - 1); i < count; i = int(next.Add(1) - 1) {
				n.spatialImage(x, i, bs, sc)
			}
		}
		var wg sync.WaitGroup
		for range workers - 1 {
			wg.Go(work)
		}
		work()
		wg.Wait()
	}
	n.dense(x, count, bs, out)
	return out
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
		copy(bs.spatial[bi][i*size:(i+1)*size], n.image(steps[:spatial], img, bs.filters, sc))
	}
}

// dense runs the layers after the spatial ones on the whole batch: each
// branch's rest, then the head on the branches' outputs side by side. The
// products are small; Sgemm splits the largest across idle cores.
func (n *Net) dense(x []float32, count int, bs *batchScratch, out []float32) {
	concat := grow(&bs.concat, count*n.width) // (count, total branch width)
	off := 0
	for bi, steps := range n.branches {
		spatial := n.spatial[bi]
		h := x
		if spatial > 0 {
			h = bs.spatial[bi][:count*steps[spatial-1].outShape().Size()]
		}
		for _, st := range steps[spatial:] {
			h = n.batch(st, h, count, bs)
		}
		bw := len(h) / count
		for i := range count {
			copy(concat[i*n.width+off:], h[i*bw:(i+1)*bw])
		}
		off += bw
	}
	h := concat
	for _, st := range n.head {
		h = n.batch(st, h, count, bs)
	}
	copy(out, h)
}

// outShape is the shape a step leaves.
func (s step) outShape() Shape {
	if s.pool != nil {
		return s.pool.Out
	}
	return s.Out
}

// image runs one image through per-image steps, in sc's buffers, with
// the implicit convolutions' filters packed by packFilters; the result is
// valid until sc is used again.
func (n *Net) image(steps []step, h []float32, filters [][]float32, sc *scratch) []float32 {
	for i, st := range steps {
		dst := &sc.a
		if i%2 == 1 {
			dst = &sc.b
		}
		out := grow(dst, st.outShape().Size())
		switch st.Kind {
		case Conv:
			if st.implicit != nil {
				n.implicitConv(st, filters[st.implicit.id], h, out, sc)
			} else {
				n.conv(st, h, out, sc)
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

// batch runs a step on count activations at once, into whichever of
// bs's two batch buffers h is not.
func (n *Net) batch(st step, h []float32, count int, bs *batchScratch) []float32 {
	buf := &bs.batch[0]
	if cap(*buf) > 0 && len(h) > 0 && &(*buf)[:1][0] == &h[0] {
		buf = &bs.batch[1]
	}
	out := grow(buf, count*st.Out.Size())
	switch st.Kind {
	case Dense:
		n.fullyConnected(st.Layer, h, count, out)
	case L2Normalize:
		copy(out, h)
		l2Normalize(out, st.In.Size())
	default:
		panic("model: no batch pass for layer kind " + st.Kind.String())
	}
	return out
}

// colChunk is about how many values of im2col's matrix a convolution
// lays out at a time: a block of output rows whose windows (128 KiB) and
// product stay in the core's own cache between im2col, the product and
// the pass that adds the bias, clamps and pools, and leave the shared L3
// cache to the other core.
const colChunk = 32 << 10

// chunkRows is how many output rows of st's convolution are computed at a
// time: about colChunk values of its im2col matrix, an even number when a
// plain 2x2 pool follows (each block then pools into whole rows), and all
// of them when another pool follows, whose windows may straddle blocks.
func chunkRows(st step) int {
	l := st.Layer
	if st.pool != nil && !plainPool(*st.pool) {
		return l.Out.H
	}
	rows := max(colChunk/(l.In.C*l.Kernel*l.Kernel*l.Out.W), 1)
	if st.pool != nil {
		rows = max(rows/2*2, 2)
	}
	return min(rows, l.Out.H)
}

// plainPool reports whether a pool is the backbone's 2x2, stride 2,
// unpadded one on even sides, which epilogue.Pool2x2 does a row at a time.
func plainPool(l Layer) bool {
	return l.Kernel == 2 && l.Stride == 2 && l.Pad == (Padding{}) && l.In.H%2 == 0 && l.In.W%2 == 0
}

// conv convolves one image into out, a block of output rows at a time
// (chunkRows): im2col of the block's windows, their product with the
// weights, then the bias, ReLU and the max-pool that follows in one pass
// over the block's product while it is in the cache.
func (n *Net) conv(st step, h, out []float32, sc *scratch) {
	l := st.Layer
	w, b := n.weights[l.Name+".w"], n.weights[l.Name+".b"]
	ckk := l.In.C * l.Kernel * l.Kernel
	OH, OW := l.Out.H, l.Out.W
	floor := float32(math.Inf(-1))
	if l.ReLU {
		floor = 0
	}
	rows := chunkRows(st)
	for y0 := 0; y0 < OH; y0 += rows {
		y1 := min(y0+rows, OH)
		cols := (y1 - y0) * OW
		col := grow(&sc.col, ckk*cols)
		im2col(l, h, col, y0, y1)
		if st.pool == nil {
			// Straight into the output's rows y0..y1 of each channel.
			prod := out[y0*OW:]
			sgemm.Sgemm(blas.NoTrans, blas.NoTrans, l.Out.C, cols, ckk, 1, w, ckk, col, cols, 0, prod, OH*OW)
			for c := range l.Out.C {
				row := out[c*OH*OW+y0*OW : c*OH*OW+y1*OW]
				epilogue.BiasFloor(row, row, b[c], floor)
			}
			continue
		}
		// prod (Cout x cols) = w (Cout x CKK) * col (CKK x cols)
		prod := grow(&sc.prod, l.Out.C*cols)
		sgemm.Sgemm(blas.NoTrans, blas.NoTrans, l.Out.C, cols, ckk, 1, w, ckk, col, cols, 0, prod, cols)
		if !plainPool(*st.pool) {
			maxPool(*st.pool, prod, out, b, l.ReLU, &sc.pool)
			continue
		}
		PH, PW := st.pool.Out.H, st.pool.Out.W
		for c := range l.Out.C {
			p := prod[c*cols : (c+1)*cols]
			for y := 0; y < y1-y0; y += 2 {
				dst := out[c*PH*PW+(y0+y)/2*PW:][:PW]
				epilogue.Pool2x2(dst, p[y*OW:(y+1)*OW], p[(y+1)*OW:(y+2)*OW], b[c], floor)
			}
		}
	}
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
	id     int // which of the Net's packed filters are this layer's
	hp, wp int
	offs   []int
	rows   int // output rows per block (even where a 2x2 pool follows)
}

// prodChunk is about how many values of the product implicitConv keeps
// at a time: a block of output rows whose product (128 KiB) stays in the
// core's own cache until the epilogue has pooled it.
const prodChunk = 32 << 10

// minImplicitUse is the least share of the columns implicitConv computes
// that must be outputs for it to be chosen: on small images the columns
// past each row's end and the rounding to whole tiles can waste more than
// im2col costs (a 4x4 image with a 3x3 kernel would compute 24 columns for
// 16 outputs).
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
	rows := max(prodChunk/(convkernel.Panels(conv.Out.C)*convkernel.Rows*wp), 1)
	if pool != nil {
		rows = max(rows/2*2, 2)
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
	return &implicitPlan{hp: hp, wp: wp, offs: offs, rows: rows}
}

// roundUp rounds n up to a multiple of m.
func roundUp(n, m int) int { return (n + m - 1) / m * m }

// packFilters packs the filters of steps' implicit convolutions for
// convkernel into filters[id], which it grows as needed and returns.
func (n *Net) packFilters(filters [][]float32, steps []step) [][]float32 {
	for _, st := range steps {
		p := st.implicit
		if p == nil {
			continue
		}
		for len(filters) <= p.id {
			filters = append(filters, nil)
		}
		filters[p.id] = convkernel.PackFilters(filters[p.id], n.weights[st.Name+".w"], st.Out.C, len(p.offs))
	}
	return filters
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
	padded := padImage(l, h, p, &sc.padded)
	panels := convkernel.Panels(l.Out.C)
	for y0 := 0; y0 < OH; y0 += p.rows {
		y1 := min(y0+p.rows, OH)
		cols := roundUp((y1-y0)*p.wp, convkernel.Cols)
		prod := grow(&sc.prod, panels*convkernel.Rows*cols)
		convkernel.Multiply(filters, panels, padded[y0*p.wp:], p.offs, cols, prod, cols)
		for c := range l.Out.C {
			pc := prod[c*cols : (c+1)*cols]
			if st.pool == nil {
				for y := y0; y < y1; y++ {
					epilogue.BiasFloor(out[(c*OH+y)*OW:][:OW], pc[(y-y0)*p.wp:], b[c], floor)
				}
				continue
			}
			PH, PW := st.pool.Out.H, st.pool.Out.W
			for y := y0; y < y1; y += 2 {
				r := (y - y0) * p.wp
				epilogue.Pool2x2(out[(c*PH+y/2)*PW:][:PW], pc[r:], pc[r+p.wp:], b[c], floor)
			}
		}
	}
}

// padImage copies one image into buf with each channel inside its padding
// (p.hp x p.wp values a channel, zero around the image), followed by
// enough values for the last block's rounded-up columns to read, and
// returns it.
func padImage(l Layer, h []float32, p *implicitPlan, buf *[]float32) []float32 {
	H, W := l.In.H, l.In.W
	plane := p.hp * p.wp
	k := l.Kernel
	// The last column a block reads is below plane*C + k + Cols.
	padded := grow(buf, l.In.C*plane+k+convkernel.Cols)
	clear(padded[l.In.C*plane:])
	top, left, right := l.Pad.Top, l.Pad.Left, p.wp-l.Pad.Left-W
	for c := range l.In.C {
		dst := padded[c*plane : (c+1)*plane]
		clear(dst[:top*p.wp])
		clear(dst[(top+H)*p.wp:])
		for y := range H {
			row := dst[(top+y)*p.wp : (top+y+1)*p.wp]
			clear(row[:left])
			copy(row[left:left+W], h[(c*H+y)*W:(c*H+y+1)*W])
			clear(row[left+W : left+W+right])
		}
	}
	return padded
}

// im2col lays out the kernel windows of output rows y0..y1 of one image
// as the columns of col: row (c, ky, kx), column (oy-y0, ox). Cells in the
// padding are zero.
func im2col(l Layer, img, col []float32, y0, y1 int) {
	k, s := l.Kernel, l.Stride
	H, W := l.In.H, l.In.W
	OW := l.Out.W
	cols := (y1 - y0) * OW
	// No window reaches past the image: no cell of col is padding.
	unpadded := l.Pad == (Padding{}) && (l.Out.H-1)*s+k <= H && (OW-1)*s+k <= W
	r := 0
	for c := range l.In.C {
		plane := img[c*H*W : (c+1)*H*W]
		for ky := range k {
			if unpadded && !(s == 1 && OW == W) {
				// All k rows of this kernel row at once, from each input
				// row read once.
				gather(col[r*cols:(r+k)*cols], plane[ky*W:], l, y0, y1)
				r += k
				continue
			}
			for kx := range k {
				dst := col[r*cols : (r+1)*cols]
				r++
				if s == 1 && OW == W {
					shifted(dst, plane, H, W, y0, y1, ky-l.Pad.Top, kx-l.Pad.Left)
				} else {
					strided(dst, plane, l, ky, kx, y0, y1)
				}
			}
		}
	}
}

// strided writes im2col's row for kernel offset (ky, kx) of output rows
// y0..y1 of a convolution with any stride and padding, zero where a
// window reaches into the padding.
func strided(dst, plane []float32, l Layer, ky, kx, y0, y1 int) {
	s, H, W, OW := l.Stride, l.In.H, l.In.W, l.Out.W
	// Output columns whose input x = ox*s + off is inside the row: [lo,
	// hi), the same for every row.
	off := kx - l.Pad.Left
	lo := min(max((-off+s-1)/s, 0), OW)
	hi := min(max((W-off+s-1)/s, lo), OW)
	for oy := y0; oy < y1; oy++ {
		y := oy*s + ky - l.Pad.Top
		d := dst[(oy-y0)*OW : (oy-y0+1)*OW]
		if y < 0 || y >= H {
			clear(d)
			continue
		}
		clear(d[:lo])
		clear(d[hi:])
		if lo == hi {
			continue
		}
		everyNth(d[lo:hi], plane[y*W+lo*s+off:y*W+(hi-1)*s+off+1], s)
	}
}

// everyNth writes dst[i] = src[i*n] for every i.
//
// Not inlined: inside its callers, short of registers, the compiler kept
// the loop's counters on the stack, a store and a reload per value.
//
//go:noinline
func everyNth(dst, src []float32, n int) {
	if len(dst) == 0 {
		return
	}
	src = src[:(len(dst)-1)*n+1]
	for i := range dst {
		dst[i] = src[i*n]
	}
}

// gather writes im2col's k rows for one kernel row (ky) of output rows
// y0..y1 of a strided convolution whose windows all lie inside the image:
// dst[kx*cols+(oy-y0)*OW+ox] = src[oy*s*W+ox*s+kx], where src starts at
// row ky of the channel and cols is dst's row length. No cell is padding,
// so no row needs the bounds strided works out. Each output row's windows
// are read as they lie in the input row, one after another, and each
// value is written to its row of dst: the loops run over the window and
// the row, never over a handful of outputs (the shallow branches' rows
// have 4 to 8), which cost a call and a loop set-up per few values.
func gather(dst, src []float32, l Layer, y0, y1 int) {
	k, s, W, OW := l.Kernel, l.Stride, l.In.W, l.Out.W
	cols := len(dst) / k
	for oy := y0; oy < y1; oy++ {
		row := src[oy*s*W : oy*s*W+(OW-1)*s+k]
		for kx := range k {
			d := dst[kx*cols+(oy-y0)*OW:][:OW]
			r := row[kx:]
			for ox := range d {
				d[ox] = r[ox*s]
			}
		}
	}
}

// shifted writes rows y0..y1 of plane (H x W) moved by dy rows and dx
// columns into dst: dst[(y-y0)*W+x] = plane[(y+dy)*W+x+dx], zero where that
// falls outside the plane. It is im2col's row for one kernel offset of a
// stride-1 convolution as wide as its input: one copy of the whole block,
// since consecutive outputs read consecutive inputs, then the cells that
// wrapped around a row's end cleared.
func shifted(dst, plane []float32, H, W, y0, y1, dy, dx int) {
	// Rows whose source row is inside the plane: [ya, yb).
	ya := min(max(y0, -dy), y1)
	yb := max(min(y1, H-dy), ya)
	clear(dst[:(ya-y0)*W])
	clear(dst[(yb-y0)*W:])
	if ya == yb {
		return
	}
	// dst[p] = plane[p+off] for p in [lo, hi), clipped to the plane.
	lo, hi := (ya-y0)*W, (yb-y0)*W
	off := (y0+dy)*W + dx
	from := min(max(lo, -off), hi)
	to := max(min(hi, H*W-off), from)
	clear(dst[lo:from])
	clear(dst[to:hi])
	if from < to { // else every cell is out of its row: |dx| >= W
		copy(dst[from:to], plane[from+off:to+off])
	}
	// The cells to clear are one or two a row: a loop, not a call to
	// clear per row.
	switch edge := min(abs(dx), W); {
	case dx < 0:
		for p := lo; p < hi; p += W {
			for i := range dst[p : p+edge] {
				dst[p+i] = 0
			}
		}
	case dx > 0:
		for p := lo; p < hi; p += W {
			for i := range dst[p+W-edge : p+W] {
				dst[p+W-edge+i] = 0
			}
		}
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
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
			for oy := range OH {
				epilogue.Pool2x2(o[oy*OW:(oy+1)*OW], in[2*oy*W:(2*oy+1)*W], in[(2*oy+1)*W:(2*oy+2)*W], b, floor)
			}
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
	sgemm.Sgemm(blas.NoTrans, blas.NoTrans, count, o, in, 1, h, in, w, o, 0, out, o)
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
