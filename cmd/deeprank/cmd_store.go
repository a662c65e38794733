package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/deeprank/deeprank/vectorstore/embedded"
)

// errDamaged makes check exit 1 after printing its report.
var errDamaged = errors.New("damage found")

// checkLong is the check command's long help.
const checkLong = `Check reads every file of a collection of the embedded store (its manifest,
every section of every segment, every log record) and verifies each
checksum, without changing anything; it runs beside ingest and queries.
Without --collection it checks them all.

A write cut short at the end of a log (a crash or power loss during an
ingest) is reported as a torn tail: it was never acknowledged, and the next
writing command drops it. Anything else that fails is damage: check names
the file and byte offset, and 'deeprank repair' keeps everything that
verifies.

EXIT STATUS
  0    every collection checked verifies
  1    damage found (listed), or the check could not run`

const checkExample = `  deeprank check
  deeprank check --collection images --json`

type checkOptions struct {
	collection string
	json       bool
}

func newCheckCmd() *cobra.Command {
	var o checkOptions
	cmd := &cobra.Command{
		Use:     "check [--collection NAME]",
		Short:   "Verify every byte of the embedded store's collections",
		Long:    checkLong,
		Example: checkExample,
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, args []string) error { return o.run(cmd) },
	}
	cmd.Flags().StringVar(&o.collection, "collection", "", "the collection to check (default: all)")
	cmd.Flags().BoolVar(&o.json, "json", false, "print JSON")
	addStoreFlags(cmd)
	return cmd
}

// run checks the collection, or all, and prints the reports; damage is
// errDamaged.
func (o *checkOptions) run(cmd *cobra.Command) error {
	l, err := loadRuntime(cmd, nil)
	if err != nil {
		return err
	}
	store, err := embeddedStore(cmd, l.Config, readStore)
	if err != nil {
		return err
	}
	defer store.Close()
	names := []string{o.collection}
	if o.collection == "" {
		if names, err = store.Names(); err != nil {
			return err
		}
	}
	reports, damaged, err := checkAll(cmd.Context(), store, names, cmd.ErrOrStderr())
	if err != nil {
		return err
	}
	printCheck(cmd.OutOrStdout(), reports, o.json)
	if damaged {
		return fmt.Errorf("%w: run `deeprank repair --collection NAME` for each damaged collection", errDamaged)
	}
	return nil
}

// checkAll checks the collections named, and reports whether any is
// damaged or could not be checked (said on stderr); only an interruption
// stops it early.
func checkAll(ctx context.Context, store *embedded.Store, names []string, stderr io.Writer) (reports []*embedded.CheckReport, damaged bool, err error) {
	for _, name := range names {
		r, err := store.Check(ctx, name)
		if errors.Is(err, context.Canceled) {
			return nil, false, err
		}
		if err != nil { // this one could not be checked; the others still are
			fmt.Fprintf(stderr, "deeprank: check %s: %v\n", name, err)
			damaged = true
			continue
		}
		reports = append(reports, r)
		damaged = damaged || !r.OK()
	}
	return reports, damaged, nil
}

func printCheck(w io.Writer, reports []*embedded.CheckReport, asJSON bool) {
	if asJSON {
		if reports == nil {
			reports = []*embedded.CheckReport{}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(reports)
		return
	}
	for _, r := range reports {
		if !r.OK() {
			fmt.Fprintf(w, "%s: DAMAGED\n", r.Collection)
			for _, d := range r.Damage {
				fmt.Fprintf(w, "  %v\n", d)
			}
			continue
		}
		var notes []string
		if r.OldFormat {
			notes = append(notes, "old format: any writing command, or deeprank compact, migrates it")
		}
		if r.Uncoded > 0 {
			notes = append(notes, fmt.Sprintf("%d segments written before codes are searched at a quarter of the speed; deeprank compact --collection %s rewrites them", r.Uncoded, r.Collection))
		}
		if r.TornBytes > 0 {
			notes = append(notes, fmt.Sprintf("a write cut short left %d bytes at the end of the log; the next writing command drops them", r.TornBytes))
		}
		fmt.Fprintf(w, "%s: ok, %d items", r.Collection, r.Items)
		if len(notes) > 0 {
			fmt.Fprintf(w, " (%s)", strings.Join(notes, "; "))
		}
		fmt.Fprintln(w)
	}
}

func newRepairCmd() *cobra.Command {
	var collection string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "repair --collection NAME",
		Short: "Keep everything of a damaged collection that verifies",
		Long: `Repair rebuilds a damaged collection of the embedded store from what
verifies: every log record that passes its checksums is kept, a segment that
fails is set aside, and the damaged files are renamed within the collection's
folder with the suffix .damaged, never deleted. It prints how many records
were kept and how many bytes and items were lost. A collection that verifies
is left as it is. It waits for other writers, like ingest.`,
		Example: `  deeprank repair --collection images`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return onCollection(cmd, collection, func(store *embedded.Store) error {
				r, err := store.Repair(cmd.Context(), collection)
				if err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				if asJSON {
					enc := json.NewEncoder(out)
					enc.SetIndent("", "  ")
					return enc.Encode(r)
				}
				fmt.Fprintf(out, "%s: %d items; kept %d log records, lost %d damaged log bytes and %d segment items\n",
					r.Collection, r.Items, r.RecordsKept, r.DamagedBytes, r.RowsLost)
				for _, f := range r.Rebuilt {
					fmt.Fprintf(out, "  segment %s written again from its vectors (its damage was in its norms or codes)\n", f)
				}
				for _, f := range r.MovedAside {
					fmt.Fprintf(out, "  damaged file kept as %s\n", f)
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&collection, "collection", "", "the collection to repair")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	addStoreFlags(cmd)
	addWaitFlag(cmd)
	return cmd
}

func newCompactCmd() *cobra.Command {
	var collection string
	cmd := &cobra.Command{
		Use:   "compact --collection NAME",
		Short: "Merge a collection's log and segments into one segment",
		Long: `Compact moves what was written since the last compaction into the
collection's segment files and merges them into one, dropping deleted and
replaced items; readers switch to the new files at once. Writers compact on
their own as the log grows; this does it now, for example before copying a
store. A collection of the old format is migrated.`,
		Example: `  deeprank compact --collection images`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return onCollection(cmd, collection, func(store *embedded.Store) error {
				if err := store.Compact(cmd.Context(), collection); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "compacted collection %q\n", collection)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&collection, "collection", "", "the collection to compact")
	addStoreFlags(cmd)
	addWaitFlag(cmd)
	return cmd
}

// onCollection runs a writing command's work on the embedded store, after
// checking that --collection was given.
func onCollection(cmd *cobra.Command, collection string, fn func(*embedded.Store) error) error {
	if collection == "" {
		return usagef("%s: --collection is required", cmd.Name())
	}
	l, err := loadRuntime(cmd, nil)
	if err != nil {
		return err
	}
	store, err := embeddedStore(cmd, l.Config, writeStore)
	if err != nil {
		return err
	}
	defer store.Close()
	return fn(store)
}
