package dupes

import (
	"context"
	"encoding/hex"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"gonum.org/v1/gonum/blas"

	"github.com/deeprank/deeprank/internal/sgemm"
	"github.com/deeprank/deeprank/vectorstore"
)

// table is every vector of a collection in one array, row i being the
// image ids[i].
type table struct {
	dim   int
	ids   [][32]byte
	vecs  []float32
	sq    []float32 // squared norms
	norms []float32
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
	t.norms = make([]float32, len(t.ids))
	for i := range t.ids {
		var s float32
		for _, x := range t.vecs[i*t.dim : (i+1)*t.dim] {
			s += x * x
		}
		t.sq[i], t.norms[i] = s, float32(math.Sqrt(float64(s)))
	}
	return t, nil
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

// tileRows is the side of a tile: a tile's products take tileRows^2 * 4
// bytes (4 MB) per worker, and its operands (tileRows x dim each) stay in
// the cache while it runs.
const tileRows = 1024

// compareTiles calls take, from the calling goroutine, with every pair
// (row of q, row of g) within opts.MaxDistance. When q and g are the same
// table, each pair comes once, with a < b, and rows are not paired with
// themselves.
func compareTiles(ctx context.Context, q, g *table, metric string, opts *Options, take func(edge)) error {
	same := q == g
	nq, ng := len(q.ids), len(g.ids)
	d := opts.MaxDistance
	// gs[j] folds g's side of the candidate test into one value per row.
	gs := make([]float32, ng)
	for j := range gs {
		switch metric {
		case vectorstore.MetricL2:
			gs[j] = g.sq[j] - d*d
		case vectorstore.MetricCosine:
			gs[j] = (1 - d) * g.norms[j]
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
			c := make([]float32, tileRows*tileRows)
			impl := sgemm.Implementation{}
			for jb := range jobs {
				m, n := min(tileRows, nq-jb.r0), min(tileRows, ng-jb.c0)
				impl.Sgemm(blas.NoTrans, blas.Trans, m, n, q.dim, 1,
					q.vecs[jb.r0*q.dim:(jb.r0+m)*q.dim], q.dim, g.vecs[jb.c0*g.dim:(jb.c0+n)*g.dim], g.dim, 0, c, n)
				var out []edge
				pairs := int64(m) * int64(n)
				if same && jb.r0 == jb.c0 {
					pairs = int64(m) * int64(m-1) / 2
				}
				for i := range m {
					a := jb.r0 + i
					row := c[i*n : (i+1)*n]
					j0 := 0
					if same && jb.r0 == jb.c0 {
						j0 = i + 1
					}
					out = scanRow(out, row, j0, a, jb.c0, q, g, gs, metric, d)
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
	tk := newTicker(opts.Progress)
	progress := func(force bool) {
		tk.tick(nq, int(float64(nq)*float64(done.Load())/max(total, 1)), force)
	}
	every := time.NewTicker(time.Second)
	defer every.Stop()
	for {
		select {
		case out, ok := <-results:
			if !ok {
				if err := ctx.Err(); err != nil {
					return err
				}
				progress(true)
				return nil
			}
			for _, e := range out {
				take(e)
			}
		case <-every.C:
			progress(false)
		case <-ctx.Done():
			for range results { // let the workers finish
			}
			return ctx.Err()
		}
	}
}

// scanRow appends the pairs of row a of q with rows c0+j (j >= j0) of g
// whose dot products are in row and whose distance is within d. The test
// on the dot product is the distance's, rearranged so that the inner loop
// does one multiply-add and a compare; a pair that passes has its distance
// computed and checked in full.
func scanRow(out []edge, row []float32, j0, a, c0 int, q, g *table, gs []float32, metric string, d float32) []edge {
	switch metric {
	case vectorstore.MetricL2:
		qa := q.sq[a]
		for j := j0; j < len(row); j++ {
			if 2*row[j] >= qa+gs[c0+j] {
				if dist := float32(math.Sqrt(float64(max(qa+g.sq[c0+j]-2*row[j], 0)))); dist <= d {
					out = append(out, edge{int32(a), int32(c0 + j), dist})
				}
			}
		}
	case vectorstore.MetricCosine:
		qa := q.norms[a]
		for j := j0; j < len(row); j++ {
			if row[j] >= qa*gs[c0+j] {
				dist := float32(1)
				if nb := g.norms[c0+j]; qa != 0 && nb != 0 {
					dist = 1 - row[j]/(qa*nb)
				}
				if dist <= d {
					out = append(out, edge{int32(a), int32(c0 + j), dist})
				}
			}
		}
	default: // IP
		for j := j0; j < len(row); j++ {
			if -row[j] <= d {
				out = append(out, edge{int32(a), int32(c0 + j), -row[j]})
			}
		}
	}
	return out
}
