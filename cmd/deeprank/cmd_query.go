package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"slices"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/deeprank/deeprank/config"
	"github.com/deeprank/deeprank/embedder"
	"github.com/deeprank/deeprank/imageio"
	"github.com/deeprank/deeprank/queryfilter"
	"github.com/deeprank/deeprank/vectorstore"
)

type queryOptions struct {
	images      []string
	folder      string
	collection  string
	filter      string
	maxDistance float64
	json        bool
}

// queryFlags are the keys query's own flags set.
var queryFlags = map[string]string{"query.top_k": "top-k"}

// queryLong is query's long help.
const queryLong = `Query embeds one image with the model and prints the nearest images of the
collection: rank, distance (0 for the same image; at most 2 for L2, as vectors
have unit length, plus what a model's aspect value adds for another shape)
and path. --max-distance leaves out results farther than it. On the
embedded store, a query takes no lock: it runs beside an ingest or a
reindex and sees what they have stored.

The nearest twenty are then ordered again by how each one's picture lines up
with the query's (its luma, and its corners under one shift, turn and zoom), so
that a cropped, mirrored or recoloured copy comes first; with --top-k below
twenty, twenty are still lined up and the first of their new order printed.
Their image files are read (one gone or changed since ingest keeps its place),
and their distances are printed as the search gave them, so they need not rise.
query.rerank in the configuration tunes it; DEEPRANK_QUERY_RERANK_TOP=0 turns
it off, and DEEPRANK_QUERY_RERANK_OWN_ASPECT=true finds more crops that change
the picture's aspect (and a few fewer of other copies).

DEEPRANK_QUERY_VARIANTS=true (query.variants) also searches with the image's
mirror image and its turns back, where the model stores those variants, each
stored image as near as the nearest of them: more copies edited twice (a crop
mirrored or turned) are found, a few fewer drawings merely alike; a forward
pass and a search each.

With several --image flags, or --images DIR (every image file under DIR), it
runs one query per image, embedding them in batches on all cores, and prints
JSON lines: one object per query, {"query": PATH, "results": [...]}, or
{"query": PATH, "error": "..."} for an image that could not be read; the
exit status is then 3 if any failed.

` + filterHelp

const queryExample = `  deeprank query --image x.jpg
  deeprank query --image x.jpg --collection images --top-k 5 --filter class=beach --json
  deeprank query --images ./new-batch --max-distance 0.3 > matches.jsonl`

func newQueryCmd() *cobra.Command {
	var o queryOptions
	cmd := &cobra.Command{
		Use:     "query --image FILE",
		Short:   "Find the stored images most similar to an image",
		Long:    queryLong,
		Example: queryExample,
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, args []string) error { return o.run(cmd) },
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.images, "image", nil, "image to search with; repeat for several (JSON lines)")
	f.StringVar(&o.folder, "images", "", "search with every image file under this folder (JSON lines)")
	f.StringVar(&o.collection, "collection", "images", "collection to search")
	f.StringVar(&o.filter, "filter", "", "metadata filter: comma-separated class=NAME and path=PREFIX; a repeated key matches any of its values (see the help above)")
	f.Float64Var(&o.maxDistance, "max-distance", -1, "leave out results farther than this (default: no limit)")
	f.BoolVar(&o.json, "json", false, "print JSON")
	f.Int("top-k", 0, "number of results")
	nameKeys(cmd, queryFlags)
	addStoreFlags(cmd)
	return cmd
}

// run embeds the query images, searches the collection with each and
// prints the results: a table or JSON for one image, JSON lines for
// several (or --images).
func (o *queryOptions) run(cmd *cobra.Command) error {
	paths, err := o.queryImages()
	if err != nil {
		return err
	}
	filter, err := parseFilter(o.filter)
	if err != nil {
		return err
	}
	l, err := loadRuntime(cmd, queryFlags)
	if err != nil {
		return err
	}
	// The store opens (reading the collection's log) while the model
	// loads and the images are decoded and embedded; its errors come after
	// theirs, as when one followed the other.
	opening := make(chan openedCollection, 1)
	go func() { opening <- openForQuery(cmd, l, o.collection) }()
	var opened *openedCollection
	wait := func() *openedCollection {
		if opened == nil {
			oc := <-opening
			opened = &oc
		}
		return opened
	}
	defer func() {
		if s := wait().store; s != nil {
			s.Close()
		}
	}()
	emb, res, err := embedQueries(cmd.Context(), l.Config, paths)
	if err != nil {
		return err
	}
	batch := len(paths) > 1 || o.folder != ""
	if !batch && res[0].Err != nil {
		return res[0].Err
	}
	if err := wait().err; err != nil {
		return err
	}
	coll := opened.coll
	var metric vectorstore.Metric
	if l.Query.Rerank.On() {
		info, err := coll.Info(cmd.Context())
		if err != nil {
			return err
		}
		metric = info.Metric
	}
	search := func(r embedder.Result) ([]vectorstore.Hit, error) {
		return l.Query.Rerank.Search(l.Query.TopK, r.Picture, metric, emb.Picture, func(n int) ([]vectorstore.Hit, error) {
			hits, err := vectorstore.SearchAny(cmd.Context(), coll, emb.ModelVersion(), r.Variants, n, filter)
			return withinDistance(hits, o.maxDistance), err
		})
	}
	out := cmd.OutOrStdout()
	if batch {
		return printQueries(out, paths, res, search)
	}
	hits, err := search(res[0])
	if err != nil {
		return err
	}
	return printHits(out, hits, o.json)
}

// embedQueries embeds the images at paths with the configured model; an
// image that cannot be read has its error in its Result.
func embedQueries(ctx context.Context, c config.Config, paths []string) (*embedder.Embedder, []embedder.Result, error) {
	emb, err := newEmbedder(c)
	if err != nil {
		return nil, nil, err
	}
	res, err := emb.EmbedFiles(ctx, paths)
	return emb, res, err
}

// openedCollection is a store opened for reading and one of its
// collections, or the error of opening them (store is then nil, or the
// store to close).
type openedCollection struct {
	store vectorstore.Store
	coll  vectorstore.Collection
	err   error
}

// openForQuery opens the store of l for reading and its collection name.
func openForQuery(cmd *cobra.Command, l *config.Loaded, name string) openedCollection {
	store, err := openStore(cmd, l.Config, readStore)
	if err != nil {
		return openedCollection{err: err}
	}
	coll, err := openCollection(cmd.Context(), store, name, l.StoreLocation())
	return openedCollection{store: store, coll: coll, err: err}
}

// openCollection opens the collection name of store, saying how to make or
// find one when there is none; location names the store, for that message.
func openCollection(ctx context.Context, store vectorstore.Store, name, location string) (vectorstore.Collection, error) {
	coll, err := store.Open(ctx, name)
	if errors.Is(err, vectorstore.ErrNotFound) {
		return nil, fmt.Errorf("%w: no collection %q in %s; ingest first (deeprank ingest --collection %s DIR) or list them (deeprank collections)",
			err, name, location, name)
	}
	return coll, err
}

// printHits prints one query's hits: a table of rank, distance and path,
// or an indented JSON array.
func printHits(w io.Writer, hits []vectorstore.Hit, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if hits == nil {
			hits = []vectorstore.Hit{}
		}
		return enc.Encode(hits)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "rank\tdistance\tpath")
	for i, h := range hits {
		fmt.Fprintf(tw, "%d\t%.4f\t%s\n", i+1, h.Distance, h.Metadata.Path)
	}
	return tw.Flush()
}

// queryImages lists the images to query with, from --image and --images.
func (o *queryOptions) queryImages() ([]string, error) {
	paths := slices.Clone(o.images)
	if o.folder != "" {
		err := filepath.WalkDir(o.folder, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && imageio.IsImageName(p) {
				paths = append(paths, p)
			}
			return nil
		})
		if err != nil {
			return nil, usagef("query: --images %s: %v", o.folder, err)
		}
		if len(paths) == len(o.images) {
			return nil, usagef("query: --images %s: no image files there", o.folder)
		}
	}
	if len(paths) == 0 {
		return nil, usagef("query: --image or --images is required")
	}
	return paths, nil
}

// withinDistance keeps the hits at most max away; a negative max keeps all.
func withinDistance(hits []vectorstore.Hit, max float64) []vectorstore.Hit {
	if max < 0 {
		return hits
	}
	for i, h := range hits {
		if float64(h.Distance) > max {
			return hits[:i]
		}
	}
	return hits
}

// queryLine is one query's line of the JSON-lines output.
type queryLine struct {
	Query   string            `json:"query"`
	Results []vectorstore.Hit `json:"results,omitzero"`
	Error   string            `json:"error,omitempty"`
}

// printQueries runs and prints one query per embedded image, as JSON lines;
// images that failed get an error line, and the run errPartial.
func printQueries(w io.Writer, paths []string, res []embedder.Result, search func(embedder.Result) ([]vectorstore.Hit, error)) error {
	enc := json.NewEncoder(w)
	failed := 0
	for i, r := range res {
		line := queryLine{Query: paths[i]}
		if r.Err != nil {
			line.Error = r.Err.Error()
			failed++
		} else {
			hits, err := search(r)
			if err != nil {
				return err
			}
			line.Results = hits
			if line.Results == nil {
				line.Results = []vectorstore.Hit{} // "results": [], not left out
			}
		}
		if err := enc.Encode(line); err != nil {
			return err
		}
	}
	if failed > 0 {
		return fmt.Errorf("%w: %d of %d images could not be read (see their lines)", errPartial, failed, len(paths))
	}
	return nil
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
