package embedded

import (
	"cmp"
	"container/heap"
	"context"
	"encoding/hex"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"

	"github.com/deeprank/deeprank/vectorstore"
)

// Search is exact: it returns what scoring every live vector returns. A
// segment's int8 codes are streamed from the mapping in blocks, scored by
// a SIMD kernel (dot_amd64.s) in parallel across cores, and bound each
// row's score from both sides (quant.go); the rows that may be among the
// k best are then scored from their float32 vectors. Every metric is a
// function of the dot product and the norms the segment stores (under L2
// the k results' distances are then measured directly). An item of
// several vectors scores as the nearest of them.
// Filters read the class and path columns, never the metadata JSON, which
// is decoded for the k results only.
func (c *collection) Search(ctx context.Context, version string, q []float32, k int, filter *vectorstore.Filter) ([]vectorstore.Hit, error) {
	if k < 1 {
		return nil, fmt.Errorf("search in %q: %w: k = %d", c.name, vectorstore.ErrInvalid, k)
	}
	if err := checkFinite(q); err != nil {
		return nil, fmt.Errorf("search in %q: %w: query %v", c.name, vectorstore.ErrInvalid, err)
	}
	var out []vectorstore.Hit
	err := c.view(func(st *state) error {
		if err := checkModel(c.name, "search", version, len(q), st.man.Spec.Dim, st.man.Spec); err != nil {
			return err
		}
		hits := st.search(q, k, filter, c.store.opts.ReleaseScanned)
		out = make([]vectorstore.Hit, len(hits))
		for i, h := range hits {
			it, err := st.hitItem(h)
			if err != nil {
				return c.corrupt(err)
			}
			out[i] = vectorstore.Hit{ID: it.ID, Metadata: it.Metadata, Distance: finish(st.man.Spec.Metric, h.d)}
		}
		return nil
	})
	return out, err
}

// hit is a scored row: src is -1 for the memtable, else a segment's index.
type hit struct {
	d   float32
	src int
	row int
}

func (h hit) less(o hit) bool {
	return cmp.Or(cmp.Compare(h.d, o.d), cmp.Compare(h.src, o.src), cmp.Compare(h.row, o.row)) < 0
}

// hitHeap is a max-heap: the worst of the best k on top.
type hitHeap []hit

func (h hitHeap) Len() int           { return len(h) }
func (h hitHeap) Less(i, j int) bool { return h[j].less(h[i]) }
func (h hitHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *hitHeap) Push(x any)        { *h = append(*h, x.(hit)) }
func (h *hitHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func (h *hitHeap) offer(x hit, k int) {
	if len(*h) < k {
		heap.Push(h, x)
	} else if x.less((*h)[0]) {
		(*h)[0] = x
		heap.Fix(h, 0)
	}
}

// scorer turns a dot product into a score that ranks like the metric:
// squared L2, 1 - cosine, or the negated dot product.
type scorer struct {
	metric vectorstore.Metric
	qq     float32 // the query's squared norm
	qn     float32 // its norm
}

func (s scorer) score(dot, norm float32) float32 {
	switch s.metric {
	case vectorstore.MetricL2:
		return max(s.qq+norm*norm-2*dot, 0)
	case vectorstore.MetricCosine:
		if norm == 0 || s.qn == 0 {
			return 1
		}
		return 1 - dot/(s.qn*norm)
	default:
		return -dot
	}
}

// nearest is the score of the nearest of a row's vectors, given their dot
// products with the query and their norms.
func (s scorer) nearest(dots, norms []float32) float32 {
	d := s.score(dots[0], norms[0])
	for j := 1; j < len(dots); j++ {
		d = min(d, s.score(dots[j], norms[j]))
	}
	return d
}

// finish turns a score into the reported distance.
func finish(metric vectorstore.Metric, s float32) float32 {
	if metric == vectorstore.MetricL2 {
		return float32(math.Sqrt(float64(s)))
	}
	return s
}

// blockRows is how many rows one kernel call scores.
const blockRows = 256

func (st *state) search(q []float32, k int, filter *vectorstore.Filter, releaseScanned bool) []hit {
	qq := dot(q, q)
	sc := scorer{metric: st.man.Spec.Metric, qq: qq, qn: float32(math.Sqrt(float64(qq)))}
	bd := newBounder(sc, st.man.Spec.Dim)
	sh := shapeOf(st.man.Spec)
	// all gathers rows scored exactly; bounds, the k best upper bounds of
	// each scan of codes; cands, the rows whose lower bound may yet be
	// within them.
	var all, bounds, cands []hit
	// The memtable: small, scored in place.
	h := make(hitHeap, 0, k+1)
	dots, norms := make([]float32, sh.per), make([]float32, sh.per)
	for i := range st.mem.ids {
		m := st.mem.meta[i]
		if !filter.MatchFields(m.Class, m.Path) {
			continue
		}
		row := st.mem.vector(i)
		for j := range sh.per {
			v := row[j*sh.dim : (j+1)*sh.dim]
			dots[j], norms[j] = dot(q, v), float32(math.Sqrt(float64(dot(v, v))))
		}
		h.offer(hit{sc.nearest(dots, norms), -1, i}, k)
	}
	all = append(all, h...)
	for si, v := range st.segs {
		best, c := v.search(si, q, k, filter, bd, releaseScanned)
		if !v.coded() {
			all = append(all, best...)
		} else {
			bounds, cands = append(bounds, best...), append(cands, c...)
		}
	}
	if len(cands) > 0 {
		limit := kth(append(scores(all), scores(bounds)...), k)
		for _, c := range cands {
			if c.d <= limit {
				all = append(all, st.rescore(c, q, sc, dots))
			}
		}
	}
	byScore := func(a, b hit) int {
		if a.less(b) {
			return -1
		}
		return 1
	}
	slices.SortFunc(all, byScore)
	top := all[:min(k, len(all))]
	if sc.metric == vectorstore.MetricL2 {
		// The expansion |q|^2 + |v|^2 - 2 q.v that ranks every row is off
		// by rounding (about 1e-7 for unit vectors), which the square root
		// makes a distance near 0.0005 between identical vectors: the k
		// reported are measured directly.
		for i, h := range top {
			row := st.vector(h)
			top[i].d = squaredL2(q, row[:sh.dim])
			for j := 1; j < sh.per; j++ {
				top[i].d = min(top[i].d, squaredL2(q, row[j*sh.dim:(j+1)*sh.dim]))
			}
		}
		slices.SortFunc(top, byScore)
	}
	return top
}

// rescore scores a segment's row from its float32 vectors, by the same
// kernel a scan of them uses, so that its score is the one that scan
// would give.
func (st *state) rescore(h hit, q []float32, sc scorer, dots []float32) hit {
	v := st.segs[h.src]
	dotBlock(q, v.vector(h.row), dots[:v.per])
	h.d = sc.nearest(dots[:v.per], v.norms[h.row*v.per:(h.row+1)*v.per])
	return h
}

func scores(hs []hit) []float32 {
	out := make([]float32, len(hs))
	for i, h := range hs {
		out[i] = h.d
	}
	return out
}

// kth is the k-th smallest of xs, or +Inf when there are fewer.
func kth(xs []float32, k int) float32 {
	if len(xs) < k {
		return float32(math.Inf(1))
	}
	slices.Sort(xs)
	return xs[k-1]
}

// vector is the stored row of a hit: its vectors one after another.
func (st *state) vector(h hit) []float32 {
	if h.src < 0 {
		return st.mem.vector(h.row)
	}
	return st.segs[h.src].vector(h.row)
}

// squaredL2 is the squared Euclidean distance between a and b.
func squaredL2(a, b []float32) float32 {
	var s float32
	for i, x := range a {
		d := x - b[i]
		s += d * d
	}
	return s
}

// search scores a segment's live rows, split across cores when it is big
// enough to pay for the goroutines. A segment without codes returns its k
// best rows, scored exactly. One with codes returns the k best upper
// bounds, and the rows (scored by their lower bounds) that may be among
// the k best: every row whose lower bound is not above the k-th upper
// bound seen so far.
func (v *segView) search(si int, q []float32, k int, filter *vectorstore.Filter, bd bounder, releaseScanned bool) (best, cands []hit) {
	var allowed []bool // per class number, when the filter names classes
	if filter != nil && len(filter.Classes) > 0 {
		allowed = make([]bool, len(v.table))
		for i, c := range v.table {
			allowed[i] = slices.Contains(filter.Classes, c)
		}
	}
	pathFilter := filter != nil && len(filter.PathPrefixes) > 0
	parts := 1
	if v.n >= 16384 {
		parts = runtime.GOMAXPROCS(0)
	}
	type result struct{ best, cands []hit }
	results := make([]result, parts)
	var wg sync.WaitGroup
	for p := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lo, hi := p*v.n/parts, (p+1)*v.n/parts
			h := make(hitHeap, 0, k+1)
			var cands []hit
			prune := 4096
			w, per := v.width(), v.per
			// The kernel takes a row of several vectors for as many rows
			// of one.
			dots := make([]float32, blockRows*per)
			for b := lo; b < hi; b += blockRows {
				e := min(b+blockRows, hi)
				if !v.coded() {
					dotBlock(q, v.vecs[b*w:e*w], dots[:(e-b)*per])
				} else {
					dotCodes(q, v.codes[b*w:e*w], dots[:(e-b)*per])
				}
				for i := b; i < e; i++ {
					if v.dead.has(i) || allowed != nil && !allowed[v.classes[i]] ||
						pathFilter && !hasAnyPrefix(v.pathBytes(i), filter.PathPrefixes) {
						continue
					}
					at := (i - b) * per
					norms := v.norms[i*per : (i+1)*per]
					if !v.coded() {
						h.offer(hit{bd.nearest(dots[at:at+per], norms), si, i}, k)
						continue
					}
					lower, upper := bd.bounds(dots[at:at+per], norms, v.quant[2*i*per:2*(i+1)*per])
					h.offer(hit{upper, si, i}, k)
					if len(h) < k || lower <= h[0].d {
						cands = append(cands, hit{lower, si, i})
					}
				}
				if len(cands) >= prune && len(h) == k {
					cands = slices.DeleteFunc(cands, func(c hit) bool { return c.d > h[0].d })
					prune = max(prune, 2*len(cands))
				}
				if releaseScanned && (e-lo)%(64*blockRows) == 0 {
					v.releaseScanned(max(lo, e-64*blockRows), e)
				}
			}
			if releaseScanned {
				v.releaseScanned(lo, hi)
			}
			results[p] = result{h, cands}
		}()
	}
	wg.Wait()
	for _, r := range results {
		best, cands = append(best, r.best...), append(cands, r.cands...)
	}
	return best, cands
}

// releaseScanned drops from the resident set the pages of rows [lo, hi)
// of the sections a search scans.
func (v *segView) releaseScanned(lo, hi int) {
	v.releaseRows(secNorms, 4*v.per, lo, hi)
	if !v.coded() {
		v.releaseRows(secVectors, 4*v.width(), lo, hi)
		return
	}
	v.releaseRows(secCodes, v.width(), lo, hi)
	v.releaseRows(secQuant, 8*v.per, lo, hi)
}

func (st *state) hitItem(h hit) (vectorstore.Item, error) {
	if h.src < 0 {
		return st.mem.item(h.row), nil
	}
	v := st.segs[h.src]
	m, err := v.meta(h.row)
	return vectorstore.Item{ID: hex.EncodeToString(v.id(h.row)), Metadata: m}, err
}

// hasAnyPrefix is the path half of Filter.MatchFields, on the path's bytes
// in the mapping, without making a string of each.
func hasAnyPrefix(path []byte, prefixes []string) bool {
	for _, p := range prefixes {
		if len(path) >= len(p) && string(path[:len(p)]) == p {
			return true
		}
	}
	return false
}
