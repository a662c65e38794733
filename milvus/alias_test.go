package milvus

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/milvus-io/milvus-sdk-go/v2/client"
	"github.com/milvus-io/milvus-sdk-go/v2/entity"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/deeprank/deeprank/milvus/milvusconfig"
	"github.com/deeprank/deeprank/vectorstore"
)

// liteClient answers as milvus-lite 2.5 does (seen against the server of
// npm @lyyyuna/milvus-lite-linux-x64@2.5.102 with this SDK): describing a
// name it does not know succeeds with an empty schema, and every alias call
// fails with Unimplemented and no message. Calls it does not override panic
// on the nil Client.
type liteClient struct {
	client.Client
	colls map[string]*entity.Schema
}

func (c *liteClient) DescribeCollection(_ context.Context, name string) (*entity.Collection, error) {
	if s, ok := c.colls[name]; ok {
		return &entity.Collection{Name: name, Schema: s}, nil
	}
	return &entity.Collection{Schema: &entity.Schema{}}, nil
}

func (c *liteClient) CreateCollection(_ context.Context, s *entity.Schema, _ int32, _ ...client.CreateCollectionOption) error {
	c.colls[s.CollectionName] = s
	return nil
}

func (c *liteClient) CreateIndex(context.Context, string, string, entity.Index, bool, ...client.IndexOption) error {
	return nil
}

func (c *liteClient) LoadCollection(context.Context, string, bool, ...client.LoadCollectionOption) error {
	return nil
}

func (c *liteClient) DropCollection(_ context.Context, name string, _ ...client.DropCollectionOption) error {
	delete(c.colls, name)
	return nil
}

func (c *liteClient) CreateAlias(context.Context, string, string) error {
	return status.Error(codes.Unimplemented, "")
}

// TestWithoutAliases checks what a server without aliases gets: a fresh
// name is not found (not "made by someone else"), creating it says that the
// server lacks aliases and what to use instead, and leaves nothing behind.
func TestWithoutAliases(t *testing.T) {
	spec := vectorstore.Spec{Dim: 4, Metric: vectorstore.MetricCosine, ModelVersion: "0123456789abcdef"}
	foreign := entity.NewSchema().WithName("theirs").WithDescription("someone else's").
		WithField(entity.NewField().WithName("pk").WithDataType(entity.FieldTypeInt64).WithIsPrimaryKey(true))
	cases := []struct {
		name     string
		op       func(context.Context, *Store) error
		wantErr  error
		wantText []string
	}{
		{"open a fresh name", func(ctx context.Context, s *Store) error {
			_, err := s.Open(ctx, "images")
			return err
		}, vectorstore.ErrNotFound, nil},
		{"create", func(ctx context.Context, s *Store) error {
			return s.Create(ctx, "images", spec)
		}, ErrNoAliases, []string{`create collection "images"`, "Unimplemented", "milvus-lite", "--store embedded"}},
		{"open a collection deeprank did not make", func(ctx context.Context, s *Store) error {
			_, err := s.Open(ctx, "theirs")
			return err
		}, vectorstore.ErrInvalid, []string{"deeprank did not make it"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cli := &liteClient{colls: map[string]*entity.Schema{"theirs": foreign}}
			s := &Store{cfg: milvusconfig.Default(), cli: cli, written: map[string]bool{}}
			err := tc.op(t.Context(), s)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			for _, w := range tc.wantText {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if len(cli.colls) != 1 {
				t.Errorf("collections left on the server: %v", cli.colls)
			}
		})
	}
}
