package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

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

// modelFlag binds --model alone, for the commands without a store
// (distance, eval).
var modelFlag = map[string]string{"model": "model"}

// embedFlags are the ingest keys that the commands embedding images in
// bulk (ingest, reindex) bind.
var embedFlags = map[string]string{"ingest.batch_size": "batch-size", "ingest.workers": "workers"}

func addEmbedFlags(cmd *cobra.Command) {
	cmd.Flags().Int("batch-size", 0, "images embedded and written together")
	cmd.Flags().Int("workers", 0, "decoding goroutines, 0 = all cores")
	nameKeys(cmd, embedFlags)
}

func addStoreFlags(cmd *cobra.Command) {
	cmd.Flags().String("model", "", "model file; default: the built-in model")
	cmd.Flags().String("store", "", "where vectors live: embedded or milvus; default embedded")
	cmd.Flags().String("store-dir", "", "embedded store folder")
	cmd.Flags().String("milvus-address", "", "Milvus host:port; default 127.0.0.1:19530")
	nameKeys(cmd, storeFlags)
}

// nameKeys ends the help of each flag of bind (keys to flag names) with the
// key it sets and that key's environment variable, so that neither is
// typed again in the help.
func nameKeys(cmd *cobra.Command, bind map[string]string) {
	for key, name := range bind {
		cmd.Flags().Lookup(name).Usage += keyNote(key)
	}
}

// keyNote names key and its environment variable, for help and messages.
func keyNote(key string) string { return fmt.Sprintf(" (key %s, env %s)", key, config.EnvName(key)) }

// checkCollectionName returns a usage error saying the naming rule (that of
// vectorstore.ValidName) when name cannot name a collection; the stores' own
// error says only "invalid argument". what is the flag or argument that
// gave the name.
func checkCollectionName(what, name string) error {
	if vectorstore.ValidName(name) {
		return nil
	}
	return usagef("%s %q is not a valid collection name: use a letter or _, then letters, digits or _, at most 255 characters (e.g. images, photos_2024)", what, name)
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

// access is what a command does with the store: readers (query, listing,
// check) run beside one writer (ingest, reindex, drop, repair, compact).
type access int

const (
	readStore access = iota
	writeStore
	// serveStore reads, as readStore, for a long-lived process: it keeps
	// scanned vectors mapped between searches.
	serveStore
)

// addWaitFlag adds --wait to a command that writes to the embedded store.
func addWaitFlag(cmd *cobra.Command) {
	cmd.Flags().Duration("wait", 30*time.Second, "how long to wait for another deeprank process writing to the embedded store")
}

// openStore opens the configured store. On the embedded store a writer
// takes its lock, waiting up to --wait with a line on stderr, and notices
// (a torn write dropped, a migration) go to stderr.
func openStore(cmd *cobra.Command, c config.Config, mode access) (vectorstore.Store, error) {
	if c.Store.Kind == config.Milvus {
		return milvus.Open(cmd.Context(), c.Store.Milvus)
	}
	stderr := cmd.ErrOrStderr()
	opts := &embedded.Options{
		ReadOnly:        mode != writeStore,
		CompactLogBytes: c.Store.CompactLogBytes,
		ReleaseScanned:  mode != serveStore, // one command, one search: keep the resident set small
		Logf:            func(format string, args ...any) { fmt.Fprintf(stderr, "deeprank: "+format+"\n", args...) },
	}
	if mode == writeStore {
		opts.LockWait, _ = cmd.Flags().GetDuration("wait")
		opts.OnLockWait = func(pid int) {
			fmt.Fprintf(stderr, "waiting up to %s for deeprank process %d, which is writing to %s\n", opts.LockWait, pid, c.StoreDir())
		}
	}
	return embedded.Open(c.StoreDir(), opts)
}

// embeddedStore opens the embedded store for the commands that only it
// has (check, repair, compact).
func embeddedStore(cmd *cobra.Command, c config.Config, mode access) (*embedded.Store, error) {
	if c.Store.Kind == config.Milvus {
		return nil, usagef("%s: only the embedded store has it; Milvus keeps its own files", cmd.Name())
	}
	s, err := openStore(cmd, c, mode)
	if err != nil {
		return nil, err
	}
	return s.(*embedded.Store), nil
}

// notDuplicatesFile is where the pairs marked distinct for a collection
// are kept (dupes --not-duplicate): beside the collection's folder in the
// embedded store, and for Milvus, which has no room for such a file, under
// the embedded store's folder on this machine, apart for each server and
// database. A collection folder's name never holds a dot or a dash, so the
// store takes neither for a collection. The folder is made if need be.
func notDuplicatesFile(c config.Config, name string) (string, error) {
	dir := c.StoreDir()
	if c.Store.Kind == "milvus" {
		db := cmp.Or(c.Store.Milvus.Database, "default")
		server := strings.NewReplacer("/", "_", ":", "_").Replace(c.Store.Milvus.Address)
		dir = filepath.Join(dir, "milvus-not-duplicates", server, db)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("make the folder for distinct pairs: %w", err)
	}
	return filepath.Join(dir, name+".not-duplicates"), nil
}

// loadModel loads the configured model, or the built-in one.
func loadModel(c config.Config) (*model.Model, error) {
	if c.Model == "" {
		return defaultmodel.Load()
	}
	return model.Load(c.Model)
}

// openForEmbedding loads the configured model and opens the store in mode,
// for the commands that embed images into it (ingest, reindex). The caller
// closes the store.
func openForEmbedding(cmd *cobra.Command, c config.Config, mode access) (*embedder.Embedder, vectorstore.Store, error) {
	emb, err := newEmbedder(c)
	if err != nil {
		return nil, nil, err
	}
	store, err := openStore(cmd, c, mode)
	if err != nil {
		return nil, nil, err
	}
	return emb, store, nil
}

func newEmbedder(c config.Config) (*embedder.Embedder, error) {
	m, err := loadModel(c)
	if err != nil {
		return nil, err
	}
	return embedder.New(m, &embedder.Options{Workers: c.Ingest.Workers, BatchSize: c.Ingest.BatchSize,
		Decode: &imageio.Options{MaxPixels: c.Ingest.MaxPixels}, OwnOnly: !c.Ingest.Variants, QueryVariants: c.Query.Variants})
}

// openOrCreate opens a collection, creating it for the embedder's model if
// it does not exist.
func openOrCreate(ctx context.Context, s vectorstore.Store, name string, metric vectorstore.Metric, e *embedder.Embedder) (vectorstore.Collection, bool, error) {
	c, err := s.Open(ctx, name)
	if err == nil {
		return c, false, nil
	}
	if !errors.Is(err, vectorstore.ErrNotFound) {
		return nil, false, err
	}
	if err := s.Create(ctx, name, ingest.CollectionSpec(e, metric)); err != nil {
		return nil, false, err
	}
	c, err = s.Open(ctx, name)
	if err != nil {
		return nil, false, fmt.Errorf("open new collection: %w", err)
	}
	return c, true, nil
}
