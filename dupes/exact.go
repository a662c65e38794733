package dupes

import (
	"context"
	"encoding/hex"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"

	"gonum.org/v1/gonum/blas"

	"github.com/deeprank/deeprank/internal/sgemm"
	"github.com/deeprank/deeprank/vectorstore"
)

// table is every vector of a collection in one array, row i being the
// image ids[i]. Under COSINE the rows are scaled to unit length (zero rows
// stay zero), which leaves cosine distances as they were and makes them a
// function of the Euclidean distance.
type table struct {
	dim  int
	ids  [][32]byte
	vecs []float32
	sq   []float32 // squared norms
}

// loadTable reads every vector of coll. It sizes the arrays from Count
// first: growing by appending would hold twice the vectors for a moment.
func loadTable(ctx context.Context, coll vectorstore.Collection, info vectorstore.Info) (*table, error) {
	n, err := coll.Count(ctx)
	if err != nil {
		return nil, err
	}
	t := &table{dim: info.Dim, ids: make([][32]byte, 0, n), vecs: make([]float32, 0, n*info.Dim)}
	err = coll.Scan(ctx, func(it vectorstore.Item) error {
		if len(it.Vector) != t.dim {
			return fmt.Errorf("read %q: item %s has %d dimensions, the collection %d", info.Name, it.ID, len(it.Vector), t.dim)
		}
		t.ids = append(t.ids, decodeID(it.ID))
		t.vecs = append(t.vecs, it.Vector...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the vectors of %q: %w", info.Name, err)
	}
	t.sq = make([]float32, len(t.ids))
	for i := range t.ids {
		row := t.row(i)
		s := dot(row, row)
		if info.Metric == vectorstore.MetricCosine && s > 0 {
			inv := float32(1 / math.Sqrt(float64(s)))
			for j := range row {
				row[j] *= inv
			}
			s = dot(row, row)
		}
		t.sq[i] = s
	}
	return t, nil
}

func (t *table) row(i int) []float32 { return t.vecs[i*t.dim : (i+1)*t.dim] }

func dot(a, b []float32) float32 {
	var s float32
	for i, x := range a {
		s += x * b[i]
	}
	return s
}

func (t *table) hexIDs() []string {
	out := make([]string, len(t.ids))
	for i, id := range t.ids {
		out[i] = hex.EncodeToString(id[:])
	}
	return out
}

// lookup returns a function giving the index of the IDs of want; it walks
// the table once, so that no map of every ID is needed.
func (t *table) lookup(ids []string) func(string) (int32, bool) {
	at := map[string]int32{}
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	if len(want) > 0 {
		for i, id := range t.ids {
			if h := hex.EncodeToString(id[:]); want[h] {
				at[h] = int32(i)
			}
		}
	}
	return func(id string) (int32, bool) {
		i, ok := at[id]
		return i, ok
	}
}

// tileRows is the side of a tile, the unit of work handed to a worker;
// panelCols the columns multiplied and scanned at a time, whose products
// (tileRows x panelCols x 4 bytes) stay in a core's L2 cache. Variables so
// that tests can cross many tile edges with few vectors.
var (
	tileRows  = 1024
	panelCols = 64
)

// prefix is the cheap first test of a pair, on the product of the first p
// dimensions only. Dropping dimensions is an orthogonal projection, which
// never lengthens a distance: a pair farther apart than the threshold over
// p dimensions is farther over all of them, so the test never loses a pair.
// The few that pass are checked over every dimension. Under L2 and COSINE
// (unit rows: squared L2 = 2 x cosine distance) the test is on the squared
// Euclidean distance; IP is no distance, and its test is the full product.
type prefix struct {
	p int
	// lim is the squared Euclidean threshold over the prefix, with slack
	// for float32 rounding (the full check decides).
	lim float32
	// qsq and gsq are the squared norms of the rows' prefixes.
	qsq, gsq []float32
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
// random pairs of q and g. Random pairs are nearly all far apart, so this
// measures what the test would waste its full checks on. Which prefix it
// picks changes only the speed, never the pairs found.
func choosePrefix(q, g *table, metric vectorstore.Metric, d float32) prefix {
	dim := q.dim
	if metric == vectorstore.MetricIP || len(q.ids) == 0 || len(g.ids) == 0 {
		return prefix{p: dim}
	}
	lim := d * d
	if metric == vectorstore.MetricCosine {
		lim = 2 * d
	}
	lim = lim*(1+1e-4) + 1e-5
	rng := rand.New(rand.NewPCG(uint64(len(q.ids)), uint64(len(g.ids))))
	type pair struct{ a, b int }
	pairs := make([]pair, prefixSample)
	for i := range pairs {
		pairs[i] = pair{rng.IntN(len(q.ids)), rng.IntN(len(g.ids))}
	}
	p := dim
	for _, frac := range []int{2, 3, 4, 6} { // eighths
		cand := max(8, dim*frac/8/8*8)
		if cand >= dim {
			break
		}
		pass := 0
		for _, pr := range pairs {
			a, b := q.row(pr.a)[:cand], g.row(pr.b)[:cand]
			if dot(a, a)+dot(b, b)-2*dot(a, b) <= lim {
				pass++
			}
		}
		if float64(pass) <= prefixPass*prefixSample {
			p = cand
			break
		}
	}
	sqs := func(t *table) []float32 {
		out := make([]float32, len(t.ids))
		for i := range out {
			r := t.row(i)[:p]
			out[i] = dot(r, r)
		}
		return out
	}
	f := prefix{p: p, lim: lim, qsq: sqs(q)}
	f.gsq = f.qsq
	if g != q {
		f.gsq = sqs(g)
	}
	return f
}

// compareTiles calls take, from the calling goroutine, with every pair
// (row of q, row of g) within opts.MaxDistance. When q and g are the same
// table, each pair comes once, with a < b, and rows are not paired with
// themselves.
func compareTiles(ctx context.Context, q, g *table, metric vectorstore.Metric, opts *Options, take func(edge)) error {
	same := q == g
	nq, ng := len(q.ids), len(g.ids)
	d := opts.MaxDistance
	f := choosePrefix(q, g, metric, d)
	// gs[j] folds g's side of the prefix test into one value per row.
	gs := make([]float32, ng)
	if metric != vectorstore.MetricIP {
		for j := range gs {
			gs[j] = f.gsq[j] - f.lim
		}
	}
	total := float64(nq) * float64(ng)
	if same {
		total = float64(nq) * float64(nq-1) / 2
	}
	type job struct{ r0, c0 int }
	jobs := make(chan job)
	results := make(chan []edge, opts.workers())
	var done atomic.Int64 // pairs compared
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		defer close(jobs)
		for r0 := 0; r0 < nq; r0 += tileRows {
			c0 := 0
			if same {
				c0 = r0
			}
			for ; c0 < ng; c0 += tileRows {
				select {
				case jobs <- job{r0, c0}:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	var wg sync.WaitGroup
	for range opts.workers() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := make([]float32, tileRows*panelCols)
			impl := sgemm.Implementation{}
			for jb := range jobs {
				m, n := min(tileRows, nq-jb.r0), min(tileRows, ng-jb.c0)
				var out []edge
				pairs := int64(m) * int64(n)
				diagonal := same && jb.r0 == jb.c0
				if diagonal {
					pairs = int64(m) * int64(m-1) / 2
				}
				a := q.vecs[jb.r0*q.dim : (jb.r0+m)*q.dim]
				// The tile goes in panels of panelCols columns, each
				// scanned right after its product, while it is in the
				// cache: the whole tile's products are 4 MB, which would
				// be read back from memory.
				for p0 := 0; p0 < n; p0 += panelCols {
					pn := min(panelCols, n-p0)
					c0 := jb.c0 + p0
					// The first f.p columns of each row: a and b read in
					// place, with the rows' full stride.
					impl.Sgemm(blas.NoTrans, blas.Trans, m, pn, f.p, 1,
						a, q.dim, g.vecs[c0*g.dim:(c0+pn)*g.dim], g.dim, 0, c, pn)
					for i := range m {
						j0 := 0
						if diagonal {
							j0 = max(0, i+1-p0) // columns after row i only
						}
						if j0 < pn {
							out = scanRow(out, c[i*pn:(i+1)*pn], j0, jb.r0+i, c0, q, g, &f, gs, metric, d)
						}
					}
				}
				done.Add(pairs)
				select {
				case results <- out:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() { wg.Wait(); close(results) }()
	collect(results, take, opts.Progress, nq, func() int { return int(float64(nq) * float64(done.Load()) / max(total, 1)) })
	return ctx.Err() // the workers stop early when it is done
}

// scanRow appends the pairs of row a of q with rows c0+j (j >= j0) of g
// whose prefix products are in row and whose distance is within d. The
// prefix test is rearranged so that the inner loop does an add, a multiply
// and a compare; a pair that passes has its distance computed over every
// dimension.
func scanRow(out []edge, row []float32, j0, a, c0 int, q, g *table, f *prefix, gs []float32, metric vectorstore.Metric, d float32) []edge {
	if metric == vectorstore.MetricIP {
		for j := j0; j < len(row); j++ {
			if -row[j] <= d { // the prefix is every dimension
				out = append(out, edge{int32(a), int32(c0 + j), -row[j]})
			}
		}
		return out
	}
	qa := f.qsq[a]
	gs = gs[c0:][:len(row)] // one bounds check here, none in the loop
	for j := j0; j < len(row); j++ {
		if 2*row[j] < qa+gs[j] {
			continue
		}
		b := c0 + j
		ab := dot(q.row(a), g.row(b))
		var dist float32
		if metric == vectorstore.MetricL2 {
			dist = float32(math.Sqrt(float64(max(q.sq[a]+g.sq[b]-2*ab, 0))))
		} else { // COSINE, on unit rows
			dist = 1
			if q.sq[a] != 0 && g.sq[b] != 0 {
				dist = 1 - ab
			}
		}
		if dist <= d {
			out = append(out, edge{int32(a), int32(b), dist})
		}
	}
	return out
}
