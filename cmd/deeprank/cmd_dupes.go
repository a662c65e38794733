package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/deeprank/deeprank/config"
	"github.com/deeprank/deeprank/dupes"
	"github.com/deeprank/deeprank/embedder"
	"github.com/deeprank/deeprank/ingest"
	"github.com/deeprank/deeprank/internal/atomicfile"
	"github.com/deeprank/deeprank/model"
	defaultmodel "github.com/deeprank/deeprank/models/default"
	"github.com/deeprank/deeprank/vectorstore"
)

type dupesOptions struct {
	collection, against, out, linkDir, distinctFile string
	neighbours                                      int
	asJSON, asCSV, distinct                         bool
}

// dupesLong is the dupes command's long help.
const dupesLong = `Dupes groups the near-duplicate images of a collection: two images are
near-duplicates when their vectors are at most --max-distance apart, and a
group is every image joined to another by such a pair (a photo, its resized
copy and a crop of the copy make one group). Each group lists its members
with their distance to the first, which is the suggested keeper: the file
with the most pixels, then the oldest. With --against OTHER it lists instead
each image of the collection that has near-duplicates in OTHER (is this new
batch already in my archive?). It only reports: nothing is ever deleted or
moved; --link-dir makes a folder of symbolic links per group for review.

THE THRESHOLD. Without --max-distance, the built-in model's calibrated
distance is used: on copies of held-out photos (crops, resizes, rotations,
JPEG, colour changes, flips) against other photos, it is the largest distance
at which 99% of the pairs it takes as duplicates are copies (precision 0.99;
README, "Finding duplicates", gives the recall). A lower --max-distance finds
fewer copies but even fewer false pairs; a higher one finds more and mixes in
similar but different photos. It is given under the collection's metric,
between images' own vectors or, for a model with a thumbnail or an aspect
value, their learned parts (query's distances are over whole vectors, so
they may differ). A collection of another model needs --max-distance,
or the key dupes.max_distance in the configuration file (once per model):
'deeprank eval --thresholds' calibrates one.

DECISIONS THAT LAST. --not-duplicate ID1 ID2 (or --not-duplicate-file F, two
IDs a line) records that two images are distinct; later runs never join a
group through that pair. The pairs are kept by image ID (the SHA-256 of the
file), so they hold across re-ingests, moves and reindexes: in
STORE_DIR/NAME.not-duplicates for the embedded store, and for Milvus in
STORE_DIR/milvus-not-duplicates/HOST_PORT/DATABASE/NAME.not-duplicates on
this machine.

On the embedded store every pair is compared exactly, all cores working on
blocks of vectors read in place from the store's files (memory: about 50
bytes an image and 20 MB); on Milvus each image is searched for through the
index (--neighbours nearest).`

const dupesExample = `  deeprank dupes --collection photos
  deeprank dupes --collection photos --csv --out dupes.csv --link-dir /tmp/review
  deeprank dupes --collection new_batch --against archive --json
  deeprank dupes --collection photos --not-duplicate 3f2a...e1 9b0c...47`

func newDupesCmd() *cobra.Command {
	var o dupesOptions
	cmd := &cobra.Command{
		Use:     "dupes --collection NAME [--against OTHER] [--max-distance D]",
		Short:   "Find near-duplicate images in a collection",
		Long:    dupesLong,
		Example: dupesExample,
		Args:    cobra.MaximumNArgs(2),
		RunE:    func(cmd *cobra.Command, args []string) error { return o.run(cmd, args) },
	}
	f := cmd.Flags()
	f.StringVar(&o.collection, "collection", "images", "collection to search for near-duplicates")
	f.StringVar(&o.against, "against", "", "list the images of --collection that have near-duplicates in this collection")
	f.Float64("max-distance", 0, "near-duplicates are at most this far apart, under the collection's metric (default: the built-in model's calibrated distance, precision 0.99)")
	f.IntVar(&o.neighbours, "neighbours", dupes.DefaultNeighbours, "on Milvus, the nearest images searched for per image; with --against, the matches listed per image")
	f.BoolVar(&o.asJSON, "json", false, "print JSON")
	f.BoolVar(&o.asCSV, "csv", false, "print CSV, one row a member")
	f.StringVar(&o.out, "out", "", "write the report to this file instead of stdout")
	f.StringVar(&o.linkDir, "link-dir", "", "make a folder of symbolic links per group here (a new or empty folder)")
	f.BoolVar(&o.distinct, "not-duplicate", false, "record that the two image IDs given as arguments are distinct")
	f.StringVar(&o.distinctFile, "not-duplicate-file", "", "record the pairs of this file (two image IDs a line) as distinct")
	addStoreFlags(cmd)
	nameKeys(cmd, dupesFlags)
	return cmd
}

// dupesFlags are the keys dupes' own flags set.
var dupesFlags = map[string]string{"dupes.max_distance": "max-distance"}

// run reports the near-duplicates of the collection, or records pairs of
// images as distinct.
func (o *dupesOptions) run(cmd *cobra.Command, args []string) error {
	l, err := loadRuntime(cmd, dupesFlags)
	if err != nil {
		return err
	}
	if err := o.check(args); err != nil {
		return err
	}
	store, err := openStore(cmd, l.Config, readStore)
	if err != nil {
		return err
	}
	defer store.Close()
	ctx := cmd.Context()
	coll, err := store.Open(ctx, o.collection)
	if err != nil {
		return fmt.Errorf("collection %q: %w", o.collection, err)
	}
	distinctPath, distinct, err := loadDistinct(l.Config, o.collection)
	if err != nil {
		return err
	}
	if o.distinct || o.distinctFile != "" {
		return recordDistinct(cmd, coll, distinct, distinctPath, args, o.distinctFile)
	}
	opts := &dupes.Options{Neighbours: o.neighbours, Distinct: distinct}
	if l.Store.Kind == "milvus" {
		opts.Method = dupes.Index
	}
	if opts.MaxDistance, err = dupesThreshold(cmd, l, coll); err != nil {
		return err
	}
	if opts.Method == dupes.Index {
		info, err := coll.Info(ctx)
		if err != nil {
			return err
		}
		opts.AspectValue = endsWithAspect(l.Config, info)
	}
	// What a run holds is a few large pointer-free arrays (IDs, held
	// vectors), and reading makes short-lived garbage: collecting early
	// keeps the peak near what is live.
	debug.SetGCPercent(20)
	progress := newProgressPrinter(cmd.ErrOrStderr())
	progress.unit = "images"
	opts.Progress = func(p dupes.Progress) { progress.update(ingest.Progress(p)) }
	if o.against != "" {
		other, err := store.Open(ctx, o.against)
		if err != nil {
			return fmt.Errorf("collection %q: %w", o.against, err)
		}
		return o.reportAgainst(cmd, coll, other, opts, progress)
	}
	return o.reportGroups(cmd, coll, opts, progress)
}

// loadDistinct reads the pairs of collection marked as distinct, and gives
// the path of their file.
func loadDistinct(c config.Config, collection string) (string, *dupes.Distinct, error) {
	path, err := notDuplicatesFile(c, collection)
	if err != nil {
		return "", nil, err
	}
	d, err := dupes.LoadDistinct(path)
	return path, d, err
}

// check refuses the flags and arguments that do not go together.
func (o *dupesOptions) check(args []string) error {
	if (o.distinct && len(args) != 2) || (!o.distinct && len(args) > 0) {
		return usagef("dupes: give two image IDs with --not-duplicate, and none without it")
	}
	switch {
	case o.asJSON && o.asCSV:
		return usagef("dupes: give --json or --csv, not both")
	case o.against != "" && o.linkDir != "":
		return usagef("dupes: --link-dir makes folders of groups, which --against does not make")
	}
	return nil
}

// reportAgainst lists the images of coll that have near-duplicates in
// other: a count on stderr, the report on stdout or --out.
func (o *dupesOptions) reportAgainst(cmd *cobra.Command, coll, other vectorstore.Collection, opts *dupes.Options, progress *progressPrinter) error {
	ms, err := dupes.Against(cmd.Context(), coll, other, opts)
	progress.finish()
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "%d images of %q have near-duplicates in %q (max distance %g)\n", len(ms), o.collection, o.against, opts.MaxDistance)
	var buf bytes.Buffer
	err = writeReport(&buf, o, ms, func(w io.Writer) error { return dupes.WriteMatchesCSV(w, ms) }, func(w io.Writer) error { return dupes.WriteMatchesText(w, ms) })
	if err != nil {
		return err
	}
	return output(cmd, o.out, buf.Bytes())
}

// reportGroups finds the groups of near-duplicates in coll: a count on
// stderr, the report on stdout or --out, and the --link-dir folders.
func (o *dupesOptions) reportGroups(cmd *cobra.Command, coll vectorstore.Collection, opts *dupes.Options, progress *progressPrinter) error {
	res, err := dupes.Find(cmd.Context(), coll, opts)
	progress.finish()
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "%d groups of near-duplicates among %d images (max distance %g; %d pairs, %d marked distinct left out); suggested keeper: most pixels, then oldest; nothing was deleted or moved\n",
		len(res.Groups), res.Images, opts.MaxDistance, res.Pairs, res.DistinctSkipped)
	var buf bytes.Buffer
	if err := writeReport(&buf, o, res, res.WriteCSV, res.WriteText); err != nil {
		return err
	}
	if o.linkDir != "" {
		if err := dupes.Link(o.linkDir, res.Groups); err != nil {
			return err
		}
	}
	return output(cmd, o.out, buf.Bytes())
}

// dupesThreshold is --max-distance when given, else dupes.max_distance
// when not 0 (from the environment or the configuration file), else the
// built-in model's calibrated distance under the collection's metric, for
// a collection of that model.
func dupesThreshold(cmd *cobra.Command, l *config.Loaded, coll vectorstore.Collection) (float32, error) {
	info, err := coll.Info(cmd.Context())
	if err != nil {
		return 0, err
	}
	if d := l.Dupes.MaxDistance; d != 0 || l.Sources["dupes.max_distance"] == config.FromFlag {
		return float32(d), nil
	}
	m, err := defaultmodel.Load()
	if err != nil {
		return 0, err
	}
	version, err := m.Version()
	if err != nil {
		return 0, err
	}
	if info.ModelVersion != version {
		return 0, usagef("dupes: collection %q holds vectors of model %s, not the built-in model, whose calibrated threshold is the default: give --max-distance or set %s (`deeprank eval --thresholds` calibrates one)", info.Name, info.ModelVersion, config.EnvName("dupes.max_distance"))
	}
	// The threshold is calibrated on learned parts; a collection made
	// before collections recorded theirs would be compared whole.
	emb, err := embedder.New(m, nil)
	if err != nil {
		return 0, err
	}
	if info.Learned != emb.Learned() {
		return 0, fmt.Errorf("dupes: collection %q does not record which of its values the model learned (made by an older deeprank), so dupes would compare whole vectors against a threshold calibrated on learned parts: run deeprank reindex --collection %s: %w", info.Name, info.Name, vectorstore.ErrModelMismatch)
	}
	d, err := defaultmodel.CopyThreshold()
	return info.Metric.FromL2(d), err
}

// endsWithAspect reports whether the vectors of the collection info
// describes end with an aspect value (dupes.Options.AspectValue), which the
// index search needs to know: they do when they are of the configured model
// (--model) or the built-in one and that model gives them one. A
// collection of another model, or a configured model that does not load
// (dupes needs none otherwise), is searched as if they did not.
func endsWithAspect(c config.Config, info vectorstore.Info) bool {
	// loadModel gives the built-in model when none is configured.
	loads := []func() (*model.Model, error){func() (*model.Model, error) { return loadModel(c) }}
	if c.Model != "" {
		loads = append(loads, defaultmodel.Load)
	}
	for _, load := range loads {
		m, err := load()
		if err != nil {
			continue
		}
		if v, err := m.Version(); err == nil && v == info.ModelVersion {
			return m.Spec.AspectWeight > 0
		}
	}
	return false
}

// recordDistinct adds the pair of args, or the pairs of file, to distinct
// and saves it at path. Every ID must be in coll: a typo is an error.
func recordDistinct(cmd *cobra.Command, coll vectorstore.Collection, distinct *dupes.Distinct, path string, args []string, file string) error {
	add := &dupes.Distinct{}
	if file != "" {
		var err error
		if add, err = dupes.LoadDistinct(file); err != nil {
			return usageError{err}
		}
	}
	if len(args) == 2 {
		if _, err := add.Add(args[0], args[1]); err != nil {
			return usageError{err}
		}
	}
	ids := add.IDs()
	have, err := coll.Has(cmd.Context(), ids)
	if err != nil {
		return err
	}
	for i, ok := range have {
		if !ok {
			return usagef("dupes: image %s is not in the collection; nothing was recorded", ids[i])
		}
	}
	n := distinct.Merge(add)
	if err := distinct.Save(path); err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "recorded %d new distinct pairs (%d in all) in %s\n", n, distinct.Len(), path)
	return nil
}

// writeReport writes v as JSON, or by the CSV or text writer, as o asks.
func writeReport(w io.Writer, o *dupesOptions, v any, asCSV, asText func(io.Writer) error) error {
	switch {
	case o.asJSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	case o.asCSV:
		return asCSV(w)
	}
	return asText(w)
}

// output writes data to stdout, or durably to the file out.
func output(cmd *cobra.Command, out string, data []byte) error {
	if out == "" {
		_, err := cmd.OutOrStdout().Write(data)
		return err
	}
	return atomicfile.WriteFile(out, data)
}
