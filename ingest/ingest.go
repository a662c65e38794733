// Package ingest walks image files into a vector store: read, hash, skip
// what the collection holds, decode, embed and upsert in batches. Reindex
// moves a collection to another model with the same steps, switching in one
// step (vectorstore.Store.Rebuild). The CLI and the server call these: the
// algorithms live here, not in a command.
//
// An item's ID is the SHA-256 of the file's bytes, so a re-run skips what an
// earlier (perhaps interrupted) run stored, and the same picture under two
// names is stored once. Memory does not grow with the number of files: paths
// stream through bounded channels, and only a batch is held at a time.
// Decoding runs on several goroutines while the network embeds the previous
// batch.
//
// Files from outside are not trusted: only regular files are read (a FIFO
// could block forever, a device never end), a file larger than
// Options.MaxFileBytes or not starting like an image is refused before the
// rest of it is read, and decodes share a memory budget
// (Options.DecodeMemory) estimated from each image's header, so a small file
// declaring a huge image waits for room instead of exhausting memory. Every
// read stops when ctx is done.
package ingest

import (
	"context"
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

	"golang.org/x/sync/semaphore"

	"github.com/deeprank/deeprank/embedder"
	"github.com/deeprank/deeprank/imageio"
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
	// MaxFileBytes refuses larger files before reading them; 0 means
	// DefaultMaxFileBytes.
	MaxFileBytes int64
	// DecodeMemory is the memory in bytes that the workers' decodes share,
	// each taking what its header says it needs (imageio.DecodeMemory) for
	// as long as it runs; 0 means DefaultDecodeMemory. An image needing more
	// than the whole budget is decoded alone, not refused. The bytes of the
	// files being read are not counted.
	DecodeMemory int64
	// DryRun changes nothing: new files are hashed and counted as
	// ingested, but neither decoded nor embedded nor stored (so a file that
	// would fail to decode counts as new), and moved paths are counted, not
	// stored.
	DryRun bool
	// Moved, if set, is called from Run's goroutine for each stored image
	// whose path is updated (or would be, in a dry run), with the stored
	// path and the new one.
	Moved func(id, from, to string)
}

// DefaultDecodeMemory is the decode budget by default: 512 MB, room for a
// few camera photos at once, or one 16-bit image of 40 megapixels.
const DefaultDecodeMemory = 512 << 20

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
	Moved      int       `json:"moved"`       // stored, their stored path gone: now stored under the path found
	OtherShard int       `json:"other_shard"` // left to other shards
	Failed     int       `json:"failed"`
	Failures   []Failure `json:"failures,omitempty"`
	Elapsed    float64   `json:"elapsed_seconds"`
}

// shardOf is the shard of an item ID among n: its first 8 bytes modulo n.
// An ID shorter than that, or not hexadecimal, is in shard 0.
func shardOf(id string, n int) int {
	if len(id) < 16 || n <= 1 {
		return 0
	}
	raw, err := hex.DecodeString(id[:16])
	if err != nil {
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
	// moved is a stored item, with its vector, to store again under this
	// file's path: the stored path, from, is gone.
	moved   *vectorstore.Item
	from    string
	other   bool
	failure error
	// fatal stops the whole run: the store failed, not the file.
	fatal error
}

// CollectionSpec is the spec of a collection for emb's vectors, compared
// by metric.
func CollectionSpec(emb *embedder.Embedder, metric vectorstore.Metric) vectorstore.Spec {
	return vectorstore.Spec{Dim: emb.Dim(), Metric: metric, ModelVersion: emb.ModelVersion(), Variants: emb.PerItem(), Learned: emb.Learned()}
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
	if o.MaxFileBytes <= 0 {
		o.MaxFileBytes = DefaultMaxFileBytes
	}
	if o.DecodeMemory <= 0 {
		o.DecodeMemory = DefaultDecodeMemory
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
	if info.PerItem() != emb.PerItem() {
		return nil, fmt.Errorf("ingest into %q: the collection stores %d vectors an image, this ingest %d (ingest.variants): set ingest.variants to %v, as when the collection was made, or run deeprank reindex to store %d",
			info.Name, info.PerItem(), emb.PerItem(), info.PerItem() > 1, emb.PerItem())
	}
	if info.Learned != emb.Learned() {
		return nil, fmt.Errorf("ingest into %q: the collection says %d of its values are learned, the model %d (a collection made before deeprank recorded it): run deeprank reindex: %w",
			info.Name, info.LearnedDim(), CollectionSpec(emb, info.Metric).LearnedDim(), vectorstore.ErrModelMismatch)
	}

	start := time.Now()
	sum := &Summary{}
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// end completes the summary for every return; an error that comes of
	// ctx (an interrupt), whichever step it stopped, becomes *Interrupted.
	end := func(err error) (*Summary, error) {
		sum.Found = sum.Ingested + sum.Skipped + sum.Moved + sum.OtherShard + sum.Failed
		sum.Elapsed = time.Since(start).Seconds()
		if cause := parent.Err(); cause != nil {
			return sum, &Interrupted{Stored: sum.Ingested, Err: cause}
		}
		return sum, err
	}

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
	mem := semaphore.NewWeighted(o.DecodeMemory)
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
				group, bytes := []job{j}, j.info.Size()
			fill:
				for len(group) < lookupGroup && bytes < groupBytes {
					select {
					case next, ok := <-jobs:
						if !ok {
							break fill
						}
						group = append(group, next)
						bytes += next.info.Size()
					default:
						break fill
					}
				}
				for _, out := range prepareGroup(ctx, emb, coll, group, o, mem) {
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
	var moved []vectorstore.Item
	var movedFrom []string
	// taken holds the IDs in batch or moved, so that a second copy found in
	// the same run is a duplicate.
	taken := map[string]bool{}
	flush := func() error {
		if len(batch)+len(moved) == 0 {
			return nil
		}
		done := func() {
			for i, it := range moved {
				if o.Moved != nil {
					o.Moved(it.ID, movedFrom[i], it.Metadata.Path)
				}
			}
			sum.Ingested += len(batch)
			sum.Moved += len(moved)
			batch, moved, movedFrom = batch[:0], moved[:0], movedFrom[:0]
			clear(taken)
		}
		if o.DryRun {
			done()
			return nil
		}
		inputs := make([]*embedder.Input, len(batch))
		for i, p := range batch {
			inputs[i] = p.input
		}
		vecs := emb.EmbedItems(inputs)
		items := make([]vectorstore.Item, len(batch), len(batch)+len(moved))
		for i, p := range batch {
			items[i] = p.item
			items[i].Vector = vecs[i]
		}
		if err := coll.Upsert(ctx, emb.ModelVersion(), append(items, moved...)); err != nil {
			return fmt.Errorf("ingest: %w", err)
		}
		done()
		return nil
	}
	report := func() {
		if o.Progress != nil {
			totalMu.Lock()
			t := total
			totalMu.Unlock()
			o.Progress(Progress{Total: t, Done: sum.Ingested + len(batch) + sum.Moved + len(moved) + sum.Skipped + sum.OtherShard + sum.Failed, Elapsed: time.Since(start)})
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
			if ctx.Err() != nil {
				break // interrupted: drain, and store no more
			}
			switch {
			case out.fatal != nil:
				return end(out.fatal)
			case out.failure != nil:
				sum.Failed++
				sum.Failures = append(sum.Failures, Failure{Path: out.path, Reason: reason(out.failure)})
			case out.other:
				sum.OtherShard++
			case out.moved != nil && !taken[out.moved.ID]:
				taken[out.moved.ID] = true
				moved = append(moved, *out.moved)
				movedFrom = append(movedFrom, out.from)
			case out.skipped || out.moved != nil || taken[out.item.item.ID]:
				sum.Skipped++
			default:
				taken[out.item.item.ID] = true
				batch = append(batch, out.item)
			}
			if len(batch)+len(moved) >= o.BatchSize {
				if err := flush(); err != nil {
					return end(err)
				}
			}
		case <-tick.C:
			report()
		}
	}
	if err := ctx.Err(); err != nil {
		return end(err)
	}
	if err := flush(); err != nil {
		return end(err)
	}
	sum, err = end(nil)
	totalMu.Lock()
	total = sum.Found
	totalMu.Unlock()
	report()
	return sum, err
}

// Interrupted is the error of a run stopped by its context (Ctrl-C): what
// was stored stays, and running ingest again resumes. It wraps the
// context's error, so errors.Is(err, context.Canceled) holds.
type Interrupted struct {
	// Stored is the number of images stored before the interruption.
	Stored int
	Err    error
}

func (e *Interrupted) Error() string {
	return fmt.Sprintf("interrupted: %d stored, re-run to resume", e.Stored)
}

func (e *Interrupted) Unwrap() error { return e.Err }

// walk calls take for every path named and every file with an image name
// under the folders named, and fail for every path that cannot be walked.
// Symbolic links to folders are not followed, so a link loop cannot trap it.
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
			if d.IsDir() || !imageio.IsImageName(d.Name()) {
				return nil
			}
			info, err := os.Stat(p) // follows a link to a file
			if err != nil {
				fail(p, err)
				return nil
			}
			take(job{p, info}) // the reader refuses what is not a regular file
			return nil
		})
	}
}

// lookupGroup is the most files a worker looks up in the store at once:
// one round trip per group instead of per file, which on a remote store
// (Milvus) is most of an ingest's time.
const lookupGroup = 16

// groupBytes stops a group growing once its files hold this many bytes,
// since a worker holds its whole group in memory between the lookup and the
// decodes.
const groupBytes = 64 << 20

// prepareGroup reads and hashes the files of group, asks the store in one
// call which it already holds, and decodes the others within the memory
// budget mem. It returns nothing once ctx is done: an interrupted file has
// not failed.
func prepareGroup(ctx context.Context, emb *embedder.Embedder, coll vectorstore.Collection, group []job, o Options, mem *semaphore.Weighted) []outcome {
	outs := make([]outcome, len(group))
	datas := make([][]byte, len(group))
	ids := make([]string, len(group))
	var lookup []string
	for i, j := range group {
		outs[i].path = j.path
		data, id, err := ReadImage(ctx, j.path, o.MaxFileBytes)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			outs[i].failure = err
			continue
		}
		ids[i] = id
		if shardOf(id, o.Shards) != o.Shard {
			outs[i].other = true
			continue
		}
		datas[i] = data
		lookup = append(lookup, id)
	}
	known := map[string]vectorstore.Item{}
	if len(lookup) > 0 {
		have, err := coll.Get(ctx, lookup)
		if err != nil {
			return []outcome{{path: group[0].path, fatal: fmt.Errorf("ingest: look up in the store: %w", err)}}
		}
		for _, it := range have {
			known[it.ID] = it
		}
	}
	for i, j := range group {
		if datas[i] == nil {
			continue
		}
		abs, err := filepath.Abs(j.path)
		if err != nil {
			abs = j.path
		}
		if it, ok := known[ids[i]]; ok {
			if it.Metadata.Path != abs && gone(it.Metadata.Path) {
				outs[i].from = it.Metadata.Path
				it.Metadata = metadata(abs, j.info, it.Metadata.Width, it.Metadata.Height)
				outs[i].moved = &it
			} else {
				outs[i].skipped = true
			}
			continue
		}
		if o.DryRun {
			datas[i] = nil
			outs[i].item = &prepared{item: vectorstore.Item{ID: ids[i], Metadata: metadata(abs, j.info, 0, 0)}}
			continue
		}
		in, err := decode(ctx, emb, datas[i], mem, o.DecodeMemory)
		datas[i] = nil
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			outs[i].failure = err
			continue
		}
		outs[i].item = &prepared{input: in, item: vectorstore.Item{ID: ids[i], Metadata: metadata(abs, j.info, in.Width, in.Height)}}
	}
	return outs
}

// metadata describes the image file at abs.
func metadata(abs string, info fs.FileInfo, width, height int) vectorstore.Metadata {
	return vectorstore.Metadata{Path: abs, Size: info.Size(), Width: width, Height: height,
		ModTime: info.ModTime().UTC(), Class: filepath.Base(filepath.Dir(abs))}
}

// gone reports whether nothing is at path any more: a stored path that is
// gone may be replaced by another with the same bytes.
func gone(path string) bool {
	_, err := os.Stat(path)
	return errors.Is(err, fs.ErrNotExist)
}

// decode decodes data once the memory its header says it needs is free in
// mem, a budget of budget bytes shared by the workers. An image needing more
// than the whole budget takes all of it, and so is decoded alone.
func decode(ctx context.Context, emb *embedder.Embedder, data []byte, mem *semaphore.Weighted, budget int64) (*embedder.Input, error) {
	need, err := emb.DecodeMemory(data)
	if err != nil {
		return nil, err
	}
	need = min(need, budget)
	if err := mem.Acquire(ctx, need); err != nil {
		return nil, err
	}
	in, err := emb.DecodeItem(data)
	if need >= budget/4 {
		// The collector paces itself on the live heap, which a decode this
		// large inflated: left alone, it lets the next decodes allocate
		// beside this one's garbage, and the process holds twice the
		// budget (1.2 GB instead of 0.6 for 16-bit 7000x7000 PNGs). Collect
		// it before giving the budget back.
		runtime.GC()
	}
	mem.Release(need)
	return in, err
}

// reason is an error's text without the path, which the summary shows apart.
func reason(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
