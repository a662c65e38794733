package main

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/deeprank/deeprank/ingest"
	"github.com/deeprank/deeprank/vectorstore"
)

// errChanged is sync's way of saying "done, and something changed" (exit
// status 10): not a failure, and main prints no message for it.
var errChanged = errors.New("the collection changed")

// syncLong is the sync command's long help.
const syncLong = `Sync makes the collection match the files under the paths given: it ingests
new files (as ingest does), updates the stored path of an image whose bytes
moved to another name, and removes the images stored under those paths whose
file is gone or now holds other bytes, listing each. Images stored from other
folders are left alone. --dry-run changes nothing and says what sync would
do (without decoding new files, so one that would fail counts as new).

It is safe to run from cron: a run that is interrupted or fails removes
nothing (removals come after a successful ingest), and the exit status says
whether anything changed.

EXIT STATUS
  0    nothing changed (with --dry-run: nothing would change)
  10   the collection changed (with --dry-run: would change)
  1    failed (store, model, interrupted input)
  2    usage or configuration error
  3    done, but some files failed (listed); other changes were made
  130  interrupted; nothing was removed, re-run to finish`

const syncExample = `  deeprank sync --collection photos ~/Pictures
  deeprank sync --collection photos --dry-run ~/Pictures
  deeprank sync --collection photos ~/Pictures; [ $? -eq 10 ] && echo "photos changed"`

type syncOptions struct {
	collection   string
	dryRun, json bool
}

func newSyncCmd() *cobra.Command {
	var o syncOptions
	cmd := &cobra.Command{
		Use:     "sync --collection NAME PATH...",
		Short:   "Make a collection match folders: add new files, follow moves, remove deleted files",
		Long:    syncLong,
		Example: syncExample,
		Args:    cobra.MinimumNArgs(1),
		RunE:    func(cmd *cobra.Command, args []string) error { return o.run(cmd, args) },
	}
	f := cmd.Flags()
	f.StringVar(&o.collection, "collection", "images", "collection to sync")
	f.BoolVar(&o.dryRun, "dry-run", false, "change nothing; print what sync would do")
	f.BoolVar(&o.json, "json", false, "print the summary as JSON")
	addEmbedFlags(cmd)
	addStoreFlags(cmd)
	addWaitFlag(cmd)
	return cmd
}

// run makes the collection match the paths given, or with --dry-run says what it would change.
func (o *syncOptions) run(cmd *cobra.Command, args []string) error {
	l, err := loadRuntime(cmd, embedFlags)
	if err != nil {
		return err
	}
	if err := anyExists("sync", args); err != nil {
		return err
	}
	emb, store, err := openForEmbedding(cmd, l.Config, writeStore)
	if err != nil {
		return err
	}
	defer store.Close()
	// A dry run creates nothing, not even the collection.
	coll, err := store.Open(cmd.Context(), o.collection)
	if !o.dryRun && errors.Is(err, vectorstore.ErrNotFound) {
		coll, _, err = openOrCreate(cmd.Context(), store, o.collection, l.Store.MetricOrDefault(), emb)
	}
	if err != nil {
		return fmt.Errorf("collection %q: %w", o.collection, err)
	}
	progress := newProgressPrinter(cmd.ErrOrStderr())
	opts := l.Ingest.Options(progress.update)
	opts.DryRun = o.dryRun
	sum, err := ingest.Sync(cmd.Context(), emb, coll, args, opts)
	progress.finish()
	if sum != nil {
		printSync(cmd, sum, o.json)
	}
	switch {
	case err != nil:
		return err
	case sum.Failed > 0:
		return errPartial
	case sum.Changed():
		return errChanged
	}
	return nil
}

func printSync(cmd *cobra.Command, s *ingest.SyncSummary, asJSON bool) {
	w := cmd.OutOrStdout()
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(s)
		return
	}
	verb := "removed"
	if s.DryRun {
		verb = "would remove"
		fmt.Fprint(w, "dry run, nothing changed: would have ")
	}
	printSummary(w, &s.Summary, false)
	for _, m := range s.Moves {
		fmt.Fprintf(w, "  moved: %s -> %s\n", m.From, m.To)
	}
	fmt.Fprintf(w, "%s %d images whose files are gone or changed\n", verb, len(s.Removals))
	for _, r := range s.Removals {
		fmt.Fprintf(w, "  %s (%s): %s\n", verb, r.Reason, r.Path)
	}
}
