package jpegscale

import (
	"os"
	"testing"

	"github.com/deeprank/deeprank/internal/cputime"
	"github.com/deeprank/deeprank/internal/fixture"
)

// BenchmarkDecodeCamera decodes the 12 MP baseline 4:2:0 photos of
// scripts/fetch-camera-photos.sh at 1/8, as ingest does for the 64x64
// model, in place (DecodeBytes): the entropy decoder stepping over the
// luma AC codes is most of it. images/cpu-s counts against the process's
// CPU time, so that on a shared machine it is the rate of one core (run
// with -cpu 1); compare two builds alternated in one run.
//
//	go test -run '^$' -bench DecodeCamera -benchtime 24x -cpu 1 ./imageio/internal/jpegscale
func BenchmarkDecodeCamera(b *testing.B) {
	paths := fixture.CameraPhotos(b, "../../../data/camera", "420")
	var files [][]byte
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		files = append(files, data)
	}
	n := 0
	cpu0 := cputime.Seconds()
	for b.Loop() {
		if _, err := DecodeBytes(files[n%len(files)], 8); err != nil {
			b.Fatalf("%s: %v", paths[n%len(paths)], err)
		}
		n++
	}
	b.ReportMetric(float64(n)/(cputime.Seconds()-cpu0), "images/cpu-s")
}
