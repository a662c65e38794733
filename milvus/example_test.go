package milvus_test

import (
	"context"
	"fmt"
	"log"

	"github.com/deeprank/deeprank/milvus"
	"github.com/deeprank/deeprank/milvus/milvusconfig"
	"github.com/deeprank/deeprank/vectorstore"
)

// Open a Milvus standalone on this machine, create a collection for a
// model's 128-dimensional vectors and search it. (Not run as a test: it
// needs a server; package integration runs the same against one.)
func ExampleOpen() {
	ctx := context.Background()
	cfg := milvusconfig.Default()
	cfg.Address = "127.0.0.1:19530"
	store, err := milvus.Open(ctx, cfg)
	if err != nil {
		log.Fatal(err) // ErrUnreachable after cfg.ConnectTimeout
	}
	defer store.Close()
	spec := vectorstore.Spec{Dim: 128, Metric: vectorstore.MetricCosine, ModelVersion: "dfc26c601ab59df1"}
	if err := store.Create(ctx, "images", spec); err != nil {
		log.Fatal(err)
	}
	images, err := store.Open(ctx, "images")
	if err != nil {
		log.Fatal(err)
	}
	query := make([]float32, 128)
	query[0] = 1
	hits, err := images.Search(ctx, spec.ModelVersion, query, 5, &vectorstore.Filter{Classes: []string{"beach"}})
	if err != nil {
		log.Fatal(err)
	}
	for _, h := range hits {
		fmt.Println(h.Metadata.Path, h.Distance)
	}
}
