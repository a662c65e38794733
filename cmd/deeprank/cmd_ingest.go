package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/deeprank/deeprank/ingest"
)

// errPartial marks a run that did what it could but failed for some files
// (exit status 3): ingest, or a batch of queries.
var errPartial = errors.New("some files failed")

type ingestOptions struct {
	collection string
	shard      string
	json       bool
}

// ingestLong is ingest's long help.
const ingestLong = `Ingest walks the files and folders given (folders recursively, taking files
with an image extension: jpg, jpeg, png, gif, webp, bmp, tif, tiff, and the
heic, heif and avif that phones write), embeds every image with the model
and writes the vectors, with the path, size, dimensions, modification time
and folder name of each image, into the collection, creating it if needed.

An image's ID is the SHA-256 of its bytes: running ingest again skips what the
collection holds, so an interrupted run resumes where it stopped and the same
picture is stored once. When the stored copy of a picture is gone and ingest
finds its bytes under another path, it records that path ("updated 1 moved
path"). A file that cannot be read or decoded is reported in the closing
summary, with the reason, and the others go on: among them anything that is
not a regular file (a FIFO, a device), files over ingest.max_file_bytes, and
files that do not start like an image, refused before the rest is read.
Decoding workers share ingest.decode_memory_bytes, estimated from each
image's header; an image needing more is decoded alone. When none of the
paths given exists (a mistyped folder), ingest stops before it creates or
touches the collection.

--shard i/n takes only the files whose ID falls in shard i of n, so that n
workers can share a corpus.

On the embedded store, ingest is the one writer: queries and listings from
other processes run meanwhile and see each batch once it is stored, and
another writing command (ingest, reindex, drop, repair, compact) waits for
this one up to its --wait.

EXIT STATUS
  0    every file was stored or already there
  1    the run failed (store, model, interrupted input)
  2    usage or configuration error
  3    done, but some files failed (listed in the summary)
  130  interrupted ("interrupted: N stored, re-run to resume"); what was
       stored stays, and running the same command again finishes`

const ingestExample = `  deeprank ingest --collection images ./photos
  deeprank ingest --collection images --shard 0/4 /data/photos
  DEEPRANK_STORE_DIR=/tmp/store deeprank ingest --collection test a.jpg b.png`

func newIngestCmd() *cobra.Command {
	var o ingestOptions
	cmd := &cobra.Command{
		Use:     "ingest --collection NAME PATH...",
		Short:   "Embed images and store their vectors",
		Long:    ingestLong,
		Example: ingestExample,
		Args:    cobra.MinimumNArgs(1),
		RunE:    func(cmd *cobra.Command, args []string) error { return o.run(cmd, args) },
	}
	f := cmd.Flags()
	f.StringVar(&o.collection, "collection", "images", "collection to write")
	f.StringVar(&o.shard, "shard", "0/1", "take shard i of n (by image ID), as i/n")
	f.BoolVar(&o.json, "json", false, "print the summary as JSON")
	addEmbedFlags(cmd)
	addStoreFlags(cmd)
	addWaitFlag(cmd)
	return cmd
}

// run ingests paths into the collection, with progress on stderr and the
// summary on stdout; some files failing is errPartial.
func (o *ingestOptions) run(cmd *cobra.Command, paths []string) error {
	shard, shards, err := parseShard(o.shard)
	if err != nil {
		return err
	}
	l, err := loadRuntime(cmd, embedFlags)
	if err != nil {
		return err
	}
	if o.collection == "" {
		return usagef("ingest: --collection is required")
	}
	if err := anyExists("ingest", paths); err != nil {
		return err
	}
	emb, store, err := openForEmbedding(cmd, l.Config, writeStore)
	if err != nil {
		return err
	}
	defer store.Close()
	coll, created, err := openOrCreate(cmd.Context(), store, o.collection, l.Store.MetricOrDefault(), emb)
	if err != nil {
		return err
	}
	if created {
		fmt.Fprintf(cmd.ErrOrStderr(), "created collection %q (model %s, %d dimensions, %d vectors an image)\n", o.collection, emb.ModelVersion(), emb.Dim(), emb.PerItem())
	}
	progress := newProgressPrinter(cmd.ErrOrStderr())
	opts := l.Ingest.Options(progress.update)
	opts.Shard, opts.Shards = shard, shards
	sum, err := ingest.Run(cmd.Context(), emb, coll, paths, opts)
	progress.finish()
	if sum != nil {
		printSummary(cmd.OutOrStdout(), sum, o.json)
	}
	if err != nil {
		return err
	}
	if sum.Failed > 0 {
		return errPartial
	}
	return nil
}

// anyExists returns nil when at least one of paths exists, and otherwise a
// usage error naming them all, for the command named.
func anyExists(command string, paths []string) error {
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			return nil
		}
	}
	return usagef("%s: nothing to %[1]s: %s not found; check the path (nothing was stored)", command, strings.Join(paths, ", "))
}

func parseShard(s string) (int, int, error) {
	i, n, ok := strings.Cut(s, "/")
	a, err1 := strconv.Atoi(i)
	b, err2 := strconv.Atoi(n)
	if !ok || err1 != nil || err2 != nil || b < 1 || a < 0 || a >= b {
		return 0, 0, usagef("--shard %q: want i/n with 0 <= i < n, e.g. 0/4", s)
	}
	return a, b, nil
}

func printSummary(w io.Writer, s *ingest.Summary, asJSON bool) {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(s)
		return
	}
	fmt.Fprintf(w, "ingested %d, skipped %d (already stored)", s.Ingested, s.Skipped)
	switch s.Moved {
	case 0:
	case 1:
		fmt.Fprint(w, ", updated 1 moved path")
	default:
		fmt.Fprintf(w, ", updated %d moved paths", s.Moved)
	}
	fmt.Fprintf(w, ", failed %d", s.Failed)
	if s.OtherShard > 0 {
		fmt.Fprintf(w, ", %d left to other shards", s.OtherShard)
	}
	fmt.Fprintf(w, " (%d image files, %.1fs)\n", s.Found, s.Elapsed)
	for _, f := range s.Failures {
		fmt.Fprintf(w, "  failed: %s: %s\n", f.Path, f.Reason)
	}
}

// progressPrinter shows progress on a terminal as one rewritten line, and
// elsewhere as a log line every ten seconds.
type progressPrinter struct {
	w        io.Writer
	unit     string // what Done counts: files, images
	terminal bool
	last     time.Time
	shown    bool
}

func newProgressPrinter(w io.Writer) *progressPrinter {
	p := &progressPrinter{w: w, unit: "files"}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.terminal = true
		}
	}
	return p
}

func (p *progressPrinter) update(pr ingest.Progress) {
	if !p.terminal && time.Since(p.last) < 10*time.Second {
		return
	}
	p.last = time.Now()
	rate := float64(pr.Done) / pr.Elapsed.Seconds()
	line := fmt.Sprintf("%d %s, %.1f %[2]s/s", pr.Done, p.unit, rate)
	if pr.Total >= 0 {
		line = fmt.Sprintf("%d/%d %s, %.1f %[3]s/s", pr.Done, pr.Total, p.unit, rate)
		if rate > 0 && pr.Total > pr.Done {
			line += fmt.Sprintf(", ETA %s", (time.Duration(float64(pr.Total-pr.Done)/rate) * time.Second).Round(time.Second))
		}
	}
	if p.terminal {
		fmt.Fprintf(p.w, "\r\033[K%s", line)
		p.shown = true
		return
	}
	fmt.Fprintln(p.w, line)
}

// finish ends a progress line on a terminal, so that what is printed next
// starts on a line of its own; it may be called more than once.
func (p *progressPrinter) finish() {
	if p.shown {
		fmt.Fprintln(p.w)
		p.shown = false
	}
}
