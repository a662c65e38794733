package embedded

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/deeprank/deeprank/internal/atomicfile"
	"github.com/deeprank/deeprank/vectorstore"
)

// collection is an open collection: its segments mapped, its log replayed
// into memory. A writer's collection is the only one that changes the
// files; a reader's follows them, reloading when the manifest is replaced
// and reading what was appended to the log.
type collection struct {
	store    *Store
	name     string
	dir      string
	mname    string // the manifest's file name: manifestName, or a rebuild's staging one
	writable bool

	mu     sync.RWMutex
	closed bool
	// broken is set when a write failed in a way that leaves this
	// process's view of the files in doubt (an fsync error, a step after
	// a compaction published its manifest): every later call returns it,
	// and the next open reads the files afresh.
	broken error
	st     *state
	mapped map[string]*segment // by file name, shared by successive states

	// merging is the writer's background merge under way, if any;
	// mergeDone is signalled when one ends (see compact.go).
	merging   *mergeJob
	mergeDone *sync.Cond
}

func newCollection(s *Store, name, dir, mname string, writable bool) *collection {
	c := &collection{store: s, name: name, dir: dir, mname: mname, writable: writable, mapped: map[string]*segment{}}
	c.mergeDone = sync.NewCond(&c.mu)
	return c
}

// state is what a collection holds at one moment.
type state struct {
	man   *manifest
	mstat os.FileInfo // the manifest file's, to notice its replacement
	// mfile holds the manifest read open, so that its inode cannot be
	// reused by a newer manifest that the stat above would then miss.
	mfile *os.File
	segs  []*segView
	mem   *memtable
	log   *os.File
	// logEnd is the end of the last record that verified; torn the bytes
	// after it that are a write cut short (a reader leaves them alone: the
	// write may still be under way).
	logEnd, torn int64
}

// segView is a segment with the rows of it that are no longer live.
type segView struct {
	*segment
	ref  segmentRef
	dead bitset // from the mask file and the log
	live int
}

var _ vectorstore.Collection = (*collection)(nil)

var errClosed = errors.New("collection is closed")

func (c *collection) path(file string) string { return filepath.Join(c.dir, file) }

// load reads the collection's current state. A reader may find a file the
// manifest names already gone (a writer compacted meanwhile): it then
// reads the new manifest.
func (c *collection) load() (*state, error) {
	for attempt := 0; ; attempt++ {
		st, err := c.tryLoad()
		if err == nil || !errors.Is(err, fs.ErrNotExist) || attempt == 100 {
			return st, err
		}
		if _, serr := os.Stat(c.path(c.mname)); errors.Is(serr, fs.ErrNotExist) {
			return nil, c.errorf("open", vectorstore.ErrNotFound)
		}
		// A writer flushing or merging often (small logs) can replace the
		// files again before a busy reader has opened them: wait a little
		// longer each time.
		time.Sleep(time.Duration(attempt) * 100 * time.Microsecond)
	}
}

func (c *collection) errorf(op string, err error) error {
	return fmt.Errorf("%s collection %q: %w", op, c.name, err)
}

func (c *collection) tryLoad() (*state, error) {
	f, err := os.Open(c.path(c.mname))
	if err != nil {
		return nil, err
	}
	st := &state{mfile: f, mem: newMemtable(0)}
	ok := false
	defer func() {
		if !ok {
			st.release()
		}
	}()
	if st.mstat, err = f.Stat(); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, 16<<20))
	if err != nil {
		return nil, err
	}
	man, err := decodeManifest(data)
	if err != nil {
		return nil, c.corrupt(&Damage{File: c.mname, Offset: -1, Reason: err.Error()})
	}
	st.man, st.mem = man, newMemtable(man.Spec.ItemLen())
	if st.segs, err = c.segViews(man); err != nil {
		return nil, err
	}
	flag := os.O_RDONLY
	if c.writable {
		flag = os.O_RDWR
	}
	if st.log, err = os.OpenFile(c.path(man.Log), flag, 0); err != nil {
		return nil, err
	}
	if err := c.readLog(st); err != nil {
		return nil, err
	}
	if c.writable && st.torn > 0 {
		if err := st.log.Truncate(st.logEnd); err != nil {
			return nil, c.errorf("open", err)
		}
		if err := st.log.Sync(); err != nil {
			return nil, c.errorf("open", err)
		}
		c.store.logf("collection %q: dropped %d bytes of a write cut short at the end of %s (never acknowledged)", c.name, st.torn, man.Log)
		st.torn = 0
	}
	ok = true
	return st, nil
}

// segViews maps the segments a manifest names, each with its mask,
// checking their rows against the manifest's.
func (c *collection) segViews(man *manifest) ([]*segView, error) {
	var out []*segView
	for _, ref := range man.Segments {
		seg, err := c.segment(ref.File, shapeOf(man.Spec))
		if err != nil {
			return nil, err
		}
		if seg.n != ref.Rows {
			return nil, c.corrupt(&Damage{File: ref.File, Offset: -1, Reason: fmt.Sprintf("%d rows, the manifest says %d", seg.n, ref.Rows)})
		}
		v := &segView{segment: seg, ref: ref, dead: newBitset(seg.n)}
		if ref.Mask != "" {
			if v.dead, err = readMask(c.path(ref.Mask), seg.n); errors.Is(err, fs.ErrNotExist) {
				return nil, err // replaced by a compaction meanwhile: load retries
			} else if err != nil {
				return nil, c.corrupt(err)
			}
		}
		v.live = seg.n - v.dead.count()
		if v.live != ref.Live {
			return nil, c.corrupt(&Damage{File: ref.Mask, Offset: -1, Reason: fmt.Sprintf("%d live rows, the manifest says %d", v.live, ref.Live)})
		}
		out = append(out, v)
	}
	return out, nil
}

// segment maps a segment file, or returns the mapping it already has.
func (c *collection) segment(file string, sh shape) (*segment, error) {
	if s, ok := c.mapped[file]; ok {
		return s, nil
	}
	s, err := openSegment(c.dir, file, sh)
	if err != nil {
		var d *Damage
		if errors.As(err, &d) {
			return nil, c.corrupt(d)
		}
		return nil, err
	}
	c.mapped[file] = s
	return s, nil
}

// corrupt reports damage with what to do about it.
func (c *collection) corrupt(err error) error {
	return fmt.Errorf("collection %q: %w: %w; `deeprank check` lists the damage, `deeprank repair --collection %s` keeps everything that verifies",
		c.name, ErrCorrupt, err, c.name)
}

// readLog reads the log from st.logEnd to its end into st.
func (c *collection) readLog(st *state) error {
	fi, err := st.log.Stat()
	if err != nil {
		return err
	}
	n := fi.Size() - st.logEnd
	if n <= 0 {
		st.torn = 0 // the writer dropped the torn tail
		return nil
	}
	data := make([]byte, n)
	if _, err := st.log.ReadAt(data, st.logEnd); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	scan := scanLog(st.man.Log, st.logEnd, data, st.man.Spec.ItemLen(), st.apply)
	st.logEnd, st.torn = scan.end, scan.torn
	if scan.damage != nil {
		return c.corrupt(scan.damage)
	}
	return nil
}

// apply applies log entries: an item lives in exactly one place, the
// memtable or one segment row, so an upsert or delete of an id kills its
// segment row.
func (st *state) apply(es []entry) {
	for _, e := range es {
		_, inMem := st.mem.pos[e.id]
		if !inMem {
			st.kill(e.id)
		}
		if e.op == opUpsert {
			st.mem.put(e.item, e.js)
		} else {
			st.mem.remove(e.id)
		}
	}
}

func (st *state) kill(id string) {
	raw, _ := hex.DecodeString(id)
	for _, v := range st.segs {
		if i := v.find(raw); i >= 0 && !v.dead.has(i) {
			v.dead.set(i)
			v.live--
			return
		}
	}
}

// locate finds a live item: in the memtable (seg nil, row its index), or a
// segment row.
func (st *state) locate(id string) (seg *segView, row int, ok bool) {
	if i, ok := st.mem.pos[id]; ok {
		return nil, i, true
	}
	raw, err := hex.DecodeString(id)
	if err != nil || len(raw) != 32 {
		return nil, 0, false
	}
	for _, v := range st.segs {
		if i := v.find(raw); i >= 0 && !v.dead.has(i) {
			return v, i, true
		}
	}
	return nil, 0, false
}

func (st *state) item(seg *segView, row int) (vectorstore.Item, error) {
	if seg == nil {
		return st.mem.item(row), nil
	}
	m, err := seg.meta(row)
	return vectorstore.Item{ID: hex.EncodeToString(seg.id(row)), Vector: slices.Clone(seg.vector(row)), Metadata: m}, err
}

func (st *state) count() int {
	n := len(st.mem.ids)
	for _, v := range st.segs {
		n += v.live
	}
	return n
}

// view runs fn on the current state, after a reader has caught up with
// the files.
func (c *collection) view(fn func(*state) error) error {
	if !c.writable {
		if err := c.refresh(); err != nil {
			return err
		}
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	if err := c.usable("use"); err != nil {
		return err
	}
	return fn(c.st)
}

// usable says why the collection cannot be used, if it cannot. The caller
// holds c.mu.
func (c *collection) usable(op string) error {
	switch {
	case c.closed:
		return c.errorf(op, errClosed)
	case c.broken != nil:
		return c.broken
	case c.st == nil:
		return c.errorf(op, vectorstore.ErrNotFound)
	}
	return nil
}

// refresh brings a reader's state up to date: a new manifest (compaction,
// reindex, drop) is loaded whole, and records appended to the log are
// read. Two stats when nothing changed.
func (c *collection) refresh() error {
	fi, err := os.Stat(c.path(c.mname))
	if errors.Is(err, fs.ErrNotExist) {
		// Dropped: let go of its files, so that their space is freed.
		c.mu.Lock()
		defer c.mu.Unlock()
		c.swap(nil)
		return c.errorf("open", vectorstore.ErrNotFound)
	}
	if err != nil {
		return c.errorf("open", err)
	}
	c.mu.RLock()
	st := c.st
	if c.closed {
		c.mu.RUnlock()
		return c.errorf("use", errClosed)
	}
	newManifest := st == nil || !os.SameFile(fi, st.mstat) || fi.ModTime() != st.mstat.ModTime() || fi.Size() != st.mstat.Size()
	grew, shrank := false, false
	if !newManifest {
		lfi, err := st.log.Stat()
		grew = err == nil && lfi.Size() != st.logEnd+st.torn
		// Below what this reader has read: the writer took back a batch
		// whose fsync failed. Read everything again.
		shrank = err == nil && lfi.Size() < st.logEnd
	}
	c.mu.RUnlock()
	if !newManifest && !grew {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.st != st { // another goroutine refreshed meanwhile
		return nil
	}
	if grew && !shrank {
		return c.readLog(st)
	}
	fresh, err := c.load()
	if err != nil {
		return err
	}
	c.swap(fresh)
	return nil
}

// swap replaces the state, closing the old log and unmapping segments the
// new state does not use. The caller holds c.mu for writing.
func (c *collection) swap(fresh *state) {
	old := c.st
	c.st = fresh
	if old != nil {
		if fresh == nil || old.log != fresh.log {
			old.log.Close()
		}
		if fresh == nil || old.mfile != fresh.mfile {
			old.mfile.Close()
		}
	}
	keep := map[string]bool{}
	if fresh != nil {
		for _, v := range fresh.segs {
			keep[v.file] = true
		}
	}
	for file, s := range c.mapped {
		if !keep[file] {
			s.close()
			delete(c.mapped, file)
		}
	}
}

func (c *collection) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeLocked()
}

// closeLocked releases the collection's files; the caller holds c.mu.
func (c *collection) closeLocked() error {
	if c.closed {
		return nil
	}
	c.haltMerge()
	c.closed = true
	var errs []error
	if c.st != nil {
		errs = append(errs, c.st.release())
		c.st = nil
	}
	for file, s := range c.mapped {
		errs = append(errs, s.close())
		delete(c.mapped, file)
	}
	return errors.Join(errs...)
}

// release closes the files a state holds open (its segments are the
// collection's to unmap).
func (st *state) release() error {
	var errs []error
	if st.log != nil {
		errs = append(errs, st.log.Close())
	}
	if st.mfile != nil {
		errs = append(errs, st.mfile.Close())
	}
	return errors.Join(errs...)
}

func (c *collection) Info(ctx context.Context) (vectorstore.Info, error) {
	var info vectorstore.Info
	err := c.view(func(st *state) error {
		info = vectorstore.Info{Name: c.name, Spec: st.man.Spec, Count: st.count()}
		return nil
	})
	return info, err
}

func (c *collection) Count(ctx context.Context) (int, error) {
	n := 0
	err := c.view(func(st *state) error { n = st.count(); return nil })
	return n, err
}

// checkModel refuses a vector of n values made by version unless the
// collection holds that model's vectors, want values long (an item's,
// or a query's).
func checkModel(name, op, version string, n, want int, spec vectorstore.Spec) error {
	if version != spec.ModelVersion || n != want {
		return fmt.Errorf("%s in %q: %d values of model %s, the collection holds model %s and wants %d (dim %d, %d vectors an item): %w",
			op, name, n, version, spec.ModelVersion, want, spec.Dim, spec.PerItem(), vectorstore.ErrModelMismatch)
	}
	return nil
}

// Get copies each item out of the segment that holds it. With
// Options.ReleaseScanned, the pages it read leave the resident set after
// the call: rows read at random touch every column, and the kernel maps
// the pages around each one it reads (64 KB), so a few thousand Gets
// would otherwise keep most of a segment resident.
func (c *collection) Get(ctx context.Context, ids []string) ([]vectorstore.Item, error) {
	var out []vectorstore.Item
	err := c.view(func(st *state) error {
		read := map[*segView]bool{}
		defer func() {
			if c.store.opts.ReleaseScanned {
				for v := range read {
					release(v.data)
				}
			}
		}()
		for _, id := range ids {
			if seg, row, ok := st.locate(id); ok {
				it, err := st.item(seg, row)
				if err != nil {
					return c.corrupt(err)
				}
				out = append(out, it)
				if seg != nil {
					read[seg] = true
				}
			}
		}
		return nil
	})
	return out, err
}

func (c *collection) Has(ctx context.Context, ids []string) ([]bool, error) {
	out := make([]bool, len(ids))
	err := c.view(func(st *state) error {
		for i, id := range ids {
			_, _, out[i] = st.locate(id)
		}
		return nil
	})
	return out, err
}

// Scan copies a chunk of items at a time under the lock and calls fn
// without it, so fn may write to the collection.
func (c *collection) Scan(ctx context.Context, fn func(vectorstore.Item) error) error {
	const chunk = 1024
	var ids []string
	err := c.view(func(st *state) error {
		ids = slices.Clone(st.mem.ids)
		for _, v := range st.segs {
			for i := range v.n {
				if !v.dead.has(i) {
					ids = append(ids, hex.EncodeToString(v.id(i)))
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for lo := 0; lo < len(ids); lo += chunk {
		if err := ctx.Err(); err != nil {
			return err
		}
		items, err := c.Get(ctx, ids[lo:min(lo+chunk, len(ids))])
		if err != nil {
			return err
		}
		for _, it := range items {
			if err := fn(it); err != nil {
				return err
			}
		}
	}
	return nil
}

// edit runs fn on the writer's state under the lock.
func (c *collection) edit(op string, fn func(*state) error) error {
	if !c.writable {
		return c.errorf(op, ErrReadOnly)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.usable(op); err != nil {
		return err
	}
	return fn(c.st)
}

func (c *collection) Upsert(ctx context.Context, version string, items []vectorstore.Item) error {
	return c.edit("upsert in", func(st *state) error {
		entries := make([]entry, len(items))
		for i, it := range items {
			if err := checkModel(c.name, "upsert", version, len(it.Vector), st.man.Spec.ItemLen(), st.man.Spec); err != nil {
				return err
			}
			if !vectorstore.ValidID(it.ID) {
				return fmt.Errorf("upsert in %q: %w: id %q is not a hex SHA-256", c.name, vectorstore.ErrInvalid, it.ID)
			}
			if err := checkFinite(it.Vector); err != nil {
				return fmt.Errorf("upsert in %q: %w: item %s: %v", c.name, vectorstore.ErrInvalid, it.ID, err)
			}
			if y := it.Metadata.ModTime.Year(); y < 0 || y > 9999 {
				// JSON, which the log stores metadata as, has no such years.
				return fmt.Errorf("upsert in %q: %w: item %s: modification time %v is outside the years 0-9999", c.name, vectorstore.ErrInvalid, it.ID, it.Metadata.ModTime)
			}
			// One item is one log record at the most (replay refuses
			// longer records as damage).
			if 4*len(it.Vector)+len(it.Metadata.Path)+len(it.Metadata.Class)+1024 > maxRecord {
				return fmt.Errorf("upsert in %q: %w: item %s is larger than a log record may be", c.name, vectorstore.ErrInvalid, it.ID)
			}
			entries[i] = entry{op: opUpsert, id: it.ID, item: it}
		}
		return c.append(st, "upsert in", entries)
	})
}

func (c *collection) Delete(ctx context.Context, ids []string) error {
	return c.edit("delete in", func(st *state) error {
		var entries []entry
		for _, id := range ids {
			if _, _, ok := st.locate(id); ok {
				entries = append(entries, entry{op: opDelete, id: id})
			}
		}
		return c.append(st, "delete in", entries)
	})
}

// append writes entries to the log as one record (more only past
// maxRecord), fsyncs, then applies them; on failure it cuts the log back,
// so no part of the batch stays behind. A log grown past the store's
// threshold is then compacted into a segment.
func (c *collection) append(st *state, op string, entries []entry) error {
	if len(entries) == 0 {
		return nil
	}
	buf := encodeRecords(entries)
	if _, err := st.log.WriteAt(buf, st.logEnd); err != nil {
		st.log.Truncate(st.logEnd)
		return fmt.Errorf("%s %q: %w", op, c.name, err)
	}
	if err := st.log.Sync(); err != nil {
		// After a failed fsync what is on disk is unknown (and a reader
		// may have read the batch): stop, and let the next open read the
		// log as it is.
		c.broken = fmt.Errorf("%s %q: %w; the batch may or may not be stored: close the store and open it again", op, c.name, err)
		return c.broken
	}
	st.logEnd += int64(len(buf))
	st.apply(entries)
	if st.logEnd >= c.store.opts.CompactLogBytes {
		if err := c.flush(); err != nil {
			return fmt.Errorf("%s %q: the batch is stored; compacting the log after it: %w", op, c.name, err)
		}
	}
	return nil
}

// memtable holds the items of the log in memory, with their metadata as
// JSON too, for the segment a compaction writes.
type memtable struct {
	width int // values an item: its vectors, one after another
	ids   []string
	// vecs holds the vectors in chunks of memChunk rows: one growing slice
	// would copy every vector again each time it grew (a fifth of an
	// ingest's time at a million items).
	vecs [][]float32
	meta []vectorstore.Metadata
	js   [][]byte
	pos  map[string]int
}

const memChunk = 1024

func newMemtable(width int) *memtable { return &memtable{width: width, pos: map[string]int{}} }

func (m *memtable) put(it vectorstore.Item, js []byte) {
	if i, ok := m.pos[it.ID]; ok {
		copy(m.vector(i), it.Vector)
		m.meta[i], m.js[i] = it.Metadata, js
		return
	}
	row := len(m.ids)
	if row/memChunk == len(m.vecs) {
		m.vecs = append(m.vecs, make([]float32, memChunk*m.width))
	}
	m.pos[it.ID] = row
	m.ids = append(m.ids, it.ID)
	copy(m.vector(row), it.Vector)
	m.meta = append(m.meta, it.Metadata)
	m.js = append(m.js, js)
}

// remove deletes an item by moving the last one into its slot.
func (m *memtable) remove(id string) bool {
	i, ok := m.pos[id]
	if !ok {
		return false
	}
	last := len(m.ids) - 1
	if i != last {
		m.ids[i], m.meta[i], m.js[i] = m.ids[last], m.meta[last], m.js[last]
		copy(m.vector(i), m.vector(last))
		m.pos[m.ids[i]] = i
	}
	m.ids, m.meta, m.js = m.ids[:last], m.meta[:last], m.js[:last]
	if chunks := (last + memChunk - 1) / memChunk; chunks < len(m.vecs) {
		m.vecs[chunks] = nil
		m.vecs = m.vecs[:chunks]
	}
	delete(m.pos, id)
	return true
}

func (m *memtable) vector(i int) []float32 {
	at := (i % memChunk) * m.width
	return m.vecs[i/memChunk][at : at+m.width : at+m.width]
}

func (m *memtable) item(i int) vectorstore.Item {
	return vectorstore.Item{ID: m.ids[i], Vector: slices.Clone(m.vector(i)), Metadata: m.meta[i]}
}

// sortedMem is the memtable as a rowSource, in id order.
type sortedMem struct {
	m     *memtable
	order []int
	raw   [][]byte
}

func newSortedMem(m *memtable) *sortedMem {
	n := len(m.ids)
	s := &sortedMem{m: m, order: make([]int, n), raw: make([][]byte, n)}
	ids := make([]byte, 32*n)
	for i := range n {
		s.order[i] = i
		s.raw[i] = ids[32*i : 32*i+32 : 32*i+32]
		hex.Decode(s.raw[i], []byte(m.ids[i])) // ids are validated before
	}
	slices.SortFunc(s.order, func(a, b int) int { return bytes.Compare(s.raw[a], s.raw[b]) })
	return s
}

func (s *sortedMem) rows() int              { return len(s.order) }
func (s *sortedMem) id(i int) []byte        { return s.raw[s.order[i]] }
func (s *sortedMem) vector(i int) []float32 { return s.m.vector(s.order[i]) }
func (s *sortedMem) class(i int) string     { return s.m.meta[s.order[i]].Class }
func (s *sortedMem) path(i int) string      { return s.m.meta[s.order[i]].Path }
func (s *sortedMem) metaJSON(i int) []byte  { return s.m.js[s.order[i]] }
func (s *sortedMem) code(i int, codes []int8, quant []float32) ([]int8, []float32) {
	return quantizeRow(s.vector(i), codes, quant)
}

// loadWith is the state of a manifest the writer has just published, with
// its segments' masks read afresh and an empty memtable.
func (c *collection) loadWith(man *manifest, log *os.File) (*state, error) {
	segs, err := c.segViews(man)
	if err != nil {
		log.Close()
		return nil, err
	}
	st, err := c.newState(man, segs, newMemtable(man.Spec.ItemLen()), log)
	if err != nil {
		log.Close()
	}
	return st, err
}

// newState is the writer's state after it published man.
func (c *collection) newState(man *manifest, segs []*segView, mem *memtable, log *os.File) (*state, error) {
	mfile, err := os.Open(c.path(c.mname))
	if err != nil {
		return nil, err
	}
	fi, err := mfile.Stat()
	if err != nil {
		mfile.Close()
		return nil, err
	}
	return &state{man: man, mstat: fi, mfile: mfile, segs: segs, mem: mem, log: log}, nil
}

// removeUnused deletes the files of old that fresh no longer names. A
// reader that has them open or mapped keeps reading them until it moves
// to the new manifest.
func (c *collection) removeUnused(old, fresh []string) {
	for _, f := range old {
		if !slices.Contains(fresh, f) {
			os.Remove(c.path(f))
		}
	}
	atomicfile.SyncDir(c.dir)
}

// createLog makes a new, empty log file, durably.
func createLog(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	return f, nil
}

// removeStray deletes what a crash left in a writer's collection folder:
// files the manifest does not name (a compaction or reindex cut short, a
// migration's old files, temporary files). Files set aside by repair
// (*.damaged) are kept.
func (c *collection) removeStray() {
	ents, err := os.ReadDir(c.dir)
	if err != nil {
		return
	}
	named := c.st.man.files()
	for _, e := range ents {
		if !slices.Contains(named, e.Name()) && !strings.HasSuffix(e.Name(), damagedSuffix) {
			os.RemoveAll(c.path(e.Name()))
		}
	}
}

// checkFinite refuses NaN and infinite values, which would rank first.
func checkFinite(v []float32) error {
	for i, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return fmt.Errorf("value %d is %v", i, x)
		}
	}
	return nil
}
