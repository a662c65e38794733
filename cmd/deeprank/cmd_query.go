package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/deeprank/deeprank/queryfilter"
	"github.com/deeprank/deeprank/vectorstore"
)

type queryOptions struct {
	image      string
	collection string
	filter     string
	json       bool
}

func newQueryCmd() *cobra.Command {
	var o queryOptions
	cmd := &cobra.Command{
		Use:   "query --image FILE",
		Short: "Find the stored images most similar to an image",
		Long: `Query embeds one image with the model and prints the nearest images of the
collection: rank, distance (0 for the same image; at most 2 for L2, as vectors
have unit length) and path. On the embedded store, a query takes no lock: it
runs beside an ingest or a reindex and sees what they have stored.

` + filterHelp,
		Example: `  deeprank query --image x.jpg
  deeprank query --image x.jpg --collection images --top-k 5 --filter class=beach --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.image == "" {
				return usagef("query: --image is required")
			}
			filter, err := parseFilter(o.filter)
			if err != nil {
				return err
			}
			l, err := loadRuntime(cmd, map[string]string{"query.top_k": "top-k"})
			if err != nil {
				return err
			}
			emb, err := newEmbedder(l.Config)
			if err != nil {
				return err
			}
			res, err := emb.EmbedFiles(cmd.Context(), []string{o.image})
			if err != nil {
				return err
			}
			if res[0].Err != nil {
				return res[0].Err
			}
			store, err := openStore(cmd, l.Config, readStore)
			if err != nil {
				return err
			}
			defer store.Close()
			coll, err := store.Open(cmd.Context(), o.collection)
			if errors.Is(err, vectorstore.ErrNotFound) {
				return fmt.Errorf("%w: no collection %q in %s; ingest first (deeprank ingest --collection %s DIR) or list them (deeprank collections)",
					err, o.collection, l.StoreLocation(), o.collection)
			}
			if err != nil {
				return err
			}
			hits, err := coll.Search(cmd.Context(), emb.ModelVersion(), res[0].Vector, l.Query.TopK, filter)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if o.json {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(hits)
			}
			tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "rank\tdistance\tpath")
			for i, h := range hits {
				fmt.Fprintf(tw, "%d\t%.4f\t%s\n", i+1, h.Distance, h.Metadata.Path)
			}
			return tw.Flush()
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.image, "image", "", "image to search with")
	f.StringVar(&o.collection, "collection", "images", "collection to search")
	f.StringVar(&o.filter, "filter", "", "metadata filter: comma-separated class=NAME and path=PREFIX; a repeated key matches any of its values (see the help above)")
	f.BoolVar(&o.json, "json", false, "print JSON")
	f.Int("top-k", 0, "number of results (key query.top_k, env DEEPRANK_QUERY_TOP_K)")
	addStoreFlags(cmd)
	return cmd
}

// filterHelp is the --filter grammar, for the flag's help and the
// command's long help.
const filterHelp = `--filter restricts the search by metadata: comma-separated key=value
items, where the key is class (the image's folder name, exactly) or path (a
prefix of the image's absolute path, as a string: path=photos/ takes the
folder photos, path=photos also photos2). A relative path is taken from the
current folder, as ingest takes it. A key given more than once matches any
of its values; class and path together must both match. Values are taken as
written, spaces included, and cannot hold a comma. An empty value or an
unknown key is a usage error.

  --filter class=beach,class=sea,path=/data/photos/   beach or sea, under /data/photos/`

// parseFilter parses the --filter grammar of filterHelp; "" is no filter.
// Every error is a usage error naming the flag and the item at fault.
func parseFilter(s string) (*vectorstore.Filter, error) {
	f, err := queryfilter.Parse(s)
	if err != nil {
		return nil, usagef("--filter %q: %w", s, err)
	}
	return f, nil
}
