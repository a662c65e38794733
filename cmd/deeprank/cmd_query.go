package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

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
have unit length) and path. --filter restricts the search by metadata:
class=NAME (the image's folder name) and path=PREFIX, comma-separated.`,
		Example: `  deeprank query --image x.jpg
  deeprank query --image x.jpg --collection images --top-k 5 --filter class=beach --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.image == "" {
				return usagef("query: --image is required")
			}
			if err := checkCollectionName("--collection", o.collection); err != nil {
				return err
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
			store, err := openStore(cmd.Context(), l.Config)
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
	f.StringVar(&o.filter, "filter", "", "metadata filter: class=NAME,path=PREFIX")
	f.BoolVar(&o.json, "json", false, "print JSON")
	f.Int("top-k", 0, "number of results (key query.top_k, env DEEPRANK_QUERY_TOP_K)")
	addStoreFlags(cmd)
	return cmd
}

func parseFilter(s string) (*vectorstore.Filter, error) {
	if s == "" {
		return nil, nil
	}
	f := &vectorstore.Filter{}
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(part, "=")
		switch {
		case ok && k == "class":
			f.Classes = append(f.Classes, v)
		case ok && k == "path":
			f.PathPrefixes = append(f.PathPrefixes, v)
		default:
			return nil, usagef("--filter %q: want class=NAME and/or path=PREFIX, comma-separated", s)
		}
	}
	return f, nil
}
