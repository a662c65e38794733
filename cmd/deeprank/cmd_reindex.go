package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/deeprank/deeprank/ingest"
)

// reindexLong is the reindex command's long help.
const reindexLong = `Reindex embeds every image of a collection again, from its file, with the
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
  130  interrupted; the collection is unchanged`

const reindexExample = `  deeprank reindex --collection images --model runs/retrain/model.drk
  deeprank reindex --collection images --model new.drk --store milvus --milvus-address 10.0.0.5:19530`

type reindexOptions struct {
	collection  string
	dropMissing bool
	json        bool
}

func newReindexCmd() *cobra.Command {
	var o reindexOptions
	cmd := &cobra.Command{
		Use:     "reindex --collection NAME --model NEW",
		Short:   "Re-embed a collection with another model, switching queries at once",
		Long:    reindexLong,
		Example: reindexExample,
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return o.run(cmd) },
	}
	f := cmd.Flags()
	f.StringVar(&o.collection, "collection", "images", "collection to reindex")
	f.BoolVar(&o.dropMissing, "drop-missing", false, "go on without images whose file is gone or changed")
	f.BoolVar(&o.json, "json", false, "print the summary as JSON: stdout holds only JSON (a zero summary when there is nothing to do), messages go to stderr")
	addEmbedFlags(cmd)
	addStoreFlags(cmd)
	addWaitFlag(cmd)
	return cmd
}

// run re-embeds the collection with the --model given and switches it.
func (o *reindexOptions) run(cmd *cobra.Command) error {
	l, err := loadRuntime(cmd, embedFlags)
	if err != nil {
		return err
	}
	if !cmd.Flags().Changed("model") {
		return usagef("reindex: --model is required: the model file to move the collection to")
	}
	emb, store, err := openForEmbedding(cmd, l.Config, writeStore)
	if err != nil {
		return err
	}
	defer store.Close()
	stderr := cmd.ErrOrStderr()
	progress := newProgressPrinter(stderr)
	opts := &ingest.ReindexOptions{Options: *l.Ingest.Options(progress.update), DropMissing: o.dropMissing,
		Logf: func(format string, args ...any) { progress.finish(); fmt.Fprintf(stderr, format+"\n", args...) }}
	res, err := ingest.Reindex(cmd.Context(), emb, store, o.collection, opts)
	progress.finish()
	var missing *ingest.MissingError
	if errors.As(err, &missing) {
		for _, m := range missing.Missing[:min(len(missing.Missing), 20)] {
			fmt.Fprintf(stderr, "  not re-embedded: %s (id %.12s): the file is gone or its bytes changed\n", m.Path, m.ID)
		}
		return fmt.Errorf("reindex %q: %d of %d images could not be embedded again from their files (listed above); the collection is unchanged. Restore them, or pass --drop-missing to reindex without them", o.collection, len(missing.Missing), missing.Images)
	}
	if err != nil {
		return err
	}
	o.printResult(cmd.OutOrStdout(), stderr, res)
	return nil
}

// printResult says what the reindex did: the summary on stdout (as JSON
// with --json) and the sentences beside it, or on stderr with --json, so
// that stdout holds one JSON document and nothing else.
func (o *reindexOptions) printResult(stdout, stderr io.Writer, res *ingest.ReindexResult) {
	say := stdout
	if o.json {
		say = stderr
	}
	if !res.Switched {
		fmt.Fprintf(say, "collection %q already holds vectors of model %s: nothing to do\n", o.collection, res.From)
		if o.json {
			printSummary(stdout, &ingest.Summary{}, true)
		}
		return
	}
	if len(res.Dropped) > 0 {
		fmt.Fprintf(stderr, "dropping %d images whose files are gone or changed (--drop-missing)\n", len(res.Dropped))
	}
	printSummary(stdout, res.Summary, o.json)
	fmt.Fprintf(say, "switched collection %q to model %s\n", o.collection, res.To)
}
