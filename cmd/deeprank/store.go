package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/deeprank/deeprank/config"
	"github.com/deeprank/deeprank/embedder"
	"github.com/deeprank/deeprank/imageio"
	"github.com/deeprank/deeprank/ingest"
	"github.com/deeprank/deeprank/milvus"
	"github.com/deeprank/deeprank/model"
	defaultmodel "github.com/deeprank/deeprank/models/default"
	"github.com/deeprank/deeprank/vectorstore"
	"github.com/deeprank/deeprank/vectorstore/embedded"
)

// storeFlags are the keys every command that uses a store binds.
var storeFlags = map[string]string{
	"model":                "model",
	"store.kind":           "store",
	"store.dir":            "store-dir",
	"store.milvus.address": "milvus-address",
}

// embedFlags are the ingest keys that the commands embedding images in
// bulk (ingest, reindex) bind.
var embedFlags = map[string]string{"ingest.batch_size": "batch-size", "ingest.workers": "workers"}

func addEmbedFlags(cmd *cobra.Command) {
	cmd.Flags().Int("batch-size", 0, "images embedded and written together (key ingest.batch_size)")
	cmd.Flags().Int("workers", 0, "decoding goroutines, 0 = all cores (key ingest.workers)")
}

func addStoreFlags(cmd *cobra.Command) {
	cmd.Flags().String("model", "", "model file (key model, env DEEPRANK_MODEL; default: the built-in model)")
	cmd.Flags().String("store", "", "where vectors live: embedded or milvus (key store.kind, env DEEPRANK_STORE_KIND; default embedded)")
	cmd.Flags().String("store-dir", "", "embedded store folder (key store.dir, env DEEPRANK_STORE_DIR)")
	cmd.Flags().String("milvus-address", "", "Milvus host:port (key store.milvus.address, env DEEPRANK_STORE_MILVUS_ADDRESS; default 127.0.0.1:19530)")
}

// loadRuntime loads the configuration with the store flags and the extra
// bindings, and validates what ingest and query use.
func loadRuntime(cmd *cobra.Command, extra map[string]string) (*config.Loaded, error) {
	bind := map[string]string{}
	for k, v := range storeFlags {
		bind[k] = v
	}
	for k, v := range extra {
		bind[k] = v
	}
	l, err := loadConfig(cmd, bind)
	if err != nil {
		return nil, err
	}
	return l, l.Validate()
}

func openStore(ctx context.Context, c config.Config) (vectorstore.Store, error) {
	if c.Store.Kind == "milvus" {
		return milvus.Open(ctx, c.Store.Milvus)
	}
	return embedded.Open(c.StoreDir())
}

// loadModel loads the configured model, or the built-in one.
func loadModel(c config.Config) (*model.Model, error) {
	if c.Model == "" {
		return defaultmodel.Load()
	}
	return model.Load(c.Model)
}

func newEmbedder(c config.Config) (*embedder.Embedder, error) {
	m, err := loadModel(c)
	if err != nil {
		return nil, err
	}
	return embedder.New(m, &embedder.Options{Workers: c.Ingest.Workers, BatchSize: c.Ingest.BatchSize,
		Decode: &imageio.Options{MaxPixels: c.Ingest.MaxPixels}})
}

// runOptions are the options of an ingest run that the configuration
// sets, with progress reported to progress.
func runOptions(c config.Config, progress func(ingest.Progress)) *ingest.Options {
	return &ingest.Options{BatchSize: c.Ingest.BatchSize, Workers: c.Ingest.Workers, Progress: progress,
		MaxFileBytes: c.Ingest.MaxFileBytes, DecodeMemory: c.Ingest.DecodeMemoryBytes}
}

// openOrCreate opens a collection, creating it for the embedder's model if
// it does not exist.
func openOrCreate(ctx context.Context, s vectorstore.Store, name, metric string, e *embedder.Embedder) (vectorstore.Collection, bool, error) {
	c, err := s.Open(ctx, name)
	if err == nil {
		return c, false, nil
	}
	if !errors.Is(err, vectorstore.ErrNotFound) {
		return nil, false, err
	}
	spec := vectorstore.Spec{Dim: e.Dim(), Metric: metric, ModelVersion: e.ModelVersion()}
	if err := s.Create(ctx, name, spec); err != nil {
		return nil, false, err
	}
	c, err = s.Open(ctx, name)
	if err != nil {
		return nil, false, fmt.Errorf("open new collection: %w", err)
	}
	return c, true, nil
}
