package embedded_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"

	"github.com/deeprank/deeprank/vectorstore"
	"github.com/deeprank/deeprank/vectorstore/embedded"
)

func Example() {
	dir, err := os.MkdirTemp("", "store")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	store, err := embedded.Open(dir, nil)
	if err != nil {
		panic(err)
	}
	defer store.Close()

	ctx := context.Background()
	spec := vectorstore.Spec{Dim: 2, Metric: vectorstore.MetricL2, ModelVersion: "m1"}
	if err := store.Create(ctx, "images", spec); err != nil {
		panic(err)
	}
	images, err := store.Open(ctx, "images")
	if err != nil {
		panic(err)
	}
	// IDs are the SHA-256 of each image file's bytes.
	id := func(file string) string { sum := sha256.Sum256([]byte(file)); return hex.EncodeToString(sum[:]) }
	items := []vectorstore.Item{
		{ID: id("east"), Vector: []float32{1, 0}, Metadata: vectorstore.Metadata{Path: "east.jpg", Class: "compass"}},
		{ID: id("north"), Vector: []float32{0, 1}, Metadata: vectorstore.Metadata{Path: "north.jpg", Class: "compass"}},
		{ID: id("west"), Vector: []float32{-1, 0}, Metadata: vectorstore.Metadata{Path: "west.jpg", Class: "compass"}},
	}
	if err := images.Upsert(ctx, "m1", items); err != nil {
		panic(err)
	}
	hits, err := images.Search(ctx, "m1", []float32{0.8, 0.6}, 2, nil)
	if err != nil {
		panic(err)
	}
	for _, h := range hits {
		fmt.Printf("%s %.3f\n", h.Metadata.Path, h.Distance)
	}
	// Searched with a second view too (a query's mirror image, say), an
	// item is as near as the nearer view.
	hits, err = vectorstore.SearchAny(ctx, images, "m1", [][]float32{{0.8, 0.6}, {-0.8, 0.6}}, 2, nil)
	if err != nil {
		panic(err)
	}
	for _, h := range hits {
		fmt.Printf("%s %.3f\n", h.Metadata.Path, h.Distance)
	}
	// Output:
	// east.jpg 0.632
	// north.jpg 0.894
	// east.jpg 0.632
	// west.jpg 0.632
}
