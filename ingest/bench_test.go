package ingest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/deeprank/deeprank/embedder"
	defaultmodel "github.com/deeprank/deeprank/models/default"
	"github.com/deeprank/deeprank/vectorstore/storetest"
)

// samplePhotos returns the quickstart's real photos (scripts/fetch-sample.sh).
func samplePhotos(b *testing.B) []string {
	paths, _ := filepath.Glob("../data/sample/*/*.jpg")
	if len(paths) < 50 {
		b.Skip("no sample photos: run scripts/fetch-sample.sh")
	}
	return paths
}

func defaultEmbedder(b *testing.B, workers int) *embedder.Embedder {
	m, err := defaultmodel.Load()
	if err != nil {
		b.Fatal(err)
	}
	e, err := embedder.New(m, &embedder.Options{Workers: workers})
	if err != nil {
		b.Fatal(err)
	}
	return e
}

// BenchmarkEmbed measures the default model's forward pass on one core and
// on all cores (images/s), and decoding plus forward pass on all cores, on
// the same decoded photos.
func BenchmarkEmbed(b *testing.B) {
	paths := samplePhotos(b)[:64]
	decode := func(e *embedder.Embedder) []*embedder.Input {
		var ins []*embedder.Input
		for _, p := range paths {
			data, err := os.ReadFile(p)
			if err != nil {
				b.Fatal(err)
			}
			in, err := e.Decode(data)
			if err != nil {
				b.Fatal(err)
			}
			ins = append(ins, in)
		}
		return ins
	}
	cores := runtime.GOMAXPROCS(0)
	for _, workers := range []int{1, cores} {
		b.Run(fmt.Sprintf("forward/workers=%d", workers), func(b *testing.B) {
			// One worker gets one core: the BLAS must not spread either.
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(workers))
			e := defaultEmbedder(b, workers)
			ins := decode(e)
			for b.Loop() {
				e.Embed(ins)
			}
			b.ReportMetric(float64(b.N*len(ins))/b.Elapsed().Seconds(), "images/s")
		})
	}
	b.Run(fmt.Sprintf("files/workers=%d", cores), func(b *testing.B) {
		e := defaultEmbedder(b, cores)
		for b.Loop() {
			if _, err := e.EmbedFiles(context.Background(), paths); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*len(paths))/b.Elapsed().Seconds(), "images/s")
	})
}

// BenchmarkIngest measures end-to-end ingestion of real photos (read, hash,
// decode, embed, upsert into the embedded store) in images/s; compare with
// BenchmarkEmbed.
func BenchmarkIngest(b *testing.B) {
	paths := samplePhotos(b)
	e := defaultEmbedder(b, 0)
	var images int
	for b.Loop() {
		b.StopTimer()
		s, c := mustCollection(b, b.TempDir(), e)
		b.StartTimer()
		sum, err := Run(context.Background(), e, c, []string{filepath.Dir(filepath.Dir(paths[0]))}, nil)
		if err != nil || sum.Failed > 0 {
			b.Fatal(err, sum)
		}
		images += sum.Ingested
		s.Close()
	}
	b.ReportMetric(float64(images)/b.Elapsed().Seconds(), "images/s")
}

// BenchmarkQuery measures query latency (embed the query photo, then search
// the top 10) on an embedded collection of 100,000 vectors: p50 and p99.
func BenchmarkQuery(b *testing.B) {
	paths := samplePhotos(b)
	e := defaultEmbedder(b, 0)
	s, c := mustCollection(b, b.TempDir(), e)
	defer s.Close()
	ctx := context.Background()
	const n = 100_000
	for lo := 0; lo < n; lo += 5000 {
		items := storetest.Items(5000, e.Dim(), uint64(lo))
		for i := range items {
			items[i].ID = storetest.ID(lo + i)
		}
		if err := c.Upsert(ctx, e.ModelVersion(), items); err != nil {
			b.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(1, 1))
	var lat []time.Duration
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		res, err := e.EmbedFiles(ctx, []string{paths[rng.IntN(len(paths))]})
		if err != nil || res[0].Err != nil {
			b.Fatal(err, res[0].Err)
		}
		if _, err := c.Search(ctx, e.ModelVersion(), res[0].Vector, 10, nil); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkIngestMemory runs the real binary on 1,000 and on 10,000 images
// and reports each run's peak resident memory (MB): it must not grow with
// the number of images.
func BenchmarkIngestMemory(b *testing.B) {
	dir := b.TempDir()
	bin := filepath.Join(dir, "deeprank")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/deeprank").CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("images=%d", n), func(b *testing.B) {
			images := filepath.Join(dir, fmt.Sprint(n))
			writeImages(b, images, n)
			var peak int64
			for b.Loop() {
				store := b.TempDir()
				cmd := exec.Command(bin, "ingest", "--collection", "mem", "--store-dir", store, images)
				if out, err := cmd.CombinedOutput(); err != nil {
					b.Fatalf("%v\n%s", err, out)
				}
				peak = max(peak, cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss)
			}
			b.ReportMetric(float64(peak)/1024, "peak-MB")
		})
	}
}
