package dupes_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/deeprank/deeprank/dupes"
	"github.com/deeprank/deeprank/vectorstore"
	"github.com/deeprank/deeprank/vectorstore/embedded"
)

// Three images in an embedded store, two of them near-duplicates: one
// group, the first member at distance 0, the other at 0.1. The files are
// not there, so the group has no suggested keeper and goes by path.
func ExampleFind() {
	dir, err := os.MkdirTemp("", "dupes")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	store, err := embedded.Open(dir, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	if err := store.Create(ctx, "photos", vectorstore.Spec{Dim: 2, Metric: vectorstore.MetricL2, ModelVersion: "v1"}); err != nil {
		log.Fatal(err)
	}
	coll, err := store.Open(ctx, "photos")
	if err != nil {
		log.Fatal(err)
	}
	id := func(c string) string { return fmt.Sprintf("%064s", c) }
	err = coll.Upsert(ctx, "v1", []vectorstore.Item{
		{ID: id("a"), Vector: []float32{1, 0}, Metadata: vectorstore.Metadata{Path: "/photos/a.jpg"}},
		{ID: id("b"), Vector: []float32{1, 0.1}, Metadata: vectorstore.Metadata{Path: "/photos/a-copy.jpg"}},
		{ID: id("c"), Vector: []float32{0, 1}, Metadata: vectorstore.Metadata{Path: "/photos/other.jpg"}},
	})
	if err != nil {
		log.Fatal(err)
	}
	res, err := dupes.Find(ctx, coll, &dupes.Options{MaxDistance: 0.3})
	if err != nil {
		log.Fatal(err)
	}
	for _, g := range res.Groups {
		fmt.Printf("keeper %q\n", g.Keeper)
		for _, m := range g.Members {
			fmt.Printf("%.2f %s\n", m.Distance, m.Metadata.Path)
		}
	}
	// Output:
	// keeper ""
	// 0.00 /photos/a-copy.jpg
	// 0.10 /photos/a.jpg
}
