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
	"github.com/deeprank/deeprank/vectorstore"
	"github.com/deeprank/deeprank/vectorstore/embedded"
	"github.com/deeprank/deeprank/vectorstore/storetest"
)

// BenchmarkStores measures, in one run, the embedded store and Milvus (in
// its container, default HNSW index) on the same vectors: batched upserts
// (vectors/s) and then queries (k = 10) at the full size, p50 and p99. On
// Milvus the queries run twice: at Strong consistency (the default: each
// waits for the server's next time tick) and at Bounded.
// $DEEPRANK_BENCH_VECTORS sets the size (default 100000); run with
// -benchtime 1x:
//
//	go test ./integration -run XXX -bench Stores -benchtime 1x
func BenchmarkStores(b *testing.B) {
	n := 100_000
	if s := os.Getenv("DEEPRANK_BENCH_VECTORS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	const dim, batch, queries = 128, 1000, 300
	items := storetest.Items(n, dim, 1)
	ctx := context.Background()
	bench := func(b *testing.B, s vectorstore.Store, metric vectorstore.Metric, settle func() error) {
		if err := s.Create(ctx, "bench", vectorstore.Spec{Dim: dim, Metric: metric, ModelVersion: "bench"}); err != nil {
			b.Fatal(err)
		}
		c, err := s.Open(ctx, "bench")
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		for i := 0; i < n; i += batch {
			if err := c.Upsert(ctx, "bench", items[i:min(i+batch, n)]); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(n)/time.Since(start).Seconds(), "upserts/s")
		if settle != nil {
			start = time.Now()
			if err := settle(); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(time.Since(start).Seconds(), "index-s")
		}
		measureQueries(b, c, items, queries, "")
	}
	b.Run("embedded", func(b *testing.B) {
		s, err := embedded.Open(b.TempDir(), nil)
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		bench(b, s, vectorstore.MetricL2, nil)
	})
	b.Run("milvus", func(b *testing.B) {
		srv := startMilvus(b)
		srv.announce(b)
		cfg := srv.config(b)
		cfg.RequestTimeout = 10 * time.Minute
		s, err := milvus.Open(ctx, cfg)
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		bench(b, s, vectorstore.MetricCosine, func() error { return s.WaitIndexed(ctx, "bench") })
		cfg.Consistency = "Bounded"
		bounded, err := milvus.Open(ctx, cfg)
		if err != nil {
			b.Fatal(err)
		}
		defer bounded.Close()
		c, err := bounded.Open(ctx, "bench")
		if err != nil {
			b.Fatal(err)
		}
		measureQueries(b, c, items, queries, "bounded-")
	})
}

// measureQueries searches for random stored vectors and reports the p50
// and p99 latency and how often the vector itself comes first.
func measureQueries(b *testing.B, c vectorstore.Collection, items []vectorstore.Item, queries int, prefix string) {
	rng := rand.New(rand.NewPCG(2, 2))
	lat := make([]float64, queries)
	hits := 0
	for i := range lat {
		want := rng.IntN(len(items))
		start := time.Now()
		res, err := c.Search(context.Background(), "bench", items[want].Vector, 10, nil)
		lat[i] = float64(time.Since(start).Microseconds()) / 1000
		if err != nil {
			b.Fatal(err)
		}
		if len(res) > 0 && res[0].ID == items[want].ID {
			hits++
		}
	}
	slices.Sort(lat)
	b.ReportMetric(lat[queries/2], prefix+"p50-ms")
	b.ReportMetric(lat[queries*99/100], prefix+"p99-ms")
	b.ReportMetric(float64(hits)/float64(queries), prefix+"self-recall@1")
}
