package eval

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/deeprank/deeprank/embedder"
	"github.com/deeprank/deeprank/model"
)

// writeSet writes a gallery of n one-image classes and a query folder with
// a copy of each under dir, and returns the spec reading them. Image i is
// 24+12i pixels wide and 24 high: each of its own shape.
func writeSet(t *testing.T, dir string, n int) SetSpec {
	t.Helper()
	for i := range n {
		w := 24 + 12*i
		img := image.NewRGBA(image.Rect(0, 0, w, 24))
		for y := range 24 {
			for x := range w {
				img.SetRGBA(x, y, color.RGBA{uint8(x * 10 * (i + 1)), uint8(y * 9), uint8(60 * i), 255})
			}
		}
		var buf bytes.Buffer
		if err := png.Encode(&buf, img); err != nil {
			t.Fatal(err)
		}
		class := string(rune('a' + i))
		for _, side := range []string{"gallery", "queries"} {
			if err := os.MkdirAll(filepath.Join(dir, side, class), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, side, class, "x.png"), buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return SetSpec{Queries: filepath.Join(dir, "queries"), Gallery: filepath.Join(dir, "gallery")}
}

// randomModel is the default spec with seeded random weights.
func randomModel(t *testing.T) *model.Model {
	t.Helper()
	m, err := model.New(model.DefaultSpec(), model.UnitNormalization())
	if err != nil {
		t.Fatal(err)
	}
	m.Initialize(1)
	return m
}

// TestRunCache checks that sets sharing a gallery get the same report with
// a cache as without, and that the cache spares decoding the gallery again.
func TestRunCache(t *testing.T) {
	m := randomModel(t)
	dir := t.TempDir()
	spec := writeSet(t, dir, 4)
	set, err := spec.Build(1)
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Models: []NamedModel{{Name: "model", Model: m}}}
	want, err := Run(context.Background(), set, opts)
	if err != nil {
		t.Fatal(err)
	}
	opts.Cache = NewCache()
	for run := range 2 {
		got, err := Run(context.Background(), set, opts)
		if err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("run %d with the cache: %+v, want %+v", run, got, want)
		}
		// The second run must not need the files: it reads the cache.
		if err := os.RemoveAll(filepath.Join(dir, "gallery")); err != nil {
			t.Fatal(err)
		}
		if err := os.RemoveAll(filepath.Join(dir, "queries")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Run(context.Background(), set, Options{Models: opts.Models}); err == nil {
		t.Error("without the cache, a run on deleted files succeeded: the test proves nothing")
	}
}

// TestThresholdsCompareLearned: the copy-detection thresholds of a model
// with a thumbnail or an aspect value are those of the same model without
// them, as deeprank dupes compares the learned part alone; queries are
// mirror images of the gallery's, which move a thumbnail, and the images'
// shapes differ, which sets their aspect values apart.
func TestThresholdsCompareLearned(t *testing.T) {
	dir := t.TempDir()
	spec := writeSet(t, dir, 5)
	paths, _ := filepath.Glob(filepath.Join(dir, "queries", "*", "x.png"))
	for _, p := range paths {
		f, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(f))
		if err != nil {
			t.Fatal(err)
		}
		b := img.Bounds()
		mirror := image.NewRGBA(b)
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				mirror.Set(b.Max.X-1-(x-b.Min.X), y, img.At(x, y))
			}
		}
		var buf bytes.Buffer
		if err := png.Encode(&buf, mirror); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	set, err := spec.Build(1)
	if err != nil {
		t.Fatal(err)
	}
	learned := randomModel(t)
	thumbed := *learned
	thumbed.Spec.Thumbnail = &model.Thumbnail{Side: 8, Weight: 0.3}
	// A fine sweep, so that any pair's distance that moved shows.
	at := make([]float64, 2000)
	for i := range at {
		at[i] = float64(i) / 1000
	}
	opts := &ThresholdOptions{Target: 0.5, At: at}
	thresholds := func(m *model.Model) *Thresholds {
		rep, err := Run(context.Background(), set, Options{Models: []NamedModel{{Name: "model", Model: m}}, Thresholds: opts})
		if err != nil {
			t.Fatal(err)
		}
		return rep.Results[0].CopyDetection
	}
	aspect, both := *learned, thumbed
	aspect.Spec.AspectWeight, both.Spec.AspectWeight = 2, 2
	want := thresholds(learned)
	for name, m := range map[string]*model.Model{"a thumbnail": &thumbed, "an aspect value": &aspect, "both": &both} {
		got := thresholds(m)
		if want == nil || got == nil {
			t.Fatal("no copy-detection report")
		}
		for i, p := range want.Sweep {
			if q := got.Sweep[i]; q.Precision != p.Precision || q.Recall != p.Recall {
				t.Fatalf("at distance %g: precision %g, recall %g with %s; %g, %g without", p.Distance, q.Precision, q.Recall, name, p.Precision, p.Recall)
			}
		}
	}
}

// TestVectorsAsEmbedder: for a model with variants and an aspect value,
// eval's vectors are the embedder's, a query's from Embed and a gallery
// image's from EmbedItems, so that eval ranks as ingest and query do.
func TestVectorsAsEmbedder(t *testing.T) {
	dir := t.TempDir()
	spec := writeSet(t, dir, 3)
	set, err := spec.Build(1)
	if err != nil {
		t.Fatal(err)
	}
	m := randomModel(t)
	m.Spec.Variants = &model.Variants{Grey: true, Mirror: true, Rotations: []float64{7}, Crops: []model.CropGrid{{Grid: 2, Width: 0.5, Height: 1}}}
	m.Spec.AspectWeight = 0.5
	// With QueryVariants a query's vectors are its variants', one after
	// another, cached apart from its own.
	for _, queryVariants := range []bool{false, true} {
		cache := NewCache()
		if _, err := Run(context.Background(), set, Options{Models: []NamedModel{{Name: "model", Model: m}}, Cache: cache, QueryVariants: queryVariants}); err != nil {
			t.Fatal(err)
		}
		e, err := embedder.New(m, &embedder.Options{QueryVariants: queryVariants})
		if err != nil {
			t.Fatal(err)
		}
		queryCache, perQuery := "model", 1
		if queryVariants {
			queryCache, perQuery = "model\x00query", 3
		}
		for _, side := range []struct {
			folder, cache string
			per           int
			embed         func(data []byte) []float32
		}{
			{"queries", queryCache, perQuery, func(data []byte) []float32 {
				in, err := e.Decode(data)
				if err != nil {
					t.Fatal(err)
				}
				return slices.Concat(e.EmbedQueryVariants([]*embedder.Input{in})[0]...)
			}},
			{"gallery", "model\x00stored", 6, func(data []byte) []float32 {
				in, err := e.DecodeItem(data)
				if err != nil {
					t.Fatal(err)
				}
				return e.EmbedItems([]*embedder.Input{in})[0]
			}},
		} {
			files, _ := filepath.Glob(filepath.Join(dir, side.folder, "*", "x.png"))
			if len(files) != 3 {
				t.Fatalf("%d %s", len(files), side.folder)
			}
			for _, f := range files {
				data, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				want, got := side.embed(data), cache.method(side.cache)[f]
				if len(got) != len(want) || len(want) != e.Dim()*side.per {
					t.Fatalf("query variants %v, %s: %d values by eval, %d by the embedder (Dim %d)", queryVariants, f, len(got), len(want), e.Dim())
				}
				for i := range want {
					if d := got[i] - want[i]; d > 1e-5 || d < -1e-5 {
						t.Fatalf("query variants %v, %s: value %d of %d: %g by eval, %g by the embedder", queryVariants, f, i, len(want), got[i], want[i])
					}
				}
			}
		}
	}
}
