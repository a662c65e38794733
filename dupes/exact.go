package dupes

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"sync"
	"time"
	"unsafe"

	"gonum.org/v1/gonum/blas"

	"github.com/deeprank/deeprank/internal/sgemm"
	"github.com/deeprank/deeprank/vectorstore"
)

// readBlocks calls fn with the items of coll lent in blocks, each item's
// vector the part dupes compares (info.LearnedPart, info.LearnedDim()
// values): where they are stored when coll is a vectorstore.BlockReader
// (the embedded store), else read once by Scan into memory.
func readBlocks(ctx context.Context, coll vectorstore.Collection, info vectorstore.Info, fn func(vectorstore.Blocks) error) error {
	if br, ok := coll.(vectorstore.BlockReader); ok {
		return br.ReadBlocks(ctx, func(b vectorstore.Blocks) error {
			if info.Learned > 0 {
				b = learnedBlocks{b, info.Spec}
			}
			return fn(b)
		})
	}
	t, err := loadTable(ctx, coll, info)
	if err != nil {
		return err
	}
	return fn(t)
}

// sameCollection says whether a and b are one collection, which must not
// be lent twice at once (a BlockReader may hold a lock while it lends).
func sameCollection(a, b vectorstore.Collection) bool {
	return reflect.TypeOf(a).Comparable() && a == b
}

// learnedBlocks lends the learned part of each vector of Blocks
// (vectorstore.Spec.LearnedPart), copied a block at a time.
type learnedBlocks struct {
	vectorstore.Blocks
	spec vectorstore.Spec
}

func (l learnedBlocks) Each(ctx context.Context, from int, fn func(vectorstore.Block) error) error {
	dim := l.spec.Dim
	var part, vecs []float32
	return l.Blocks.Each(ctx, from, func(blk vectorstore.Block) error {
		vecs = vecs[:0]
		for i := range blk.Len() {
			vecs, part = appendLearned(vecs, part, l.spec, blk.Vectors[i*dim:(i+1)*dim])
		}
		blk.Vectors = vecs
		return fn(blk)
	})
}

// appendLearned appends the learned part of the own vector v
// (vectorstore.Spec.LearnedPart) to dst, using part as scratch space; it
// returns both, grown as needed.
func appendLearned(dst, part []float32, spec vectorstore.Spec, v []float32) (grown, scratch []float32) {
	part = spec.LearnedPart(part, v)
	return append(dst, part...), part
}

// table is every vector of a collection in memory, for collections that
// cannot lend theirs: the rows of ids and vecs are item i.
type table struct {
	dim  int
	ids  []byte // 32 bytes an item
	vecs []float32
}

// tableBlockRows is how many rows a table lends at a time.
var tableBlockRows = 1024

// loadTable reads every vector of coll. It sizes the arrays from Count
// first: growing by appending would hold twice the vectors for a moment.
func loadTable(ctx context.Context, coll vectorstore.Collection, info vectorstore.Info) (*table, error) {
	n, err := coll.Count(ctx)
	if err != nil {
		return nil, err
	}
	dim := info.LearnedDim()
	t := &table{dim: dim, ids: make([]byte, 0, 32*n), vecs: make([]float32, 0, n*dim)}
	var part []float32
	err = coll.Scan(ctx, func(it vectorstore.Item) error {
		if len(it.Vector) != info.ItemLen() {
			return fmt.Errorf("read %q: item %s has %d values, the collection %d (dim %d, %d vectors an item)", info.Name, it.ID, len(it.Vector), info.ItemLen(), info.Dim, info.PerItem())
		}
		id := decodeID(it.ID)
		t.ids = append(t.ids, id[:]...)
		t.vecs, part = appendLearned(t.vecs, part, info.Spec, info.Own(it.Vector)) // dupes compares own vectors
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the vectors of %q: %w", info.Name, err)
	}
	return t, nil
}

func (t *table) Len() int { return len(t.ids) / 32 }

func (t *table) Each(ctx context.Context, from int, fn func(vectorstore.Block) error) error {
	for lo := from; lo < t.Len(); lo += tableBlockRows {
		if err := ctx.Err(); err != nil {
			return err
		}
		hi := min(lo+tableBlockRows, t.Len())
		if err := fn(vectorstore.Block{Start: lo, IDs: t.ids[32*lo : 32*hi], Vectors: t.vecs[lo*t.dim : hi*t.dim]}); err != nil {
			return err
		}
	}
	return nil
}

// readIDs copies the IDs of every item of b, 32 bytes an item.
func readIDs(ctx context.Context, b vectorstore.Blocks) ([]byte, error) {
	if l, ok := b.(learnedBlocks); ok {
		b = l.Blocks // the vectors are not read
	}
	ids := make([]byte, 0, 32*b.Len())
	err := b.Each(ctx, 0, func(blk vectorstore.Block) error {
		ids = append(ids, blk.IDs...)
		return nil
	})
	return ids, err
}

func hexID(ids []byte, i int) string { return hex.EncodeToString(ids[32*i : 32*i+32]) }

func hexIDs(ids []byte) []string {
	out := make([]string, len(ids)/32)
	for i := range out {
		out[i] = hexID(ids, i)
	}
	return out
}

// lookupIDs returns a function giving the index in ids of the IDs of
// want; it walks ids once, so that no map of every ID is needed.
func lookupIDs(ids []byte, want []string) func(string) (int32, bool) {
	at := map[string]int32{}
	wanted := map[[32]byte]string{}
	for _, id := range want {
		wanted[decodeID(id)] = id
	}
	if len(wanted) > 0 {
		for i := range len(ids) / 32 {
			if id, ok := wanted[[32]byte(ids[32*i:32*i+32])]; ok {
				at[id] = int32(i)
			}
		}
	}
	return func(id string) (int32, bool) {
		i, ok := at[id]
		return i, ok
	}
}

func dot(a, b []float32) float32 {
	var s float32
	for i, x := range a {
		s += x * b[i]
	}
	return s
}

// heldRows is how many rows of the first side are held in memory at a
// time (8 MB at 128 dimensions, plus their prefixes): the rows of the
// second side are streamed past them once per heldRows rows. tileRows is
// the rows one worker multiplies at a time: a multiple of the kernel's 6
// rows (no edge tiles), and small enough that a 504 x 64 x 50 product
// stays under the size at which internal/sgemm splits a call across cores,
// which would fight the workers for them. panelCols is the columns multiplied
// and scanned at a time, whose products (tileRows x panelCols x 4 bytes)
// stay in a core's L2 cache. Variables so that tests can cross many edges
// with few vectors.
var (
	heldRows  = 16384
	tileRows  = 504
	panelCols = 64
)

// prefix is the cheap first test of a pair, on the product of the first p
// dimensions only. Dropping dimensions is an orthogonal projection, which
// never lengthens a distance: a pair farther apart than the threshold over
// p dimensions is farther over all of them, so the test never loses a pair.
// The few that pass are checked over every dimension. Under L2 and COSINE
// (unit rows: squared L2 = 2 x cosine distance) the test is on the squared
// Euclidean distance; IP is no distance, and its test is the full product.
//
// The test is folded into the matrix product, so that what is left to
// scan is a sign: each row a of the first side is multiplied as
// [a_p, alpha_a, 1] and each row b of the second as [b_p, 1, beta_b], with
// alpha and beta chosen so that the product is at least 0 exactly when the
// pair passes: for L2, a.b_p - |a_p|^2/2 - (|b_p|^2 - lim)/2 >= 0.
type prefix struct {
	metric vectorstore.Metric
	p      int
	// lim is the squared Euclidean threshold over the prefix, or the IP
	// threshold, with slack for float32 rounding (the full check decides).
	lim float32
}

// k is the depth of the product: the prefix and the two folded terms.
func (f prefix) k() int { return f.p + 2 }

// slack widens the test by this share of the squared norms, more than a
// float32 product of some hundred terms can be off by (its rounding is
// relative to the norms, not to the distance).
const slack = 1e-5

// fold writes the terms of the test for a row of the first side (first)
// or the second into the two values after its prefix; sq is the prefix's
// squared norm.
func (f prefix) fold(dst []float32, sq float32, first bool) {
	ip := f.metric == vectorstore.MetricIP
	switch {
	case first && ip:
		dst[0], dst[1] = slack*sq/2, 1
	case first:
		dst[0], dst[1] = -(1-slack)*sq/2, 1
	case ip:
		dst[0], dst[1] = 1, f.lim+slack*sq/2
	default:
		dst[0], dst[1] = 1, -((1-slack)*sq-f.lim)/2
	}
}

// prefixSample is how many random pairs choosePrefix looks at, and
// prefixPass the share of them that may pass a prefix's test for it to be
// taken: each pair that passes costs a full check.
const (
	prefixSample = 4096
	prefixPass   = 1.0 / 1000
)

// choosePrefix picks the fewest dimensions (a quarter, three eighths, a
// half or three quarters of them, else all) whose test lets through few
// random pairs of rows of q and g (dim values a row, at unit length under
// COSINE). Random pairs are nearly all far apart, so this measures what
// the test would waste its full checks on. Which prefix it picks changes
// only the speed, never the pairs found.
func choosePrefix(q, g []float32, dim int, metric vectorstore.Metric, d float32) prefix {
	if metric == vectorstore.MetricIP {
		return prefix{metric: metric, p: dim, lim: d + 1e-4*float32(math.Abs(float64(d))) + 1e-5}
	}
	lim := d * d
	if metric == vectorstore.MetricCosine {
		lim = 2 * d
	}
	f := prefix{metric: metric, p: dim, lim: lim*(1+1e-4) + 1e-5}
	nq, ng := len(q)/dim, len(g)/dim
	if nq == 0 || ng == 0 {
		return f
	}
	rng := rand.New(rand.NewPCG(uint64(nq), uint64(ng)))
	type pair struct{ a, b int }
	pairs := make([]pair, prefixSample)
	for i := range pairs {
		pairs[i] = pair{rng.IntN(nq), rng.IntN(ng)}
	}
	for _, frac := range []int{2, 3, 4, 6} { // eighths
		cand := max(8, dim*frac/8/8*8)
		if cand >= dim {
			break
		}
		pass := 0
		for _, pr := range pairs {
			a, b := q[pr.a*dim:][:cand], g[pr.b*dim:][:cand]
			if dot(a, a)+dot(b, b)-2*dot(a, b) <= f.lim {
				pass++
			}
		}
		if float64(pass) <= prefixPass*prefixSample {
			f.p = cand
			break
		}
	}
	return f
}

// rows is a run of rows of one side, ready to multiply: their vectors
// (at unit length under COSINE), squared norms, and prefixes with the
// folded terms of the test.
type rows struct {
	n    int
	vecs []float32
	sq   []float32
	// scale is what a row's vector in vecs must be multiplied by to be
	// the one tested (1, or its inverse length under COSINE when vecs
	// are the stored vectors, lent in place).
	scale []float32
	// fold holds the k values of each row: for the first side row after
	// row, for the second as their transpose, k lines of ld values, which
	// the product reads where they are (an ld that is a multiple of 512
	// would make its lines evict each other from the cache, and the
	// product copy them).
	fold []float32
	ld   int
}

// prepare fills in sq, scale and fold for r.n rows of r.vecs; unit says
// whether vecs are already at unit length under COSINE.
func (r *rows) prepare(f prefix, dim int, first, unit bool) {
	k := f.k()
	r.ld = k
	if !first {
		r.ld = (r.n + 15) / 16 * 16
		if r.ld%512 == 0 {
			r.ld += 16
		}
	}
	size := r.n * k
	if !first {
		size = k * r.ld
	}
	r.sq, r.scale, r.fold = grow(r.sq, r.n), grow(r.scale, r.n), grow(r.fold, size)
	line := make([]float32, k)
	for i := range r.n {
		v := r.vecs[i*dim : (i+1)*dim]
		s, scale := dot(v, v), float32(1)
		if f.metric == vectorstore.MetricCosine && !unit && s > 0 {
			scale = float32(1 / math.Sqrt(float64(s)))
			s *= scale * scale
		}
		r.sq[i], r.scale[i] = s, scale
		for j, x := range v[:f.p] {
			line[j] = x * scale
		}
		f.fold(line[f.p:], dot(line[:f.p], line[:f.p]), first)
		if first {
			copy(r.fold[i*k:], line)
			continue
		}
		for t, x := range line {
			r.fold[t*r.ld+i] = x
		}
	}
}

func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// errHeld stops the Each that fills the held rows once they are full.
var errHeld = errors.New("held rows full")

// errShort is returned when a store lends fewer items than it counts.
var errShort = errors.New("the store lent fewer items than it holds")

// hold copies up to heldRows rows of b from position from into r (at unit
// length under COSINE).
func (r *rows) hold(ctx context.Context, b vectorstore.Blocks, from, dim int, metric vectorstore.Metric) error {
	want := min(heldRows, b.Len()-from)
	// Sized once: growing by appending would hold the old array beside
	// each new one, and at 8 MB that set the command's peak memory.
	r.vecs = grow(r.vecs, want*dim)[:0]
	err := b.Each(ctx, from, func(blk vectorstore.Block) error {
		take := min(blk.Len(), want-len(r.vecs)/dim)
		r.vecs = append(r.vecs, blk.Vectors[:take*dim]...)
		if len(r.vecs) == want*dim {
			return errHeld
		}
		return nil
	})
	if err != nil && !errors.Is(err, errHeld) {
		return err
	}
	r.n = len(r.vecs) / dim
	if r.n != want {
		return fmt.Errorf("%w: %d items from position %d, of %d", errShort, r.n, from, b.Len())
	}
	if metric == vectorstore.MetricCosine {
		for i := range r.n {
			v := r.vecs[i*dim : (i+1)*dim]
			if s := dot(v, v); s > 0 {
				inv := float32(1 / math.Sqrt(float64(s)))
				for j := range v {
					v[j] *= inv
				}
			}
		}
	}
	return nil
}

// pass is one block of the second side against the held rows of the
// first, shared by the workers that multiply its tiles.
type pass struct {
	f      prefix
	dim    int
	cols   int // panelCols
	d      float32
	same   bool // the two sides are one: only pairs a < b, by position
	held   *rows
	heldAt int // position of the first held row
	col    *rows
	colAt  int // position of the block's first row
	wg     sync.WaitGroup
}

// compareBlocks calls take, from the calling goroutine, with every pair
// (item of q, item of g) within opts.MaxDistance, by position. When same
// (q and g are one), each pair comes once, with a < b, and items are not
// paired with themselves. Rows of q are held heldRows at a time while g
// streams past them; g is never copied whole.
func compareBlocks(ctx context.Context, q, g vectorstore.Blocks, same bool, dim int, metric vectorstore.Metric, opts *Options, take func(edge)) error {
	nq, ng := q.Len(), g.Len()
	if nq == 0 || ng == 0 {
		return nil
	}
	held := &rows{}
	if err := held.hold(ctx, q, 0, dim, metric); err != nil {
		return err
	}
	// The prefix is chosen on the first rows of each side: positions
	// follow ids, which are hashes, so they are a fair sample.
	sampleG := held.vecs
	if !same {
		sample := &rows{}
		if err := sample.hold(ctx, g, 0, dim, metric); err != nil {
			return err
		}
		sampleG = sample.vecs[:min(len(sample.vecs), prefixSample*dim)]
	}
	f := choosePrefix(held.vecs[:min(len(held.vecs), prefixSample*dim)], sampleG, dim, metric, opts.MaxDistance)

	total := float64(nq) * float64(ng)
	if same {
		total = float64(nq) * float64(nq-1) / 2
	}
	var done float64 // pairs compared
	start, last := time.Now(), time.Now()
	progress := func(force bool) {
		if opts.Progress != nil && (force || time.Since(last) >= time.Second) {
			last = time.Now()
			opts.Progress(Progress{Total: nq, Done: int(float64(nq) * done / max(total, 1)), Elapsed: time.Since(start)})
		}
	}

	type job struct {
		p      *pass
		r0, r1 int
	}
	jobs := make(chan job)
	workers := opts.workers()
	found := make([][]edge, workers)
	var running sync.WaitGroup
	defer running.Wait()
	defer close(jobs)
	tile, cols := tileRows, panelCols
	for w := range workers {
		running.Go(func() {
			c := make([]float32, tile*cols)
			for jb := range jobs {
				found[w] = jb.p.tile(found[w], jb.r0, jb.r1, c)
				jb.p.wg.Done()
			}
		})
	}
	col := &rows{}
	for heldAt := 0; heldAt < nq; heldAt += heldRows {
		if heldAt > 0 {
			if err := held.hold(ctx, q, heldAt, dim, metric); err != nil {
				return err
			}
		}
		held.prepare(f, dim, true, true)
		from := 0
		if same {
			from = heldAt
		}
		err := g.Each(ctx, from, func(blk vectorstore.Block) error {
			col.n, col.vecs = blk.Len(), blk.Vectors
			col.prepare(f, dim, false, false)
			p := &pass{f: f, dim: dim, cols: cols, d: opts.MaxDistance, same: same, held: held, heldAt: heldAt, col: col, colAt: blk.Start}
			for r0 := 0; r0 < held.n; r0 += tile {
				// Pairs only where some column follows some row.
				if same && blk.Start+blk.Len()-1 <= heldAt+r0 {
					break
				}
				p.wg.Add(1)
				jobs <- job{p, r0, min(r0+tile, held.n)}
			}
			p.wg.Wait()
			for w := range found {
				for _, e := range found[w] {
					take(e)
				}
				found[w] = found[w][:0]
			}
			done += p.pairs()
			progress(false)
			return ctx.Err()
		})
		if err != nil {
			return err
		}
	}
	progress(true)
	return nil
}

// pairs is how many pairs the pass compares.
func (p *pass) pairs() float64 {
	if !p.same {
		return float64(p.held.n) * float64(p.col.n)
	}
	n := 0
	for j := range p.col.n { // held rows before the column
		n += min(max(p.colAt+j-p.heldAt, 0), p.held.n)
	}
	return float64(n)
}

// tile appends the pairs of held rows [r0, r1) with the pass's block that
// are within the threshold, using c (r1-r0 x p.cols values) for their
// products.
func (p *pass) tile(out []edge, r0, r1 int, c []float32) []edge {
	impl := sgemm.Implementation{}
	k, m := p.f.k(), r1-r0
	for c0 := 0; c0 < p.col.n; c0 += p.cols {
		pn := min(p.cols, p.col.n-c0)
		if p.same && p.colAt+c0+pn-1 <= p.heldAt+r0 {
			continue // every column at or before every row
		}
		cs := c[:m*pn]
		impl.Sgemm(blas.NoTrans, blas.NoTrans, m, pn, k, 1,
			p.held.fold[r0*k:r1*k], k, p.col.fold[c0:], p.col.ld, 0, cs, pn)
		for x := nextNonNegative(cs, 0); x < len(cs); x = nextNonNegative(cs, x+1) {
			i, j := r0+x/pn, c0+x%pn
			a, b := p.heldAt+i, p.colAt+j
			if p.same && b <= a {
				continue
			}
			if d, ok := p.check(i, j); ok {
				out = append(out, edge{int32(a), int32(b), d})
			}
		}
	}
	return out
}

// check computes the distance of held row i and block row j over every
// dimension, and says whether it is within the threshold.
func (p *pass) check(i, j int) (float32, bool) {
	a := p.held.vecs[i*p.dim : (i+1)*p.dim]
	b := p.col.vecs[j*p.dim : (j+1)*p.dim]
	ab := dot(a, b) * p.col.scale[j]
	var dist float32
	switch p.f.metric {
	case vectorstore.MetricIP:
		dist = -ab
	case vectorstore.MetricCosine: // on unit rows
		dist = 1
		if p.held.sq[i] != 0 && p.col.sq[j] != 0 {
			dist = 1 - ab
		}
	default:
		dist = float32(math.Sqrt(float64(max(p.held.sq[i]+p.col.sq[j]-2*ab, 0))))
	}
	return dist, dist <= p.d
}

// nextNonNegative is the index of the first value of c from x on whose
// sign bit is clear (a pair that passed the folded test), or len(c). It
// tests eight values at a time: they are all negative when their sign bits
// survive an AND.
func nextNonNegative(c []float32, x int) int {
	for ; x < len(c) && x%8 != 0; x++ {
		if math.Float32bits(c[x])>>31 == 0 {
			return x
		}
	}
	const signs = 0x8000_0000_8000_0000
	if x+8 <= len(c) {
		w := unsafe.Slice((*uint64)(unsafe.Pointer(&c[x])), (len(c)-x)/2)
		for len(w) >= 4 && w[0]&w[1]&w[2]&w[3]&signs == signs {
			w = w[4:]
			x += 8
		}
	}
	for ; x < len(c); x++ {
		if math.Float32bits(c[x])>>31 == 0 {
			return x
		}
	}
	return x
}
