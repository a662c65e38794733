//go:build unix

package ingest

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
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
	return newDefaultEmbedder(b, &embedder.Options{Workers: workers})
}

func newDefaultEmbedder(b *testing.B, opts *embedder.Options) *embedder.Embedder {
	m, err := defaultmodel.Load()
	if err != nil {
		b.Fatal(err)
	}
	e, err := embedder.New(m, opts)
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
// decode, embed, upsert into the embedded store) in images/s, storing each
// image's own vector alone (ingest.variants: false) and the default
// model's vectors (its own and its variants'); compare with BenchmarkEmbed.
func BenchmarkIngest(b *testing.B) {
	paths := samplePhotos(b)
	for _, e := range []*embedder.Embedder{newDefaultEmbedder(b, &embedder.Options{OwnOnly: true}), defaultEmbedder(b, 0)} {
		b.Run(fmt.Sprintf("vectors=%d", e.PerItem()), func(b *testing.B) {
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
		})
	}
}

// BenchmarkQuery measures query latency (embed the query photo, then search
// the top 10) on an embedded collection of 100,000 images: p50 and p99,
// with each image's own vector alone (ingest.variants: false) and with
// the default model's vectors (its own and its variants').
func BenchmarkQuery(b *testing.B) {
	paths := samplePhotos(b)
	ctx := context.Background()
	for _, e := range []*embedder.Embedder{newDefaultEmbedder(b, &embedder.Options{OwnOnly: true}), defaultEmbedder(b, 0)} {
		b.Run(fmt.Sprintf("vectors=%d", e.PerItem()), func(b *testing.B) {
			s, c := mustCollection(b, b.TempDir(), e)
			defer s.Close()
			const n = 100_000
			for lo := 0; lo < n; lo += 5000 {
				items := storetest.VariantItems(5000, e.Dim(), e.PerItem(), uint64(lo))
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
		})
	}
}

// BenchmarkIngestMemory runs the real binary on 1,000 and on 10,000 images
// and reports each run's peak resident memory (MB). It fails when the
// larger run's peak passes the smaller's by more than a quarter and 16 MB:
// memory must not grow with the number of images.
func BenchmarkIngestMemory(b *testing.B) {
	dir := b.TempDir()
	bin := mustBuild(b, dir)
	peaks := map[int]float64{}
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("images=%d", n), func(b *testing.B) {
			images := filepath.Join(dir, fmt.Sprint(n))
			writeImages(b, images, n)
			peaks[n] = peakIngest(b, bin, images)
		})
	}
	if small, large := peaks[1000], peaks[10000]; small > 0 && large > small*1.25+16 {
		b.Errorf("peak resident memory grew with the images: %.0f MB for 1,000, %.0f MB for 10,000", small, large)
	}
}

// BenchmarkIngestLargePNGs runs the real binary, with two workers, on 20
// 16-bit RGB PNGs of 7000x7000 pixels (about 400 KB each, under the pixel
// limit, 588 MB each to decode) and reports its peak resident memory (MB),
// which the shared decode budget keeps under 1 GB (it fails above); without
// it each worker held 600 MB. It takes a minute or so: one iteration is
// enough.
func BenchmarkIngestLargePNGs(b *testing.B) {
	dir := b.TempDir()
	bin := mustBuild(b, dir)
	images := filepath.Join(dir, "large")
	writeLargePNGs(b, images, 20, 7000)
	if peak := peakIngest(b, bin, images, "--workers", "2"); peak > 1024 {
		b.Errorf("peak resident memory %.0f MB, over the 1 GB the decode budget should keep it under", peak)
	}
}

// mustBuild builds the deeprank binary into dir and returns its path.
func mustBuild(b *testing.B, dir string) string {
	bin := filepath.Join(dir, "deeprank")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/deeprank").CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// peakIngest ingests images with the binary bin and flags into a new store
// every iteration, and reports and returns the largest peak resident memory
// of a run, in MB.
func peakIngest(b *testing.B, bin, images string, flags ...string) float64 {
	var peak int64
	for b.Loop() {
		args := append([]string{"ingest", "--collection", "mem", "--store-dir", b.TempDir()}, flags...)
		cmd := exec.Command(bin, append(args, images)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%v\n%s", err, out)
		}
		peak = max(peak, cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss)
	}
	mb := float64(peak) / 1024
	b.ReportMetric(mb, "peak-MB")
	return mb
}

// gradient is a 16-bit RGB image computed pixel by pixel, so that encoding
// a large one holds no pixels.
type gradient int

func (g gradient) ColorModel() color.Model { return color.RGBA64Model }
func (g gradient) Bounds() image.Rectangle { return image.Rect(0, 0, int(g), int(g)) }
func (g gradient) Opaque() bool            { return true }
func (g gradient) At(x, y int) color.Color {
	return color.RGBA64{uint16(x * 9), uint16(y * 9), uint16(x + y), 0xFFFF}
}

// writeLargePNGs writes n distinct 16-bit RGB PNGs of size x size pixels
// into dir: one encoding, told apart by a text chunk each.
func writeLargePNGs(b *testing.B, dir string, n, size int) {
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, gradient(size)); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	iend := data[len(data)-12:]
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	for i := range n {
		text := fmt.Appendf([]byte("tEXt"), "Comment\x00copy %d", i)
		chunk := binary.BigEndian.AppendUint32(nil, uint32(len(text)-4))
		chunk = append(chunk, text...)
		chunk = binary.BigEndian.AppendUint32(chunk, crc32.ChecksumIEEE(text))
		file := slices.Concat(data[:len(data)-12], chunk, iend)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%02d.png", i)), file, 0o644); err != nil {
			b.Fatal(err)
		}
	}
}
