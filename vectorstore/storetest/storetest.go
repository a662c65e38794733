// Package storetest is the conformance suite every vectorstore.Store
// implementation must pass: run it from the implementation's tests with a
// function that gives a fresh, empty store.
package storetest

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/deeprank/deeprank/vectorstore"
)

// ID returns the test item id for n: the hex SHA-256 of its decimal form.
func ID(n int) string {
	sum := sha256.Sum256([]byte(fmt.Sprint(n)))
	return hex.EncodeToString(sum[:])
}

// UnitVector draws a random vector of length 1, uniform in direction.
func UnitVector(rng *rand.Rand, dim int) []float32 {
	v := make([]float32, dim)
	var ss float64
	for j := range v {
		v[j] = float32(rng.NormFloat64())
		ss += float64(v[j]) * float64(v[j])
	}
	for j := range v {
		v[j] /= float32(math.Sqrt(ss))
	}
	return v
}

// UnitVectors is n random unit vectors of dim, one after another: an
// item's own vector and its variants'.
func UnitVectors(rng *rand.Rand, dim, n int) []float32 {
	v := make([]float32, 0, n*dim)
	for range n {
		v = append(v, UnitVector(rng, dim)...)
	}
	return v
}

// NearCopy returns a unit vector at a random distance up to r from the
// unit vector v (0.3 r to 0.9 r, in a random direction): a planted
// near-duplicate for the dupes benchmarks.
func NearCopy(rng *rand.Rand, v []float32, r float32) []float32 {
	u := UnitVector(rng, len(v))
	step := r * float32(0.3+0.6*rng.Float64())
	out := make([]float32, len(v))
	var ss float64
	for i := range v {
		out[i] = v[i] + step*u[i]
		ss += float64(out[i]) * float64(out[i])
	}
	for i := range out {
		out[i] /= float32(math.Sqrt(ss))
	}
	return out
}

// Items makes n items of dimension dim with unit-length random vectors;
// item i is in class "c<i%3>" and under path "dir<i%2>/".
func Items(n, dim int, seed uint64) []vectorstore.Item {
	rng := rand.New(rand.NewPCG(seed, 7))
	items := make([]vectorstore.Item, n)
	for i := range items {
		items[i] = vectorstore.Item{ID: ID(i), Vector: UnitVector(rng, dim), Metadata: vectorstore.Metadata{
			Path: fmt.Sprintf("dir%d/img%d.png", i%2, i), Size: int64(100 + i), Width: 64, Height: 48,
			ModTime: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Class: fmt.Sprintf("c%d", i%3)}}
	}
	return items
}

// VariantItems is Items with per vectors an item, of lengths 1, 2, 3...
// in turn, so that a metric that ignored them would rank wrongly.
func VariantItems(n, dim, per int, seed uint64) []vectorstore.Item {
	rng := rand.New(rand.NewPCG(seed, 8))
	items := Items(n, dim, seed)
	for i := range items {
		for j := 1; j < per; j++ {
			for _, x := range UnitVector(rng, dim) {
				items[i].Vector = append(items[i].Vector, x*float32(1+(i+j)%3))
			}
		}
	}
	return items
}

const (
	dim     = 16
	version = "model-a"
)

// Fresh makes a new, empty store location for one subtest and returns a
// function that opens it; the suite closes what it opens, and opens again
// to check what survives a reopen.
type Fresh func(t *testing.T) (open func() vectorstore.Store)

// Run runs the whole suite.
func Run(t *testing.T, fresh Fresh) {
	ctx := context.Background()
	spec := vectorstore.Spec{Dim: dim, Metric: vectorstore.MetricL2, ModelVersion: version}
	newStore := func(t *testing.T) vectorstore.Store {
		s := fresh(t)()
		t.Cleanup(func() { s.Close() })
		return s
	}
	open := func(t *testing.T, name string) (vectorstore.Store, vectorstore.Collection) {
		s := newStore(t)
		if err := s.Create(ctx, name, spec); err != nil {
			t.Fatal(err)
		}
		c, err := s.Open(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		return s, c
	}

	t.Run("Collections", func(t *testing.T) {
		s := newStore(t)
		defer s.Close()
		if err := s.Create(ctx, "alpha", spec); err != nil {
			t.Fatal(err)
		}
		if err := s.Create(ctx, "beta", vectorstore.Spec{Dim: 3, Metric: vectorstore.MetricCosine, ModelVersion: "b"}); err != nil {
			t.Fatal(err)
		}
		if err := s.Create(ctx, "alpha", spec); !errors.Is(err, vectorstore.ErrExists) {
			t.Errorf("create twice: err = %v, want ErrExists", err)
		}
		for _, bad := range []string{"", "1abc", "has space", "dash-ed", "../up"} {
			if err := s.Create(ctx, bad, spec); !errors.Is(err, vectorstore.ErrInvalid) {
				t.Errorf("create %q: err = %v, want ErrInvalid", bad, err)
			}
		}
		if _, err := s.Open(ctx, "missing"); !errors.Is(err, vectorstore.ErrNotFound) {
			t.Errorf("open missing: err = %v, want ErrNotFound", err)
		}
		infos, err := s.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(infos) != 2 || infos[0].Name != "alpha" || infos[1].Name != "beta" || infos[1].Dim != 3 || infos[1].ModelVersion != "b" || infos[1].Metric != vectorstore.MetricCosine {
			t.Fatalf("list = %+v", infos)
		}
		if err := s.Drop(ctx, "alpha"); err != nil {
			t.Fatal(err)
		}
		if err := s.Drop(ctx, "alpha"); !errors.Is(err, vectorstore.ErrNotFound) {
			t.Errorf("drop twice: err = %v, want ErrNotFound", err)
		}
		if infos, _ := s.List(ctx); len(infos) != 1 {
			t.Errorf("after drop: %+v", infos)
		}
	})

	t.Run("UpsertGetCount", func(t *testing.T) {
		_, c := open(t, "items")
		items := Items(50, dim, 1)
		if err := c.Upsert(ctx, version, items); err != nil {
			t.Fatal(err)
		}
		if n, _ := c.Count(ctx); n != 50 {
			t.Fatalf("count %d, want 50", n)
		}
		got, err := c.Get(ctx, []string{ID(7), ID(999), ID(3)})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].ID != ID(7) || got[1].ID != ID(3) {
			t.Fatalf("get returned %d items: %+v", len(got), got)
		}
		assertItem(t, got[0], items[7])
		has, err := c.Has(ctx, []string{ID(7), ID(999), ID(49)})
		if err != nil || !slices.Equal(has, []bool{true, false, true}) {
			t.Errorf("has = %v, %v; want [true false true]", has, err)
		}
		// Upserting again replaces, never duplicates.
		again := Items(10, dim, 2)
		for i := range again {
			again[i].Metadata.Path = "moved/" + again[i].Metadata.Path
		}
		if err := c.Upsert(ctx, version, again); err != nil {
			t.Fatal(err)
		}
		if n, _ := c.Count(ctx); n != 50 {
			t.Fatalf("count after re-upsert %d, want 50", n)
		}
		got, _ = c.Get(ctx, []string{ID(4)})
		assertItem(t, got[0], again[4])
		info, _ := c.Info(ctx)
		if info.Count != 50 || info.Dim != dim || info.ModelVersion != version {
			t.Errorf("info %+v", info)
		}
	})

	t.Run("Search", func(t *testing.T) {
		_, c := open(t, "search")
		items := Items(200, dim, 3)
		if err := c.Upsert(ctx, version, items); err != nil {
			t.Fatal(err)
		}
		hits, err := c.Search(ctx, version, items[42].Vector, 5, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(hits) != 5 || hits[0].ID != ID(42) || hits[0].Distance > 1e-3 || hits[0].Metadata.Path != items[42].Metadata.Path {
			t.Fatalf("search for item 42: %+v", hits)
		}
		for i := 1; i < len(hits); i++ {
			if hits[i].Distance < hits[i-1].Distance {
				t.Fatalf("hits not nearest first: %+v", hits)
			}
		}
		// Distances are Euclidean, checked against brute force.
		want := math.Sqrt(sqDist(items[42].Vector, vectorOf(items, hits[1].ID)))
		if math.Abs(float64(hits[1].Distance)-want) > 1e-3 {
			t.Errorf("distance %g, want Euclidean %g", hits[1].Distance, want)
		}
		best := nearest(items, items[42].Vector, nil)
		if hits[1].ID != best[1] {
			t.Errorf("second hit %s, brute force says %s", hits[1].ID, best[1])
		}
		filters := []struct {
			name   string
			filter vectorstore.Filter
			k      int
		}{
			{"class", vectorstore.Filter{Classes: []string{"c1"}}, 10},
			{"path prefix", vectorstore.Filter{PathPrefixes: []string{"dir0/"}}, 10},
			{"both", vectorstore.Filter{Classes: []string{"c2"}, PathPrefixes: []string{"dir1/"}}, 10},
			{"any of two classes", vectorstore.Filter{Classes: []string{"c0", "c2"}}, 10},
			{"any of two prefixes", vectorstore.Filter{PathPrefixes: []string{"dir0/img1", "dir1/img3"}}, 10},
			{"all that match", vectorstore.Filter{Classes: []string{"c1"}, PathPrefixes: []string{"dir0/img1"}}, 200},
			{"none match", vectorstore.Filter{Classes: []string{"nope"}}, 10},
		}
		for _, tc := range filters {
			hits, err := c.Search(ctx, version, items[0].Vector, tc.k, &tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			wantIDs := nearest(items, items[0].Vector, &tc.filter)
			wantIDs = wantIDs[:min(tc.k, len(wantIDs))]
			if len(hits) != len(wantIDs) {
				t.Fatalf("filter %s: %d hits, want %d", tc.name, len(hits), len(wantIDs))
			}
			for i, h := range hits {
				if !tc.filter.Match(h.Metadata) || h.ID != wantIDs[i] {
					t.Fatalf("filter %s: hit %d = %s (%+v), want %s", tc.name, i, h.ID, h.Metadata, wantIDs[i])
				}
			}
		}
		if hits, _ := c.Search(ctx, version, items[0].Vector, 1000, nil); len(hits) != 200 {
			t.Errorf("k over the count gave %d hits, want 200", len(hits))
		}
		if _, err := c.Search(ctx, version, items[0].Vector, 0, nil); !errors.Is(err, vectorstore.ErrInvalid) {
			t.Errorf("k = 0: err = %v, want ErrInvalid", err)
		}
	})

	t.Run("ModelMismatch", func(t *testing.T) {
		_, c := open(t, "mismatch")
		items := Items(3, dim, 4)
		if err := c.Upsert(ctx, "model-b", items); !errors.Is(err, vectorstore.ErrModelMismatch) {
			t.Errorf("upsert of another model: err = %v, want ErrModelMismatch", err)
		}
		short := Items(1, dim-1, 4)
		if err := c.Upsert(ctx, version, short); !errors.Is(err, vectorstore.ErrModelMismatch) {
			t.Errorf("upsert of another dimension: err = %v, want ErrModelMismatch", err)
		}
		if _, err := c.Search(ctx, "model-b", items[0].Vector, 3, nil); !errors.Is(err, vectorstore.ErrModelMismatch) {
			t.Errorf("search with another model: err = %v, want ErrModelMismatch", err)
		}
		if n, _ := c.Count(ctx); n != 0 {
			t.Errorf("refused upserts stored %d items", n)
		}
		bad := Items(1, dim, 4)
		bad[0].ID = "not-a-hash"
		if err := c.Upsert(ctx, version, bad); !errors.Is(err, vectorstore.ErrInvalid) {
			t.Errorf("bad id: err = %v, want ErrInvalid", err)
		}
	})

	t.Run("Rebuild", func(t *testing.T) {
		s, c := open(t, "rebuilt")
		if err := c.Upsert(ctx, version, Items(20, dim, 6)); err != nil {
			t.Fatal(err)
		}
		// The new spec records a learned part, which the rebuilt
		// collection keeps.
		next := vectorstore.Spec{Dim: dim + 2, Metric: vectorstore.MetricL2, ModelVersion: "model-b", Learned: dim}
		assertSpec := func(when string, want vectorstore.Spec) {
			t.Helper()
			c, err := s.Open(ctx, "rebuilt")
			if err != nil {
				t.Fatalf("%s: %v", when, err)
			}
			info, err := c.Info(ctx)
			if err != nil || info.Spec != want || info.Count != 20 {
				t.Fatalf("%s: info %+v (%v), want %+v with 20 items", when, info, err, want)
			}
		}
		boom := errors.New("boom")
		err := s.Rebuild(ctx, "rebuilt", next, func(ctx context.Context, nc vectorstore.Collection) error {
			if err := nc.Upsert(ctx, "model-b", Items(3, dim+2, 7)); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("failed fill: err = %v, want boom", err)
		}
		assertSpec("after a failed rebuild", spec)
		fresh := Items(20, dim+2, 8)
		err = s.Rebuild(ctx, "rebuilt", next, func(ctx context.Context, nc vectorstore.Collection) error {
			assertSpec("during the rebuild", spec)
			return nc.Upsert(ctx, "model-b", fresh)
		})
		if err != nil {
			t.Fatal(err)
		}
		assertSpec("after the rebuild", next)
		nc, _ := s.Open(ctx, "rebuilt")
		if hits, err := nc.Search(ctx, "model-b", fresh[3].Vector, 1, nil); err != nil || len(hits) != 1 || hits[0].ID != ID(3) {
			t.Errorf("search after rebuild: %+v, %v", hits, err)
		}
		if infos, _ := s.List(ctx); len(infos) != 1 || infos[0].Name != "rebuilt" {
			t.Errorf("list after rebuild: %+v", infos)
		}
		if err := s.Rebuild(ctx, "missing", next, func(context.Context, vectorstore.Collection) error { return nil }); !errors.Is(err, vectorstore.ErrNotFound) {
			t.Errorf("rebuild of a missing collection: err = %v, want ErrNotFound", err)
		}
	})

	t.Run("DeleteScan", func(t *testing.T) {
		_, c := open(t, "deletes")
		items := Items(30, dim, 5)
		if err := c.Upsert(ctx, version, items); err != nil {
			t.Fatal(err)
		}
		if err := c.Delete(ctx, []string{ID(0), ID(5), ID(12345)}); err != nil {
			t.Fatal(err)
		}
		if n, _ := c.Count(ctx); n != 28 {
			t.Fatalf("count after delete %d, want 28", n)
		}
		if got, _ := c.Get(ctx, []string{ID(5)}); len(got) != 0 {
			t.Errorf("deleted item still there")
		}
		seen := map[string]bool{}
		if err := c.Scan(ctx, func(it vectorstore.Item) error {
			if seen[it.ID] || len(it.Vector) != dim {
				return fmt.Errorf("bad scan item %s", it.ID)
			}
			seen[it.ID] = true
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(seen) != 28 || seen[ID(0)] {
			t.Errorf("scan saw %d items", len(seen))
		}
		hits, _ := c.Search(ctx, version, items[5].Vector, 1, nil)
		if len(hits) == 1 && hits[0].ID == ID(5) {
			t.Error("search found a deleted item")
		}
	})

	t.Run("Metrics", func(t *testing.T) {
		s := newStore(t)
		// Vectors of three lengths, so that the metrics rank differently.
		items := Items(60, dim, 9)
		for i, it := range items {
			for j := range it.Vector {
				it.Vector[j] *= float32(1 + i%3)
			}
		}
		for _, metric := range []vectorstore.Metric{vectorstore.MetricL2, vectorstore.MetricCosine, vectorstore.MetricIP} {
			t.Run(string(metric), func(t *testing.T) {
				name := "metric_" + string(metric)
				ms := vectorstore.Spec{Dim: dim, Metric: metric, ModelVersion: version}
				if err := s.Create(ctx, name, ms); err != nil {
					t.Fatal(err)
				}
				c, err := s.Open(ctx, name)
				if err != nil {
					t.Fatal(err)
				}
				if err := c.Upsert(ctx, version, items); err != nil {
					t.Fatal(err)
				}
				checkTop10(t, c, items, items[0].Vector, metric, "query item 0")
				// A unit vector's distance to itself: 0 for L2 and cosine, -1
				// for the inner product.
				self := map[vectorstore.Metric]float64{vectorstore.MetricL2: 0, vectorstore.MetricCosine: 0, vectorstore.MetricIP: -1}[metric]
				hits, _ := c.Search(ctx, version, items[3].Vector, len(items), nil)
				i := slices.IndexFunc(hits, func(h vectorstore.Hit) bool { return h.ID == ID(3) })
				if i < 0 || math.Abs(float64(hits[i].Distance)-self) > 1e-4 {
					t.Errorf("a unit vector's own distance: %+v, want %g", hits[max(i, 0)], self)
				}
			})
		}
	})

	t.Run("Variants", func(t *testing.T) {
		const per = 3
		for _, metric := range []vectorstore.Metric{vectorstore.MetricL2, vectorstore.MetricCosine, vectorstore.MetricIP} {
			t.Run(string(metric), func(t *testing.T) {
				openIt := fresh(t)
				s := openIt()
				vs := vectorstore.Spec{Dim: dim, Metric: metric, ModelVersion: version, Variants: per}
				if err := s.Create(ctx, "variants", vs); err != nil {
					t.Fatal(err)
				}
				c, err := s.Open(ctx, "variants")
				if err != nil {
					t.Fatal(err)
				}
				items := VariantItems(50, dim, per, 12)
				if err := c.Upsert(ctx, version, items); err != nil {
					t.Fatal(err)
				}
				if err := c.Upsert(ctx, version, Items(1, dim, 1)); !errors.Is(err, vectorstore.ErrModelMismatch) {
					t.Errorf("upsert of one vector an item: %v, want ErrModelMismatch", err)
				}
				if _, err := c.Search(ctx, version, items[0].Vector, 3, nil); !errors.Is(err, vectorstore.ErrModelMismatch) {
					t.Errorf("search with a whole item as the query: %v, want ErrModelMismatch", err)
				}
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				s = openIt()
				defer s.Close()
				if c, err = s.Open(ctx, "variants"); err != nil {
					t.Fatal(err)
				}
				info, err := c.Info(ctx)
				if err != nil || info.Spec != vs || info.Count != len(items) {
					t.Fatalf("info %+v, %v; want spec %+v and %d items", info, err, vs, len(items))
				}
				got, err := c.Get(ctx, []string{ID(7)})
				if err != nil || len(got) != 1 || !slices.Equal(got[0].Vector, items[7].Vector) {
					t.Fatalf("get: %d items, %v; want item 7 with its %d vectors", len(got), err, per)
				}
				// A query made from any of an item's vectors finds it
				// first, and the ranking is by each item's nearest vector.
				rng := rand.New(rand.NewPCG(13, 7))
				for _, x := range []int{3, 17, 41} {
					j := x % per
					q := NearCopy(rng, items[x].Vector[j*dim:(j+1)*dim], 0.05)
					checkTop10(t, c, items, q, metric, fmt.Sprintf("query near item %d's vector %d", x, j))
				}
				if err := c.Delete(ctx, []string{ID(3)}); err != nil {
					t.Fatal(err)
				}
				if n, err := c.Count(ctx); err != nil || n != len(items)-1 {
					t.Errorf("count after a delete: %d, %v", n, err)
				}
				scanned := 0
				if err := c.Scan(ctx, func(it vectorstore.Item) error {
					scanned++
					if len(it.Vector) != per*dim {
						return fmt.Errorf("scan: item %s has %d values", it.ID, len(it.Vector))
					}
					return nil
				}); err != nil || scanned != len(items)-1 {
					t.Errorf("scan saw %d items, %v", scanned, err)
				}
			})
		}
	})

	t.Run("Learned", func(t *testing.T) {
		// A collection's learned part (Spec.Learned) survives a reopen,
		// with one vector an item and with several; a learned part as long
		// as the vector is refused.
		openIt := fresh(t)
		s := openIt()
		specs := map[string]vectorstore.Spec{
			"learned":          {Dim: dim, Metric: vectorstore.MetricCosine, ModelVersion: version, Learned: dim - 4},
			"learned_variants": {Dim: dim, Metric: vectorstore.MetricL2, ModelVersion: version, Variants: 3, Learned: 2},
		}
		for name, ls := range specs {
			if err := s.Create(ctx, name, ls); err != nil {
				t.Fatal(err)
			}
			c, err := s.Open(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Upsert(ctx, version, VariantItems(20, dim, ls.PerItem(), 14)); err != nil {
				t.Fatal(err)
			}
		}
		whole := vectorstore.Spec{Dim: dim, Metric: vectorstore.MetricL2, ModelVersion: version, Learned: dim}
		if err := s.Create(ctx, "learned_whole", whole); !errors.Is(err, vectorstore.ErrInvalid) {
			t.Errorf("create with all %d values learned: err = %v, want ErrInvalid (that is Learned 0)", dim, err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s = openIt()
		defer s.Close()
		for name, ls := range specs {
			c, err := s.Open(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			if info, err := c.Info(ctx); err != nil || info.Spec != ls || info.Count != 20 {
				t.Errorf("%s after reopen: info %+v, %v; want spec %+v and 20 items", name, info, err, ls)
			}
		}
	})

	t.Run("Reopen", func(t *testing.T) {
		openIt := fresh(t)
		s := openIt()
		if err := s.Create(ctx, "durable", spec); err != nil {
			t.Fatal(err)
		}
		c, _ := s.Open(ctx, "durable")
		items := Items(40, dim, 10)
		if err := c.Upsert(ctx, version, items); err != nil {
			t.Fatal(err)
		}
		if err := c.Delete(ctx, []string{ID(1), ID(2)}); err != nil {
			t.Fatal(err)
		}
		moved := Items(5, dim, 11)[3:] // items 3 and 4, new vectors
		if err := c.Upsert(ctx, version, moved); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s = openIt()
		defer s.Close()
		c, err := s.Open(ctx, "durable")
		if err != nil {
			t.Fatal(err)
		}
		if n, _ := c.Count(ctx); n != 38 {
			t.Errorf("count after reopen %d, want 38", n)
		}
		if got, _ := c.Get(ctx, []string{ID(1), ID(2)}); len(got) != 0 {
			t.Errorf("deleted items back after reopen: %d", len(got))
		}
		got, _ := c.Get(ctx, []string{ID(4), ID(30)})
		if len(got) != 2 {
			t.Fatalf("get after reopen: %d items", len(got))
		}
		assertItem(t, got[0], moved[1])
		assertItem(t, got[1], items[30])
		if hits, _ := c.Search(ctx, version, items[30].Vector, 1, nil); len(hits) != 1 || hits[0].ID != ID(30) {
			t.Errorf("search after reopen: %+v", hits)
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		_, c := open(t, "busy")
		items := Items(120, dim, 12)
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		for w := range 4 {
			wg.Add(2)
			go func() { // a writer of its own 30 items, in batches of 5
				defer wg.Done()
				for lo := 30 * w; lo < 30*(w+1); lo += 5 {
					if err := c.Upsert(ctx, version, items[lo:lo+5]); err != nil {
						errs <- err
						return
					}
				}
			}()
			go func() { // a reader
				defer wg.Done()
				for range 10 {
					if _, err := c.Search(ctx, version, items[w].Vector, 3, nil); err != nil {
						errs <- err
						return
					}
					if _, err := c.Get(ctx, []string{ID(w)}); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if n, _ := c.Count(ctx); n != 120 {
			t.Errorf("count after concurrent upserts %d, want 120", n)
		}
	})
}

func assertItem(t *testing.T, got, want vectorstore.Item) {
	t.Helper()
	if got.ID != want.ID || got.Metadata.Path != want.Metadata.Path || got.Metadata.Class != want.Metadata.Class ||
		got.Metadata.Size != want.Metadata.Size || got.Metadata.Width != want.Metadata.Width || !got.Metadata.ModTime.Equal(want.Metadata.ModTime) {
		t.Errorf("item %s = %+v, want %+v", want.ID, got.Metadata, want.Metadata)
	}
	for i, v := range want.Vector {
		if math.Abs(float64(got.Vector[i]-v)) > 1e-6 {
			t.Errorf("item %s vector[%d] = %g, want %g", want.ID, i, got.Vector[i], v)
			return
		}
	}
}

func sqDist(a, b []float32) float64 {
	var s float64
	for i := range a {
		d := float64(a[i] - b[i])
		s += d * d
	}
	return s
}

func vectorOf(items []vectorstore.Item, id string) []float32 {
	for _, it := range items {
		if it.ID == id {
			return it.Vector
		}
	}
	return nil
}

// nearest ranks items by brute force.
func nearest(items []vectorstore.Item, q []float32, f *vectorstore.Filter) []string {
	type d struct {
		id string
		d  float64
	}
	var ds []d
	for _, it := range items {
		if f.Match(it.Metadata) {
			ds = append(ds, d{it.ID, sqDist(q, it.Vector)})
		}
	}
	for i := 1; i < len(ds); i++ {
		for j := i; j > 0 && ds[j].d < ds[j-1].d; j-- {
			ds[j], ds[j-1] = ds[j-1], ds[j]
		}
	}
	ids := make([]string, len(ds))
	for i := range ds {
		ids[i] = ds[i].id
	}
	return ids
}

// checkTop10 searches c for the 10 nearest items to q and checks them,
// and their distances, against brute force over items.
func checkTop10(t *testing.T, c vectorstore.Collection, items []vectorstore.Item, q []float32, metric vectorstore.Metric, query string) {
	t.Helper()
	hits, err := c.Search(context.Background(), version, q, 10, nil)
	if err != nil || len(hits) != 10 {
		t.Fatalf("%s: %d hits, %v", query, len(hits), err)
	}
	want := rank(items, q, metric)
	for i, h := range hits {
		if h.ID != want[i].id || math.Abs(float64(h.Distance)-want[i].d) > 1e-3 {
			t.Fatalf("%s: hit %d is %s at %g, want %s at %g", query, i, h.ID[:8], h.Distance, want[i].id[:8], want[i].d)
		}
	}
}

type ranked struct {
	id string
	d  float64
}

// rank orders items by brute force under a metric, with the distances a
// store reports: Euclidean, 1 - cosine, or the negated inner product, of
// each item's nearest vector.
func rank(items []vectorstore.Item, q []float32, metric vectorstore.Metric) []ranked {
	out := make([]ranked, len(items))
	for i, it := range items {
		out[i] = ranked{it.ID, math.Inf(1)}
		for at := 0; at < len(it.Vector); at += len(q) {
			v := it.Vector[at : at+len(q)]
			var dot, qq, vv float64
			for j := range q {
				dot += float64(q[j]) * float64(v[j])
				qq += float64(q[j]) * float64(q[j])
				vv += float64(v[j]) * float64(v[j])
			}
			d := -dot
			switch metric {
			case vectorstore.MetricL2:
				d = math.Sqrt(sqDist(q, v))
			case vectorstore.MetricCosine:
				d = 1 - dot/math.Sqrt(qq*vv)
			}
			out[i].d = min(out[i].d, d)
		}
	}
	slices.SortStableFunc(out, func(a, b ranked) int { return cmp.Compare(a.d, b.d) })
	return out
}
