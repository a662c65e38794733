package main

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/spf13/cobra"

	"github.com/deeprank/deeprank/ingest"
	"github.com/deeprank/deeprank/vectorstore"
)

func newReindexCmd() *cobra.Command {
	var (
		collection  string
		dropMissing bool
		asJSON      bool
	)
	cmd := &cobra.Command{
		Use:   "reindex --collection NAME --model NEW",
		Short: "Re-embed a collection with another model, switching queries at once",
		Long: `Reindex embeds every image of a collection again, from its file, with the
model given, into a new collection; then it switches the collection's name to
the new vectors in one step, and only after that drops the old ones. Queries
run meanwhile get the old vectors, and after the switch the new ones: never a
mix, never a half-built collection. On Milvus the name is an alias moved from
one physical collection to the next; the embedded store writes the new files
beside the old and switches by renaming the collection's manifest over the
old one. Queries from other processes go on throughout; other writing
commands wait for the reindex (see --wait).

Every stored image must still be readable at its path with the same bytes.
When a stored file is gone, a file with the same bytes in the folders of the
collection (or their subfolders) is embedded instead, under its own path. If
some images are still missing (deleted, edited), the reindex stops before the
switch and lists them, leaving the collection as it was; --drop-missing goes
on without them. Images ingested into the collection while a reindex runs are
not carried over: ingest them again after.

EXIT STATUS
  0    switched to the new model
  1    failed; the collection is unchanged
  2    usage or configuration error
  130  interrupted; the collection is unchanged`,
		Example: `  deeprank reindex --collection images --model runs/retrain/model.drk
  deeprank reindex --collection images --model new.drk --store milvus --milvus-address 10.0.0.5:19530`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, err := loadRuntime(cmd, embedFlags)
			if err != nil {
				return err
			}
			if !cmd.Flags().Changed("model") {
				return usagef("reindex: --model is required: the model file to move the collection to")
			}
			emb, err := newEmbedder(l.Config)
			if err != nil {
				return err
			}
			store, err := openStore(cmd, l.Config, writeStore)
			if err != nil {
				return err
			}
			defer store.Close()
			ctx, stderr := cmd.Context(), cmd.ErrOrStderr()
			old, err := store.Open(ctx, collection)
			if err != nil {
				return err
			}
			info, err := old.Info(ctx)
			if err != nil {
				return err
			}
			// With --json, stdout holds one JSON document and nothing else,
			// so that it parses; the sentences go to stderr.
			say := cmd.OutOrStdout()
			if asJSON {
				say = stderr
			}
			if info.ModelVersion == emb.ModelVersion() {
				fmt.Fprintf(say, "collection %q already holds vectors of model %s: nothing to do\n", collection, info.ModelVersion)
				if asJSON {
					printSummary(cmd.OutOrStdout(), &ingest.Summary{}, true)
				}
				return nil
			}
			// The old collection's items: the images to embed again.
			stored := map[string]vectorstore.Metadata{}
			if err := old.Scan(ctx, func(it vectorstore.Item) error {
				stored[it.ID] = it.Metadata
				return nil
			}); err != nil {
				return err
			}
			// A picture whose stored file is gone is embedded from a copy
			// with the same bytes, where there is one.
			live, err := ingest.Relocate(ctx, stored)
			if err != nil {
				return err
			}
			paths := make(map[string]string, len(stored))
			for id, m := range stored {
				paths[id] = m.Path
				if p, ok := live[id]; ok {
					paths[id] = p
					fmt.Fprintf(stderr, "  %s is gone: embedding the copy at %s\n", m.Path, p)
				}
			}
			fmt.Fprintf(stderr, "reindexing %q: %d images, model %s -> %s\n", collection, len(paths), info.ModelVersion, emb.ModelVersion())
			spec := vectorstore.Spec{Dim: emb.Dim(), Metric: info.Metric, ModelVersion: emb.ModelVersion()}
			var sum *ingest.Summary
			err = store.Rebuild(ctx, collection, spec, func(ctx context.Context, fresh vectorstore.Collection) error {
				files := make([]string, 0, len(paths))
				for _, p := range paths {
					files = append(files, p)
				}
				slices.Sort(files)
				progress := newProgressPrinter(stderr)
				var err error
				sum, err = ingest.Run(ctx, emb, fresh, files, runOptions(l.Config, progress.update))
				progress.finish()
				var stopped *ingest.Interrupted
				if errors.As(err, &stopped) {
					// A re-run of reindex starts over, whatever was stored.
					return fmt.Errorf("reindex %q interrupted; the collection is unchanged: %w", collection, stopped.Err)
				}
				if err != nil {
					return err
				}
				lost, err := missingIDs(ctx, fresh, paths)
				if err != nil {
					return err
				}
				if len(lost) > 0 && !dropMissing {
					for _, id := range lost[:min(len(lost), 20)] {
						fmt.Fprintf(stderr, "  not re-embedded: %s (id %.12s): the file is gone or its bytes changed\n", paths[id], id)
					}
					return fmt.Errorf("reindex %q: %d of %d images could not be embedded again from their files (listed above); the collection is unchanged. Restore them, or pass --drop-missing to reindex without them", collection, len(lost), len(paths))
				}
				if len(lost) > 0 {
					fmt.Fprintf(stderr, "dropping %d images whose files are gone or changed (--drop-missing)\n", len(lost))
				}
				return nil
			})
			if err != nil {
				return err
			}
			printSummary(cmd.OutOrStdout(), sum, asJSON)
			fmt.Fprintf(say, "switched collection %q to model %s\n", collection, emb.ModelVersion())
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&collection, "collection", "images", "collection to reindex")
	f.BoolVar(&dropMissing, "drop-missing", false, "go on without images whose file is gone or changed")
	f.BoolVar(&asJSON, "json", false, "print the summary as JSON: stdout holds only JSON (a zero summary when there is nothing to do), messages go to stderr")
	addEmbedFlags(cmd)
	addStoreFlags(cmd)
	addWaitFlag(cmd)
	return cmd
}

// missingIDs lists the ids of want that c lacks, sorted.
func missingIDs(ctx context.Context, c vectorstore.Collection, want map[string]string) ([]string, error) {
	ids := make([]string, 0, len(want))
	for id := range want {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var lost []string
	const chunk = 1000
	for i := 0; i < len(ids); i += chunk {
		part := ids[i:min(i+chunk, len(ids))]
		got, err := c.Get(ctx, part)
		if err != nil {
			return nil, err
		}
		have := make(map[string]bool, len(got))
		for _, it := range got {
			have[it.ID] = true
		}
		for _, id := range part {
			if !have[id] {
				lost = append(lost, id)
			}
		}
	}
	return lost, nil
}
