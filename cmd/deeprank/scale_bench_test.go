package main

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"testing"
	"time"

	"github.com/deeprank/deeprank/embedder"
	defaultmodel "github.com/deeprank/deeprank/models/default"
	"github.com/deeprank/deeprank/vectorstore"
	"github.com/deeprank/deeprank/vectorstore/embedded"
	"github.com/deeprank/deeprank/vectorstore/storetest"
)

// BenchmarkStoreScale measures the embedded store at 100,000 and 1,000,000
// images, each one random unit vector of the default model's size (385
// dimensions, 128 learned) (vectors=1, ingest.variants false) or as many as
// the default model stores an image (its own and its variants'), written
// through the store's API: upserts/s while writing them (batches of 1,000,
// compacting as it goes), the time to open the store and the collection,
// exact search (k = 10) in a process that stays open (ns/op, and p50/p99),
// and the whole `deeprank query` command, embedding a photo and searching:
// its wall time and peak RSS. The data lives in a temporary folder (its
// vectors alone 1.5 GB at a million images of one vector, 40.0 GB of
// twenty-six, and their int8 codes, which search scans, a quarter of that).
//
//	go test -run '^$' -bench StoreScale -benchtime 200x ./cmd/deeprank
func BenchmarkStoreScale(b *testing.B) {
	spec := defaultModelSpec(b)
	dir := b.TempDir()
	bin := buildBinary(b, dir)
	photo := filepath.Join(dir, "query.png")
	writeQueryImage(b, photo)
	m, err := defaultmodel.Load()
	if err != nil {
		b.Fatal(err)
	}
	upserts := map[vectorstore.Spec]map[int]float64{} // the framework runs each size more than once; fill once
	for _, n := range []int{100_000, 1_000_000} {
		for _, per := range []int{1, m.Spec.PerItem()} {
			spec := spec
			spec.Variants = per
			if upserts[spec] == nil {
				upserts[spec] = map[int]float64{}
			}
			b.Run(fmt.Sprintf("n=%d/vectors=%d", n, per), func(b *testing.B) {
				storeDir := filepath.Join(dir, fmt.Sprintf("%d-%d", n, per))
				if _, ok := upserts[spec][n]; !ok {
					upserts[spec][n] = fillRandom(b, storeDir, "bench", spec, n)
					debug.FreeOSMemory()
				}
				open := timeOpen(b, storeDir)
				wall, rss := timeQueryCommand(b, bin, storeDir, photo)

				s, err := embedded.Open(storeDir, &embedded.Options{ReadOnly: true})
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				c, err := s.Open(context.Background(), "bench")
				if err != nil {
					b.Fatal(err)
				}
				rng := rand.New(rand.NewPCG(9, uint64(n)))
				lat := make([]time.Duration, 0, b.N)
				b.ResetTimer()
				for range b.N {
					q := storetest.UnitVector(rng, spec.Dim)
					start := time.Now()
					hits, err := c.Search(context.Background(), spec.ModelVersion, q, 10, nil)
					lat = append(lat, time.Since(start))
					if err != nil || len(hits) != 10 {
						b.Fatalf("search: %d hits, %v", len(hits), err)
					}
				}
				b.StopTimer()
				slices.Sort(lat)
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "search-p50-ms")
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "search-p99-ms")
				b.ReportMetric(float64(open.Microseconds())/1000, "open-ms")
				b.ReportMetric(float64(wall.Milliseconds()), "query-cmd-ms")
				b.ReportMetric(float64(rss)/(1<<20), "query-cmd-rss-MB")
				b.ReportMetric(upserts[spec][n], "upserts/s")
			})
		}
	}
}

// fillRandom upserts items of random unit vectors of spec, in batches of 1,000,
// into collection name of the embedded store at dir (creating it if need
// be) until it holds n, and returns the upserts per second.
func fillRandom(tb testing.TB, dir, name string, spec vectorstore.Spec, n int) float64 {
	tb.Helper()
	ctx := context.Background()
	s, err := embedded.Open(dir, nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer s.Close()
	if err := s.Create(ctx, name, spec); err != nil && !errors.Is(err, vectorstore.ErrExists) {
		tb.Fatal(err)
	}
	c, err := s.Open(ctx, name)
	if err != nil {
		tb.Fatal(err)
	}
	have, err := c.Count(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, uint64(n)))
	const batch = 1000
	start := time.Now()
	for lo := have; lo < n; lo += batch {
		items := make([]vectorstore.Item, min(batch, n-lo))
		for i := range items {
			items[i] = vectorstore.Item{ID: storetest.ID(lo + i), Vector: storetest.UnitVectors(rng, spec.Dim, spec.PerItem()), Metadata: vectorstore.Metadata{
				Path: fmt.Sprintf("/photos/%07d.jpg", lo+i), Size: 1 << 20, Width: 4032, Height: 3024,
				ModTime: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Class: fmt.Sprintf("album%d", (lo+i)%50)}}
		}
		if err := c.Upsert(ctx, spec.ModelVersion, items); err != nil {
			tb.Fatal(err)
		}
	}
	if got, err := c.Count(ctx); err != nil || got != n {
		tb.Fatalf("collection %s holds %d vectors (%v), want %d", name, got, err, n)
	}
	return float64(n-have) / time.Since(start).Seconds()
}

// timeOpen is the median time to open the store and its collection and
// count it, as a query command does.
func timeOpen(b *testing.B, dir string) time.Duration {
	var times []time.Duration
	for range 7 {
		start := time.Now()
		s, err := embedded.Open(dir, &embedded.Options{ReadOnly: true})
		if err != nil {
			b.Fatal(err)
		}
		c, err := s.Open(context.Background(), "bench")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Count(context.Background()); err != nil {
			b.Fatal(err)
		}
		times = append(times, time.Since(start))
		s.Close()
	}
	slices.Sort(times)
	return times[len(times)/2]
}

// timeQueryCommand runs `deeprank query` over the store five times and
// returns the median wall time and the largest peak RSS (timeCommand).
func timeQueryCommand(b *testing.B, bin, dir, photo string) (time.Duration, int64) {
	var times []time.Duration
	var rss int64
	for range 5 {
		wall, peak, _ := timeCommand(b, bin, "query", "--collection", "bench", "--store-dir", dir, "--image", photo, "--top-k", "10")
		times = append(times, wall)
		rss = max(rss, peak)
	}
	slices.Sort(times)
	return times[len(times)/2], rss
}

func writeQueryImage(b *testing.B, path string) {
	img := image.NewRGBA(image.Rect(0, 0, 640, 480))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		b.Fatal(err)
	}
}

// defaultModelSpec is the spec of an L2 collection for the built-in
// default model, as ingest creates one with ingest.variants false: one
// vector an image (BenchmarkQuery in package ingest times the default's
// variants beside it).
func defaultModelSpec(tb testing.TB) vectorstore.Spec {
	m, err := defaultmodel.Load()
	if err != nil {
		tb.Fatal(err)
	}
	// The embedder's size, a thumbnail's (model.Spec.Thumbnail) included,
	// and its learned part, as ingest records them.
	e, err := embedder.New(m, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return vectorstore.Spec{Dim: e.Dim(), Metric: vectorstore.MetricL2, ModelVersion: e.ModelVersion(), Learned: e.Learned()}
}
