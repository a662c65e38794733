// Package ingest walks image files into a vector store: read, hash, skip
// what the collection holds, decode, embed and upsert in batches.
//
// An item's ID is the SHA-256 of the file's bytes, so a re-run skips what an
// earlier (perhaps interrupted) run stored, and the same picture under two
// names is stored once. Memory does not grow with the number of files: paths
// stream through bounded channels, and only a batch is held at a time.
// Decoding runs on several goroutines while the network embeds the previous
// batch.
package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/deeprank/deeprank/dataset"
	"github.com/deeprank/deeprank/embedder"
	"github.com/deeprank/deeprank/vectorstore"
)

// Options tunes a run. The zero value means defaults.
type Options struct {
	// BatchSize is the number of images embedded and upserted together;
	// 0 means 64.
	BatchSize int
	// Workers read and decode files; 0 means GOMAXPROCS.
	Workers int
	// Shard and Shards split a corpus among independent workers: this run
	// takes the files whose ID modulo Shards is Shard. Shards 0 means 1.
	Shard, Shards int
	// Progress, if set, is called about once a second and at the end.
	Progress func(Progress)
}

// Progress is a snapshot of a run.
type Progress struct {
	// Total is the number of image files found, or -1 while counting.
	Total   int
	Done    int // files handled (stored, skipped or failed)
	Elapsed time.Duration
}

// Failure is a file that could not be ingested.
type Failure struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// Summary is the outcome of a run.
type Summary struct {
	Found      int       `json:"found"`       // image files found
	Ingested   int       `json:"ingested"`    // newly stored
	Skipped    int       `json:"skipped"`     // already in the collection, or a duplicate
	OtherShard int       `json:"other_shard"` // left to other shards
	Failed     int       `json:"failed"`
	Failures   []Failure `json:"failures,omitempty"`
	Elapsed    float64   `json:"elapsed_seconds"`
}

// ShardOf is the shard of an item ID among n.
func ShardOf(id string, n int) int {
	raw, err := hex.DecodeString(id[:16])
	if err != nil || n <= 1 {
		return 0
	}
	return int(binary.BigEndian.Uint64(raw) % uint64(n))
}

type job struct {
	path string
	info fs.FileInfo
}

type prepared struct {
	item  vectorstore.Item
	input *embedder.Input
}

// outcome is what a worker reports for one file.
type outcome struct {
	path    string
	item    *prepared // nil unless the file is to be stored
	skipped bool
	other   bool
	failure error
	// fatal stops the whole run: the store failed, not the file.
	fatal error
}

// Run ingests the files and folders of paths into coll. Files in folders
// are taken when their name has an image extension; files named directly
// are always tried. A file that fails is reported in the summary and the
// others go on. The error is for what stops the whole run: ctx, or the store.
func Run(ctx context.Context, emb *embedder.Embedder, coll vectorstore.Collection, paths []string, opts *Options) (*Summary, error) {
	o := Options{}
	if opts != nil {
		o = *opts
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 64
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.Shards <= 0 {
		o.Shards = 1
	}
	if o.Shard < 0 || o.Shard >= o.Shards {
		return nil, fmt.Errorf("ingest: shard %d/%d: want 0 <= shard < shards", o.Shard, o.Shards)
	}
	info, err := coll.Info(ctx)
	if err != nil {
		return nil, err
	}
	if info.ModelVersion != emb.ModelVersion() || info.Dim != emb.Dim() {
		return nil, fmt.Errorf("ingest into %q: the model is %s (dim %d), the collection holds %s (dim %d): %w",
			info.Name, emb.ModelVersion(), emb.Dim(), info.ModelVersion, info.Dim, vectorstore.ErrModelMismatch)
	}

	start := time.Now()
	sum := &Summary{}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	total := -1
	var totalMu sync.Mutex
	go func() { // count for the progress display, alongside the work
		n := 0
		walk(ctx, paths, func(job) { n++ }, func(string, error) {})
		totalMu.Lock()
		total = n
		totalMu.Unlock()
	}()

	jobs := make(chan job, 4*o.Workers)
	outcomes := make(chan outcome, 4*o.Workers)
	// Everyone who sends outcomes is in wg, so they are closed only after
	// the last send, even when ctx stops the run early.
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(jobs)
		walk(ctx, paths, func(j job) {
			select {
			case jobs <- j:
			case <-ctx.Done():
			}
		}, func(p string, err error) {
			select {
			case outcomes <- outcome{path: p, failure: err}:
			case <-ctx.Done():
			}
		})
	}()
	for range o.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				// Take what else is waiting, up to a group, without
				// waiting for more.
				group := []job{j}
			fill:
				for len(group) < lookupGroup {
					select {
					case next, ok := <-jobs:
						if !ok {
							break fill
						}
						group = append(group, next)
					default:
						break fill
					}
				}
				for _, out := range prepareGroup(ctx, emb, coll, group, o) {
					select {
					case outcomes <- out:
					case <-ctx.Done():
						return
					}
				}
			}
		}()
	}
	go func() { wg.Wait(); close(outcomes) }()

	var batch []*prepared
	inBatch := map[string]bool{}
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		inputs := make([]*embedder.Input, len(batch))
		for i, p := range batch {
			inputs[i] = p.input
		}
		vecs := emb.Embed(inputs)
		items := make([]vectorstore.Item, len(batch))
		for i, p := range batch {
			items[i] = p.item
			items[i].Vector = vecs[i]
		}
		if err := coll.Upsert(ctx, emb.ModelVersion(), items); err != nil {
			return fmt.Errorf("ingest: %w", err)
		}
		sum.Ingested += len(batch)
		batch = batch[:0]
		clear(inBatch)
		return nil
	}
	report := func() {
		if o.Progress != nil {
			totalMu.Lock()
			t := total
			totalMu.Unlock()
			o.Progress(Progress{Total: t, Done: sum.Ingested + len(batch) + sum.Skipped + sum.OtherShard + sum.Failed, Elapsed: time.Since(start)})
		}
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for done := false; !done; {
		select {
		case out, ok := <-outcomes:
			if !ok {
				done = true
				break
			}
			switch {
			case out.fatal != nil:
				sum.Found = sum.Ingested + sum.Skipped + sum.OtherShard + sum.Failed
				sum.Elapsed = time.Since(start).Seconds()
				return sum, out.fatal
			case out.failure != nil:
				sum.Failed++
				sum.Failures = append(sum.Failures, Failure{Path: out.path, Reason: reason(out.failure)})
			case out.other:
				sum.OtherShard++
			case out.skipped || inBatch[out.item.item.ID]:
				sum.Skipped++
			default:
				inBatch[out.item.item.ID] = true
				batch = append(batch, out.item)
				if len(batch) >= o.BatchSize {
					if err := flush(); err != nil {
						return sum, err
					}
				}
			}
		case <-tick.C:
			report()
		}
	}
	if err := ctx.Err(); err != nil {
		return sum, err
	}
	if err := flush(); err != nil {
		return sum, err
	}
	sum.Found = sum.Ingested + sum.Skipped + sum.OtherShard + sum.Failed
	sum.Elapsed = time.Since(start).Seconds()
	totalMu.Lock()
	total = sum.Found
	totalMu.Unlock()
	report()
	return sum, nil
}

// walk calls take for every image file under paths and fail for every path
// that cannot be walked. Symbolic links to folders are not followed, so a
// link loop cannot trap it.
func walk(ctx context.Context, paths []string, take func(job), fail func(string, error)) {
	for _, root := range paths {
		info, err := os.Stat(root)
		if err != nil {
			fail(root, err)
			continue
		}
		if !info.IsDir() {
			take(job{root, info})
			continue
		}
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err != nil {
				fail(p, err)
				if d != nil && d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			if d.IsDir() || !dataset.IsImageName(d.Name()) {
				return nil
			}
			info, err := os.Stat(p) // follows a link to a file
			if err != nil {
				fail(p, err)
				return nil
			}
			if info.Mode().IsRegular() {
				take(job{p, info})
			}
			return nil
		})
	}
}

// lookupGroup is the most files a worker looks up in the store at once:
// one round trip per group instead of per file, which on a remote store
// (Milvus) is most of an ingest's time.
const lookupGroup = 16

// prepareGroup reads and hashes the files of group, asks the store in one
// call which it already holds, and decodes the others.
func prepareGroup(ctx context.Context, emb *embedder.Embedder, coll vectorstore.Collection, group []job, o Options) []outcome {
	outs := make([]outcome, len(group))
	datas := make([][]byte, len(group))
	ids := make([]string, len(group))
	var lookup []string
	for i, j := range group {
		outs[i].path = j.path
		data, err := os.ReadFile(j.path)
		switch {
		case err != nil:
			outs[i].failure = err
			continue
		case len(data) == 0:
			outs[i].failure = errors.New("empty file")
			continue
		}
		sum := sha256.Sum256(data)
		ids[i] = hex.EncodeToString(sum[:])
		if ShardOf(ids[i], o.Shards) != o.Shard {
			outs[i].other = true
			continue
		}
		datas[i] = data
		lookup = append(lookup, ids[i])
	}
	known := map[string]bool{}
	if len(lookup) > 0 {
		have, err := coll.Get(ctx, lookup)
		if err != nil {
			return []outcome{{path: group[0].path, fatal: fmt.Errorf("ingest: look up in the store: %w", err)}}
		}
		for _, it := range have {
			known[it.ID] = true
		}
	}
	for i, j := range group {
		if datas[i] == nil {
			continue
		}
		if known[ids[i]] {
			outs[i].skipped = true
			continue
		}
		in, err := emb.Decode(datas[i])
		datas[i] = nil
		if err != nil {
			outs[i].failure = err
			continue
		}
		abs, err := filepath.Abs(j.path)
		if err != nil {
			abs = j.path
		}
		outs[i].item = &prepared{input: in, item: vectorstore.Item{ID: ids[i], Metadata: vectorstore.Metadata{
			Path: abs, Size: j.info.Size(), Width: in.Width, Height: in.Height,
			ModTime: j.info.ModTime().UTC(), Class: filepath.Base(filepath.Dir(abs)),
		}}}
	}
	return outs
}

// reason is an error's text without the path, which the summary shows apart.
func reason(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
