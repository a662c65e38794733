package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/deeprank/deeprank/vectorstore"
)

type collectionsOptions struct {
	json bool
}

func newCollectionsCmd() *cobra.Command {
	var o collectionsOptions
	cmd := &cobra.Command{
		Use:   "collections [list | describe NAME | drop NAME]",
		Short: "List, describe or drop collections",
		Example: `  deeprank collections
  deeprank collections describe images
  deeprank collections drop images`,
		Args: cobra.RangeArgs(0, 2),
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(cmd, args) },
	}
	cmd.Flags().BoolVar(&o.json, "json", false, "print JSON")
	addStoreFlags(cmd)
	addWaitFlag(cmd)
	return cmd
}

// run lists, describes or drops, as args say.
func (o *collectionsOptions) run(cmd *cobra.Command, args []string) error {
	verb := "list"
	if len(args) > 0 {
		verb = args[0]
	}
	if (verb == "list") != (len(args) <= 1) {
		return usagef("collections: %s takes one collection name", verb)
	}
	if len(args) == 2 {
		if err := checkCollectionName("collections "+verb, args[1]); err != nil {
			return err
		}
	}
	l, err := loadRuntime(cmd, nil)
	if err != nil {
		return err
	}
	mode := readStore
	if verb == "drop" {
		mode = writeStore
	}
	store, err := openStore(cmd, l.Config, mode)
	if err != nil {
		return err
	}
	defer store.Close()
	ctx, out := cmd.Context(), cmd.OutOrStdout()
	var infos []vectorstore.Info
	var listErr error // a collection that could not be read; the others are listed
	switch verb {
	case "list":
		infos, listErr = store.List(ctx)
	case "describe":
		info, err := describe(ctx, store, args[1])
		if err != nil {
			return err
		}
		infos = []vectorstore.Info{info}
	case "drop":
		if err := store.Drop(ctx, args[1]); err != nil {
			return err
		}
		fmt.Fprintf(out, "dropped collection %q\n", args[1])
		return nil
	default:
		return usagef("collections: unknown verb %q; use list, describe or drop", verb)
	}
	return errors.Join(printInfos(out, infos, o.json), listErr)
}

// describe gives the Info of the collection name.
func describe(ctx context.Context, store vectorstore.Store, name string) (vectorstore.Info, error) {
	c, err := store.Open(ctx, name)
	if err != nil {
		return vectorstore.Info{}, err
	}
	return c.Info(ctx)
}

// printInfos prints collections: a table of name, count, dim, the vectors
// stored an image (its own and its variants', model.Spec.Variants), metric
// and model, or an indented JSON array.
func printInfos(w io.Writer, infos []vectorstore.Info, asJSON bool) error {
	if asJSON {
		if infos == nil {
			infos = []vectorstore.Info{} // an empty store lists as [], not null
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(infos)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "name\tcount\tdim\tvectors/image\tmetric\tmodel")
	for _, i := range infos {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%s\n", i.Name, i.Count, i.Dim, i.PerItem(), i.Metric, i.ModelVersion)
	}
	return tw.Flush()
}
