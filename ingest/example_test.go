package ingest_test

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"os"
	"path/filepath"

	"github.com/deeprank/deeprank/embedder"
	"github.com/deeprank/deeprank/ingest"
	defaultmodel "github.com/deeprank/deeprank/models/default"
	"github.com/deeprank/deeprank/vectorstore"
	"github.com/deeprank/deeprank/vectorstore/embedded"
)

func Example() {
	dir, err := os.MkdirTemp("", "ingest")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	// Three images, one of them twice under another name, and a file
	// that only claims to be one.
	photos := filepath.Join(dir, "photos")
	if err := os.Mkdir(photos, 0o755); err != nil {
		panic(err)
	}
	for name, c := range map[string]color.RGBA{
		"red.png": {200, 30, 30, 255}, "red-copy.png": {200, 30, 30, 255},
		"green.png": {30, 200, 30, 255}, "blue.png": {30, 30, 200, 255},
	} {
		img := image.NewRGBA(image.Rect(0, 0, 32, 32))
		draw.Draw(img, img.Bounds(), image.NewUniform(c), image.Point{}, draw.Src)
		f, err := os.Create(filepath.Join(photos, name))
		if err != nil {
			panic(err)
		}
		png.Encode(f, img)
		f.Close()
	}
	os.WriteFile(filepath.Join(photos, "broken.jpg"), []byte("not a JPEG"), 0o644)

	m, err := defaultmodel.Load()
	if err != nil {
		panic(err)
	}
	emb, err := embedder.New(m, nil)
	if err != nil {
		panic(err)
	}
	store, err := embedded.Open(filepath.Join(dir, "store"), nil)
	if err != nil {
		panic(err)
	}
	defer store.Close()
	ctx := context.Background()
	spec := ingest.CollectionSpec(emb, vectorstore.MetricL2)
	if err := store.Create(ctx, "images", spec); err != nil {
		panic(err)
	}
	coll, err := store.Open(ctx, "images")
	if err != nil {
		panic(err)
	}
	sum, err := ingest.Run(ctx, emb, coll, []string{photos}, nil)
	if err != nil {
		panic(err)
	}
	fmt.Printf("found %d, ingested %d, skipped %d, failed %d (%s)\n",
		sum.Found, sum.Ingested, sum.Skipped, sum.Failed, filepath.Base(sum.Failures[0].Path))
	// Output: found 5, ingested 3, skipped 1, failed 1 (broken.jpg)
}
