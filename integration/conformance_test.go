package integration

import (
	"context"
	"testing"

	"github.com/deeprank/deeprank/vectorstore"
	"github.com/deeprank/deeprank/vectorstore/embedded"
	"github.com/deeprank/deeprank/vectorstore/storetest"
)

// TestConformance runs the store contract's suite against Milvus, and
// beside it against the embedded store, so one run shows both pass.
func TestConformance(t *testing.T) {
	t.Run("embedded", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) func() vectorstore.Store {
			dir := t.TempDir()
			return func() vectorstore.Store {
				s, err := embedded.Open(dir, nil)
				if err != nil {
					t.Fatal(err)
				}
				return s
			}
		})
	})
	t.Run("milvus", func(t *testing.T) {
		srv := startMilvus(t)
		srv.announce(t)
		storetest.Run(t, func(t *testing.T) func() vectorstore.Store {
			// Each subtest starts from an empty database.
			s := srv.open(t)
			ctx := context.Background()
			infos, err := s.List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, i := range infos {
				if err := s.Drop(ctx, i.Name); err != nil {
					t.Fatal(err)
				}
			}
			s.Close()
			return func() vectorstore.Store { return srv.open(t) }
		})
	})
}
