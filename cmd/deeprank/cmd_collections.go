package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/deeprank/deeprank/vectorstore"
)

func newCollectionsCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "collections [list | describe NAME | drop NAME]",
		Short: "List, describe or drop collections",
		Example: `  deeprank collections
  deeprank collections describe images
  deeprank collections drop images`,
		Args: cobra.RangeArgs(0, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
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
				c, err := store.Open(ctx, args[1])
				if err != nil {
					return err
				}
				info, err := c.Info(ctx)
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
			if asJSON {
				if infos == nil {
					infos = []vectorstore.Info{} // an empty store lists as [], not null
				}
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return errors.Join(enc.Encode(infos), listErr)
			}
			tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "name\tcount\tdim\tmetric\tmodel")
			for _, i := range infos {
				fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\n", i.Name, i.Count, i.Dim, i.Metric, i.ModelVersion)
			}
			return errors.Join(tw.Flush(), listErr)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	addStoreFlags(cmd)
	addWaitFlag(cmd)
	return cmd
}
