package integration

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/deeprank/deeprank/milvus"
	"github.com/deeprank/deeprank/milvus/milvusconfig"
	"github.com/deeprank/deeprank/vectorstore"
	"github.com/deeprank/deeprank/vectorstore/embedded"
	"github.com/deeprank/deeprank/vectorstore/storetest"
)

// BenchmarkStores measures, in one run, the embedded store and Milvus (in
// its container, default HNSW index) on the same vectors under the same
// metric (cosine, Milvus's default here): batched upserts (items/s, once)
// and then b.N queries (k = 10) at the full size, ns/op with p50 and p99.
// Each store holds items of one vector (vectors=1, ingest.variants false)
// and, in another collection, of seven (vectors=7: an own vector and six
// variants', the default model's when the README's figures were taken;
// today's stores twenty-six), every vector a random unit vector: a
// search reads seven times the vectors, and Milvus's asks for seven times
// the rows. On Milvus the queries run twice: at Strong consistency (the
// default: each waits for the server's next time tick) and at Bounded. The
// embedded store searches exactly: every query, an item's own vector, must
// find its item first. $DEEPRANK_BENCH_VECTORS sets the items (default
// 100000); run with -benchtime 300x:
//
//	go test ./integration -run XXX -bench Stores -benchtime 300x -timeout 60m
func BenchmarkStores(b *testing.B) {
	n := benchVectors()
	// The default model's of the README's figures: 128 dimensions, seven
	// vectors an image.
	const dim, metric, variants = 128, vectorstore.MetricCosine, 7
	ctx := context.Background()
	// bench creates a collection of one vector an item and one of
	// variants, upserts n items into each and hands each to query, with a
	// function that reports the upsert (and index) rate on a benchmark: a
	// benchmark with sub-benchmarks reports nothing itself.
	bench := func(b *testing.B, s vectorstore.Store, settle func(name string) error, query func(*testing.B, string, vectorstore.Collection, []vectorstore.Item, func(*testing.B))) {
		for _, per := range []int{1, variants} {
			b.Run(fmt.Sprintf("vectors=%d", per), func(b *testing.B) {
				name, spec := fmt.Sprintf("bench%d", per), vectorstore.Spec{Dim: dim, Metric: metric, ModelVersion: "bench"}
				if per > 1 {
					spec.Variants = per
				}
				items := unitItems(n, spec)
				start := time.Now()
				c := mustFill(b, s, name, spec, items)
				rate, index := float64(n)/time.Since(start).Seconds(), 0.0
				if settle != nil {
					start = time.Now()
					if err := settle(name); err != nil {
						b.Fatal(err)
					}
					index = time.Since(start).Seconds()
				}
				query(b, name, c, items, func(b *testing.B) {
					b.ReportMetric(rate, "upserts/s")
					if settle != nil {
						b.ReportMetric(index, "index-s")
					}
				})
			})
		}
	}
	b.Run("embedded", func(b *testing.B) {
		s, err := embedded.Open(b.TempDir(), nil)
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		bench(b, s, nil, func(b *testing.B, _ string, c vectorstore.Collection, items []vectorstore.Item, report func(*testing.B)) {
			measureQueries(b, c, dim, items, true)
			report(b) // after b.Loop, which clears the metrics
		})
	})
	b.Run("milvus", func(b *testing.B) {
		cfg, s := benchMilvus(b)
		settle := func(name string) error { return s.WaitIndexed(ctx, name) }
		bench(b, s, settle, func(b *testing.B, name string, c vectorstore.Collection, items []vectorstore.Item, report func(*testing.B)) {
			b.Run("strong", func(b *testing.B) {
				measureQueries(b, c, dim, items, false)
				report(b)
			})
			b.Run("bounded", func(b *testing.B) {
				measureQueries(b, openBounded(b, cfg, name), dim, items, false)
			})
		})
	})
}

// unitItems is n items of spec, each of its vectors a random unit vector.
func unitItems(n int, spec vectorstore.Spec) []vectorstore.Item {
	items := storetest.Items(n, spec.Dim, 1)
	rng := rand.New(rand.NewPCG(3, 3))
	for i := range items {
		items[i].Vector = append(items[i].Vector, storetest.UnitVectors(rng, spec.Dim, spec.PerItem()-1)...)
	}
	return items
}

// measureQueries searches b.N times for random stored items' own vectors
// (their first dim values) and reports the p50 and p99 latency and how
// often the item itself comes first, which must be always when the search
// is exact.
func measureQueries(b *testing.B, c vectorstore.Collection, dim int, items []vectorstore.Item, exact bool) {
	rng := rand.New(rand.NewPCG(2, 2))
	var lat []float64
	hits := 0
	for b.Loop() {
		want := rng.IntN(len(items))
		start := time.Now()
		res, err := c.Search(context.Background(), "bench", items[want].Vector[:dim], 10, nil)
		lat = append(lat, float64(time.Since(start).Microseconds())/1000)
		if err != nil {
			b.Fatal(err)
		}
		if len(res) > 0 && res[0].ID == items[want].ID {
			hits++
		}
	}
	slices.Sort(lat)
	b.ReportMetric(lat[len(lat)/2], "p50-ms")
	b.ReportMetric(lat[len(lat)*99/100], "p99-ms")
	b.ReportMetric(float64(hits)/float64(len(lat)), "self-recall@1")
	if exact && hits != len(lat) {
		b.Errorf("exact search found the query's own vector first in %d of %d queries", hits, len(lat))
	}
}

// benchVectors is how many vectors the benchmarks store:
// $DEEPRANK_BENCH_VECTORS, or 100,000.
func benchVectors() int {
	if n, err := strconv.Atoi(os.Getenv("DEEPRANK_BENCH_VECTORS")); err == nil && n > 0 {
		return n
	}
	return 100_000
}

// mustFill creates collection name of spec in s and upserts items into
// it, a thousand at a time.
func mustFill(b *testing.B, s vectorstore.Store, name string, spec vectorstore.Spec, items []vectorstore.Item) vectorstore.Collection {
	b.Helper()
	ctx := context.Background()
	if err := s.Create(ctx, name, spec); err != nil {
		b.Fatal(err)
	}
	c, err := s.Open(ctx, name)
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < len(items); i += 1000 {
		if err := c.Upsert(ctx, "bench", items[i:min(i+1000, len(items))]); err != nil {
			b.Fatal(err)
		}
	}
	return c
}

// benchMilvus starts a Milvus container for a benchmark and connects to
// it with calls that may take ten minutes (a bulk upsert, an index build);
// the connection closes when b ends.
func benchMilvus(b *testing.B) (milvusconfig.Config, *milvus.Store) {
	b.Helper()
	srv := startMilvus(b)
	srv.announce(b)
	cfg := srv.config(b)
	cfg.RequestTimeout = 10 * time.Minute
	s, err := milvus.Open(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return cfg, s
}

// openBounded opens collection name on the server of cfg at Bounded
// consistency (searches do not wait for the server's next time tick),
// until b ends.
func openBounded(b *testing.B, cfg milvusconfig.Config, name string) vectorstore.Collection {
	b.Helper()
	cfg.Consistency = "Bounded"
	s, err := milvus.Open(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	c, err := s.Open(context.Background(), name)
	if err != nil {
		b.Fatal(err)
	}
	return c
}
