package integration

import (
	"context"
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
// metric (cosine, Milvus's default here): batched upserts (vectors/s, once)
// and then b.N queries (k = 10) at the full size, ns/op with p50 and p99.
// On Milvus the queries run twice: at Strong consistency (the default: each
// waits for the server's next time tick) and at Bounded. The embedded
// store searches exactly: every query must find its own vector first.
// $DEEPRANK_BENCH_VECTORS sets the size (default 100000); run with
// -benchtime 300x:
//
//	go test ./integration -run XXX -bench Stores -benchtime 300x
func BenchmarkStores(b *testing.B) {
	n := benchVectors()
	const dim, metric = 128, vectorstore.MetricCosine
	items := storetest.Items(n, dim, 1)
	ctx := context.Background()
	// bench creates the collection, upserts every item and hands it to
	// query, with a function that reports the upsert (and index) rate on a
	// benchmark: a benchmark with sub-benchmarks reports nothing itself.
	bench := func(b *testing.B, s vectorstore.Store, settle func() error, query func(*testing.B, vectorstore.Collection, func(*testing.B))) {
		start := time.Now()
		c := mustFill(b, s, metric, items)
		rate, index := float64(n)/time.Since(start).Seconds(), 0.0
		if settle != nil {
			start = time.Now()
			if err := settle(); err != nil {
				b.Fatal(err)
			}
			index = time.Since(start).Seconds()
		}
		query(b, c, func(b *testing.B) {
			b.ReportMetric(rate, "upserts/s")
			if settle != nil {
				b.ReportMetric(index, "index-s")
			}
		})
	}
	b.Run("embedded", func(b *testing.B) {
		s, err := embedded.Open(b.TempDir(), nil)
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		bench(b, s, nil, func(b *testing.B, c vectorstore.Collection, report func(*testing.B)) {
			measureQueries(b, c, items, true)
			report(b) // after b.Loop, which clears the metrics
		})
	})
	b.Run("milvus", func(b *testing.B) {
		cfg, s := benchMilvus(b)
		bench(b, s, func() error { return s.WaitIndexed(ctx, "bench") }, func(b *testing.B, c vectorstore.Collection, report func(*testing.B)) {
			b.Run("strong", func(b *testing.B) {
				measureQueries(b, c, items, false)
				report(b)
			})
			b.Run("bounded", func(b *testing.B) {
				measureQueries(b, openBounded(b, cfg), items, false)
			})
		})
	})
}

// measureQueries searches b.N times for random stored vectors and reports
// the p50 and p99 latency and how often the vector itself comes first,
// which must be always when the search is exact.
func measureQueries(b *testing.B, c vectorstore.Collection, items []vectorstore.Item, exact bool) {
	rng := rand.New(rand.NewPCG(2, 2))
	var lat []float64
	hits := 0
	for b.Loop() {
		want := rng.IntN(len(items))
		start := time.Now()
		res, err := c.Search(context.Background(), "bench", items[want].Vector, 10, nil)
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

// mustFill creates collection "bench" in s, of model "bench" under metric,
// and upserts items into it, a thousand at a time.
func mustFill(b *testing.B, s vectorstore.Store, metric vectorstore.Metric, items []vectorstore.Item) vectorstore.Collection {
	b.Helper()
	ctx := context.Background()
	if err := s.Create(ctx, "bench", vectorstore.Spec{Dim: len(items[0].Vector), Metric: metric, ModelVersion: "bench"}); err != nil {
		b.Fatal(err)
	}
	c, err := s.Open(ctx, "bench")
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

// openBounded opens collection "bench" on the server of cfg at Bounded
// consistency (searches do not wait for the server's next time tick),
// until b ends.
func openBounded(b *testing.B, cfg milvusconfig.Config) vectorstore.Collection {
	b.Helper()
	cfg.Consistency = "Bounded"
	s, err := milvus.Open(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	c, err := s.Open(context.Background(), "bench")
	if err != nil {
		b.Fatal(err)
	}
	return c
}
