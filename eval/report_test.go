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
	"testing"

	"github.com/deeprank/deeprank/model"
)

// writeSet writes a gallery of n one-image classes and a query folder with
// a copy of each under dir, and returns the spec reading them.
func writeSet(t *testing.T, dir string, n int) SetSpec {
	t.Helper()
	for i := range n {
		img := image.NewRGBA(image.Rect(0, 0, 24, 24))
		for y := range 24 {
			for x := range 24 {
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
