package integration

import (
	"context"
	"testing"
	"time"

	"github.com/deeprank/deeprank/milvus"
	"github.com/deeprank/deeprank/vectorstore"
	"github.com/deeprank/deeprank/vectorstore/storetest"
)

// TestIndexTypes builds each configurable index under each metric, past
// the size at which Milvus indexes a segment (1,024 rows), and checks that
// a stored vector finds itself first once the index is built.
func TestIndexTypes(t *testing.T) {
	srv := startMilvus(t)
	srv.announce(t)
	const n, dim = 2048, 32
	items := storetest.Items(n, dim, 9)
	cases := []struct {
		index  string
		metric vectorstore.Metric
	}{
		{"HNSW", vectorstore.MetricL2},
		{"IVF_FLAT", vectorstore.MetricIP},
		{"FLAT", vectorstore.MetricCosine},
		{"AUTOINDEX", vectorstore.MetricL2},
	}
	for _, tc := range cases {
		t.Run(tc.index+"/"+string(tc.metric), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			cfg := srv.config(t)
			cfg.Index = tc.index
			s, err := milvus.Open(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			name := "idx_" + tc.index
			if err := s.Create(ctx, name, vectorstore.Spec{Dim: dim, Metric: tc.metric, ModelVersion: "m"}); err != nil {
				t.Fatal(err)
			}
			defer s.Drop(context.Background(), name)
			c, err := s.Open(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Upsert(ctx, "m", items); err != nil {
				t.Fatal(err)
			}
			if err := s.WaitIndexed(ctx, name); err != nil {
				t.Fatal(err)
			}
			for _, i := range []int{0, 777, n - 1} {
				hits, err := c.Search(ctx, "m", items[i].Vector, 3, nil)
				if err != nil {
					t.Fatal(err)
				}
				if len(hits) != 3 || hits[0].ID != items[i].ID || hits[0].Distance > hits[1].Distance {
					t.Fatalf("item %d: hits %+v", i, hits)
				}
			}
		})
	}
}

// TestFilterLiterals: a path prefix holding like's wildcards (_ and %)
// and a class holding quotes match literally on the real server.
func TestFilterLiterals(t *testing.T) {
	srv := startMilvus(t)
	ctx := context.Background()
	s := srv.open(t)
	defer s.Close()
	if err := s.Create(ctx, "literals", vectorstore.Spec{Dim: 4, Metric: vectorstore.MetricL2, ModelVersion: "m"}); err != nil {
		t.Fatal(err)
	}
	c, err := s.Open(ctx, "literals")
	if err != nil {
		t.Fatal(err)
	}
	items := storetest.Items(4, 4, 3)
	paths := []string{"/a_b/1.jpg", "/aXb/2.jpg", "/100%/3.jpg", "/100x/4.jpg"}
	for i := range items {
		items[i].Metadata.Path = paths[i]
	}
	items[0].Metadata.Class = `say "cheese"`
	if err := c.Upsert(ctx, "m", items); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		filter vectorstore.Filter
		want   string
	}{
		{vectorstore.Filter{PathPrefixes: []string{"/a_b/"}}, "/a_b/1.jpg"},
		{vectorstore.Filter{PathPrefixes: []string{"/100%/"}}, "/100%/3.jpg"},
		{vectorstore.Filter{Classes: []string{`say "cheese"`}}, "/a_b/1.jpg"},
	}
	for _, tc := range cases {
		hits, err := c.Search(ctx, "m", items[1].Vector, 4, &tc.filter)
		if err != nil {
			t.Fatalf("filter %+v: %v", tc.filter, err)
		}
		if len(hits) != 1 || hits[0].Metadata.Path != tc.want {
			t.Errorf("filter %+v: hits %+v, want only %s", tc.filter, hits, tc.want)
		}
	}
}
