package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
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
// vector alone). Each photo is queried with its variants too
// (DEEPRANK_QUERY_VARIANTS=true, config's query.variants), side by side,
// the two taking turns to go first; their median and peak RSS are
// reported apart.
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
	// Each query's wall times and the largest peak RSS: [0] its own vector
	// alone, [1] with its variants.
	var times [2][]time.Duration
	var rss [2]int64
	query := func(photo string, variants int) {
		b.Setenv("DEEPRANK_QUERY_VARIANTS", strconv.FormatBool(variants == 1))
		wall, peak, out := timeCommand(b, bin, "query", "--collection", "bench", "--store-dir", storeDir, "--image", photo, "--top-k", "10")
		if len(out) == 0 {
			b.Fatalf("query %s printed nothing", photo)
		}
		times[variants] = append(times[variants], wall)
		rss[variants] = max(rss[variants], peak)
	}
	for b.Loop() {
		for i, photo := range photos {
			query(photo, i%2)
			query(photo, 1-i%2)
		}
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	for _, t := range times {
		slices.Sort(t)
	}
	median, slowest, withVariants := times[0][len(times[0])/2], times[0][len(times[0])-1], times[1][len(times[1])/2]
	b.ReportMetric(ms(median), "query-cmd-ms")
	b.ReportMetric(ms(slowest), "slowest-ms")
	b.ReportMetric(float64(rss[0])/(1<<20), "peak-MB")
	b.ReportMetric(ms(withVariants), "variants-ms")
	b.ReportMetric(float64(rss[1])/(1<<20), "variants-peak-MB")
	b.Logf("query --image on %d photos of 12 MP, %d runs, store of %d vectors: median %v, slowest %v; with its variants %v", len(photos), len(times[0]), n, median.Round(time.Millisecond), slowest.Round(time.Millisecond), withVariants.Round(time.Millisecond))
	fmt.Printf("query --image, 12 MP JPEG, %d vectors: median %.0f ms, slowest %.0f ms (%d runs), peak RSS %.0f MB; with its variants (query.variants): median %.0f ms, peak RSS %.0f MB\n",
		n, ms(median), ms(slowest), len(times[0]), float64(rss[0])/(1<<20), ms(withVariants), float64(rss[1])/(1<<20))
}
