package embedded

import (
	"context"
	"testing"

	"github.com/deeprank/deeprank/vectorstore"
	"github.com/deeprank/deeprank/vectorstore/storetest"
)

// TestSearchFindsItselfAtZero checks that a stored vector, searched for
// under L2, is reported at distance 0, from the log and from a segment:
// ranking by |q|^2 + |v|^2 - 2 q.v alone left about 1e-7 of rounding,
// which the square root made distances up to 0.0005.
func TestSearchFindsItselfAtZero(t *testing.T) {
	s, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if err := s.Create(ctx, "c", vectorstore.Spec{Dim: 128, Metric: vectorstore.MetricL2, ModelVersion: "v1"}); err != nil {
		t.Fatal(err)
	}
	c, err := s.Open(ctx, "c")
	if err != nil {
		t.Fatal(err)
	}
	items := storetest.Items(200, 128, 3)
	if err := c.Upsert(ctx, "v1", items); err != nil {
		t.Fatal(err)
	}
	for _, where := range []string{"log", "segment"} {
		if where == "segment" {
			flushLog(t, c)
		}
		for _, it := range items {
			hits, err := c.Search(ctx, "v1", it.Vector, 1, nil)
			if err != nil {
				t.Fatal(err)
			}
			if hits[0].ID != it.ID || hits[0].Distance != 0 {
				t.Fatalf("%s: %s found %s at %g, want itself at 0", where, it.ID, hits[0].ID, hits[0].Distance)
			}
		}
	}
}
