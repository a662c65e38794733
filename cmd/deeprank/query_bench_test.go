package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/deeprank/deeprank/internal/fixture"
)

// BenchmarkQueryCamera times the whole `deeprank query --image` command on
// 12 MP JPEGs (4032x3024, baseline 4:2:0, from
// scripts/fetch-camera-photos.sh) against an embedded store of 10,000
// random vectors of the default model: process start, model load, decoding
// the photo, embedding it, opening the store and searching (k = 10). Each
// iteration runs the command once per photo; it reports the median and the
// slowest wall time, and the largest peak RSS. The target of issue 24 is
// under 150 ms for the whole command, as configured by default (its own
// vector alone). Each photo is queried once more with its views
// (DEEPRANK_QUERY_VIEWS=true, config's query.views), side by side.
// scripts/bench-camera.sh runs it.
//
//	go test -run '^$' -bench QueryCamera -benchtime 3x ./cmd/deeprank
func BenchmarkQueryCamera(b *testing.B) {
	photos := fixture.CameraPhotos(b, "../../data/camera", "420")
	spec := defaultModelSpec(b)
	tmp := b.TempDir()
	bin := buildBinary(b, tmp)
	storeDir := filepath.Join(tmp, "store")
	const n = 10_000
	fillRandom(b, storeDir, "bench", spec, n)
	var times, viewTimes []time.Duration
	var rss int64
	query := func(photo, views string) time.Duration {
		b.Setenv("DEEPRANK_QUERY_VIEWS", views)
		wall, peak, out := timeCommand(b, bin, "query", "--collection", "bench", "--store-dir", storeDir, "--image", photo, "--top-k", "10")
		if len(out) == 0 {
			b.Fatalf("query %s printed nothing", photo)
		}
		rss = max(rss, peak)
		return wall
	}
	for b.Loop() {
		for _, photo := range photos {
			times = append(times, query(photo, "false"))
			viewTimes = append(viewTimes, query(photo, "true"))
		}
	}
	slices.Sort(times)
	slices.Sort(viewTimes)
	median, slowest, views := times[len(times)/2], times[len(times)-1], viewTimes[len(viewTimes)/2]
	b.ReportMetric(float64(median.Microseconds())/1000, "query-cmd-ms")
	b.ReportMetric(float64(slowest.Microseconds())/1000, "slowest-ms")
	b.ReportMetric(float64(views.Microseconds())/1000, "views-ms")
	b.ReportMetric(float64(rss)/(1<<20), "peak-MB")
	b.Logf("query --image on %d photos of 12 MP, %d runs, store of %d vectors: median %v, slowest %v; with its views %v", len(photos), len(times), n, median.Round(time.Millisecond), slowest.Round(time.Millisecond), views.Round(time.Millisecond))
	fmt.Printf("query --image, 12 MP JPEG, %d vectors: median %.0f ms, slowest %.0f ms (%d runs), peak RSS %.0f MB; with its views (query.views): median %.0f ms\n",
		n, float64(median.Microseconds())/1000, float64(slowest.Microseconds())/1000, len(times), float64(rss)/(1<<20), float64(views.Microseconds())/1000)
}
