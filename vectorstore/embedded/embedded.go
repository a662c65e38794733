package embedded

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
	"unsafe"

	"github.com/deeprank/deeprank/internal/atomicfile"
	"github.com/deeprank/deeprank/vectorstore"
)

// Sentinel errors, matched with errors.Is.
var (
	// ErrLocked is returned by Open for a writer when another process
	// holds the store's writer lock past Options.LockWait.
	ErrLocked = errors.New("store is in use by another deeprank process that writes to it")
	// ErrCorrupt is returned when a collection's files fail their checks
	// in a way a write cut short by a crash cannot explain. The error
	// holds a *Damage saying where.
	ErrCorrupt = errors.New("store is damaged")
	// ErrReadOnly is returned for a write through a store opened read-only.
	ErrReadOnly = errors.New("store is open read-only")
	// ErrOldFormat is returned by a read-only store for a collection in
	// the format before segments, which only a writer migrates.
	ErrOldFormat = errors.New("collection is in the old format; any writing command (deeprank ingest, or deeprank compact) migrates it")
)

// Damage says where a collection's files fail their checks.
type Damage struct {
	// File is the file's name within the collection's folder.
	File string
	// Offset is the byte offset of the damaged record in a log, or -1.
	Offset int64
	// Reason says what is wrong.
	Reason string
}

func (d *Damage) Error() string {
	if d.Offset >= 0 {
		return fmt.Sprintf("%s at byte %d: %s", d.File, d.Offset, d.Reason)
	}
	return fmt.Sprintf("%s: %s", d.File, d.Reason)
}

// Options configure Open; nil means the defaults.
type Options struct {
	// ReadOnly opens the store as a reader: no lock, no writes, and the
	// collections follow what the writer commits.
	ReadOnly bool
	// LockWait is how long a writer waits for another writer to finish
	// (0: fail at once with ErrLocked).
	LockWait time.Duration
	// OnLockWait is called once when a writer starts waiting, with the
	// holder's process id (0 if unknown).
	OnLockWait func(pid int)
	// CompactLogBytes is the log size past which a write compacts the
	// log into a segment (default 16 MB).
	CompactLogBytes int64
	// ReleaseScanned drops the pages of the store's files that a search,
	// a Get or ReadBlocks read from the process's resident set after use
	// (they stay in the page cache): for one-shot commands over big
	// collections. A long-lived reader leaves it off to keep its vectors
	// mapped.
	ReleaseScanned bool
	// Logf receives notices a user should see: a torn write dropped, a
	// collection migrated. Nil discards them.
	Logf func(format string, args ...any)
}

// Store is a folder of collections.
type Store struct {
	dir  string
	opts Options
	lock *os.File // the writer's; nil for a reader

	mu   sync.Mutex
	open map[string]*collection
}

var _ vectorstore.Store = (*Store)(nil)

// Open opens the store in dir; a writer creates it if needed and takes
// the writer lock, waiting up to opts.LockWait for another writer.
func Open(dir string, opts *Options) (*Store, error) {
	s := &Store{dir: dir, open: map[string]*collection{}}
	if opts != nil {
		s.opts = *opts
	}
	if s.opts.CompactLogBytes <= 0 {
		s.opts.CompactLogBytes = 16 << 20
	}
	if x := uint16(1); *(*byte)(unsafe.Pointer(&x)) != 1 {
		return nil, errors.New("open store: the embedded store's files are little-endian, and this machine is not")
	}
	if s.opts.ReadOnly {
		return s, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	lock, err := acquire(filepath.Join(dir, "LOCK"), s.opts.LockWait, s.opts.OnLockWait)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", dir, err)
	}
	s.lock = lock
	// Leftovers of a create or drop cut short by a crash.
	for _, pattern := range []string{".create-*", ".drop-*", ".rebuild-*"} {
		leftovers, _ := filepath.Glob(filepath.Join(dir, pattern))
		for _, p := range leftovers {
			os.RemoveAll(p)
		}
	}
	return s, nil
}

func (s *Store) logf(format string, args ...any) {
	if s.opts.Logf != nil {
		s.opts.Logf(format, args...)
	}
}

func (s *Store) path(name string) string { return filepath.Join(s.dir, name) }

func (s *Store) writer(op, name string) error {
	if s.lock == nil {
		return fmt.Errorf("%s collection %q: %w", op, name, ErrReadOnly)
	}
	return nil
}

// checkNew checks the name and spec of a collection about to be made.
func checkNew(op, name string, spec vectorstore.Spec) error {
	if !vectorstore.ValidName(name) {
		return invalidName(op, name)
	}
	if !spec.Valid() {
		return fmt.Errorf("%s collection %q: %w: spec %+v", op, name, vectorstore.ErrInvalid, spec)
	}
	return nil
}

func invalidName(op, name string) error {
	return fmt.Errorf("%s collection %q: %w: a name is a letter or _, then letters, digits or _ (at most 255)", op, name, vectorstore.ErrInvalid)
}

// Create makes an empty collection.
func (s *Store) Create(ctx context.Context, name string, spec vectorstore.Spec) error {
	if err := checkNew("create", name, spec); err != nil {
		return err
	}
	if err := s.writer("create", name); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := os.Stat(s.path(name)); err == nil {
		return fmt.Errorf("create collection %q: %w", name, vectorstore.ErrExists)
	}
	// Build the folder aside and rename it in, so a crash never leaves a
	// collection without its manifest.
	tmp, err := os.MkdirTemp(s.dir, ".create-*")
	if err != nil {
		return fmt.Errorf("create collection %q: %w", name, err)
	}
	defer os.RemoveAll(tmp)
	// MkdirTemp makes the folder private; readers may run as other users.
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("create collection %q: %w", name, err)
	}
	if err := newCollectionFiles(tmp, manifestName, spec); err != nil {
		return fmt.Errorf("create collection %q: %w", name, err)
	}
	if err := os.Rename(tmp, s.path(name)); err != nil {
		return fmt.Errorf("create collection %q: %w", name, err)
	}
	return atomicfile.SyncDir(s.dir)
}

// newCollectionFiles writes an empty collection's log and manifest into
// dir, the manifest under mname.
func newCollectionFiles(dir, mname string, spec vectorstore.Spec) error {
	m := &manifest{Format: formatCodes, UID: newName("")[:16], Spec: spec, Log: newName("log-")}
	f, err := createLog(filepath.Join(dir, m.Log))
	if err != nil {
		return err
	}
	f.Close()
	return writeManifest(dir, mname, m)
}

// Open returns an existing collection, loading it on first use. A writer
// migrates a collection of the old format here.
func (s *Store) Open(ctx context.Context, name string) (vectorstore.Collection, error) {
	if !vectorstore.ValidName(name) {
		return nil, invalidName("open", name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.openLocked(name)
}

func (s *Store) openLocked(name string) (*collection, error) {
	if c, ok := s.open[name]; ok {
		return c, nil
	}
	c, err := s.load(name, s.path(name), manifestName)
	if err != nil {
		return nil, err
	}
	s.open[name] = c
	return c, nil
}

// load opens the collection whose files are in dir under manifest mname.
func (s *Store) load(name, dir, mname string) (*collection, error) {
	c := newCollection(s, name, dir, mname, s.lock != nil)
	if _, err := os.Stat(c.path(mname)); errors.Is(err, fs.ErrNotExist) {
		if err := c.migrate(); err != nil {
			return nil, err
		}
	}
	st, err := c.load()
	if err != nil {
		c.close()
		if errors.Is(err, fs.ErrNotExist) {
			return nil, c.errorf("open", fmt.Errorf("%w: a file its manifest names is missing: %v", ErrCorrupt, err))
		}
		return nil, err
	}
	c.st = st
	if c.writable && mname == manifestName {
		c.removeStray()
	}
	return c, nil
}

// Names lists the collections' folders, sorted, whether they read or not.
func (s *Store) Names() ([]string, error) {
	ents, err := os.ReadDir(s.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list collections: %w", err)
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() && vectorstore.ValidName(e.Name()) {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// List describes every collection, sorted by name. A collection that
// cannot be read does not hide the others: they are returned, with an
// error naming each that failed.
func (s *Store) List(ctx context.Context) ([]vectorstore.Info, error) {
	names, err := s.Names()
	if err != nil {
		return nil, err
	}
	var out []vectorstore.Info
	var errs []error
	for _, name := range names {
		c, err := s.Open(ctx, name)
		if err == nil {
			var info vectorstore.Info
			if info, err = c.Info(ctx); err == nil {
				out = append(out, info)
				continue
			}
		}
		errs = append(errs, err)
	}
	return out, errors.Join(errs...)
}

// Drop deletes a collection: renamed away first, so a crash never leaves
// half a collection under its name. A reader with it open sees
// ErrNotFound from then on.
func (s *Store) Drop(ctx context.Context, name string) error {
	if !vectorstore.ValidName(name) {
		return invalidName("drop", name)
	}
	if err := s.writer("drop", name); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := os.Stat(s.path(name)); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("drop collection %q: %w", name, vectorstore.ErrNotFound)
	}
	if c, ok := s.open[name]; ok {
		c.close()
		delete(s.open, name)
	}
	trash, err := os.MkdirTemp(s.dir, ".drop-*")
	if err != nil {
		return fmt.Errorf("drop collection %q: %w", name, err)
	}
	if err := os.Rename(s.path(name), filepath.Join(trash, name)); err != nil {
		os.Remove(trash)
		return fmt.Errorf("drop collection %q: %w", name, err)
	}
	if err := atomicfile.SyncDir(s.dir); err != nil {
		return fmt.Errorf("drop collection %q: %w", name, err)
	}
	return os.RemoveAll(trash)
}

// rebuildManifest is the staging manifest of a reindex under way.
const rebuildManifest = "MANIFEST.rebuild"

// Rebuild writes the new collection's files beside the old ones under a
// staging manifest, compacts them into a segment, then renames the
// staging manifest over the collection's: readers go from the old items to
// the new in that one step, and a crash before it leaves the old
// collection (the next writer removes the staging files).
func (s *Store) Rebuild(ctx context.Context, name string, spec vectorstore.Spec, fill func(context.Context, vectorstore.Collection) error) error {
	if err := checkNew("reindex", name, spec); err != nil {
		return err
	}
	if err := s.writer("reindex", name); err != nil {
		return err
	}
	s.mu.Lock()
	old, err := s.openLocked(name) // also clears what an earlier rebuild left
	s.mu.Unlock()
	if err != nil {
		return err
	}
	fail := func(err error) error {
		return fmt.Errorf("reindex collection %q: %w", name, err)
	}
	if err := newCollectionFiles(old.dir, rebuildManifest, spec); err != nil {
		return fail(err)
	}
	fresh, err := s.load(name, old.dir, rebuildManifest)
	if err != nil {
		return err
	}
	discard := func() {
		fresh.mu.Lock()
		files := fresh.st.man.files()
		fresh.mu.Unlock()
		fresh.close()
		for _, f := range append(files, rebuildManifest) {
			if f != manifestName {
				os.Remove(fresh.path(f))
			}
		}
	}
	if err := fill(ctx, fresh); err != nil {
		discard()
		return err
	}
	fresh.mu.Lock()
	err = fresh.compactLocked(true)
	fresh.mu.Unlock()
	if err != nil {
		discard()
		return fail(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// The old collection takes no writes across the switch: one would go
	// to files the new manifest does not name, or compact the old
	// manifest back over the new one. It is closed from the switch on.
	old.mu.Lock()
	if err := old.usable("reindex"); err != nil {
		old.mu.Unlock()
		discard()
		return err
	}
	oldFiles := old.st.man.files()
	if err := os.Rename(fresh.path(rebuildManifest), fresh.path(manifestName)); err != nil {
		old.mu.Unlock()
		discard()
		return fail(fmt.Errorf("switch: %w", err))
	}
	old.closeLocked()
	old.mu.Unlock()
	delete(s.open, name)
	syncErr := atomicfile.SyncDir(old.dir)
	fresh.mu.Lock()
	fresh.mname = manifestName
	newFiles := fresh.st.man.files()
	if syncErr != nil {
		// The rename is done but not yet durable: the new files stay (the
		// next writer keeps whichever manifest survived), this process
		// stops using them.
		fresh.closeLocked()
		fresh.mu.Unlock()
		return fail(fmt.Errorf("switch: %w; open the store again", syncErr))
	}
	fresh.mu.Unlock()
	old.removeUnused(oldFiles, newFiles)
	s.open[name] = fresh
	return nil
}

// Compact moves a collection's log into its segments and merges them into
// one, dropping deleted and replaced rows: what `deeprank compact` does.
func (s *Store) Compact(ctx context.Context, name string) error {
	if err := s.writer("compact", name); err != nil {
		return err
	}
	c, err := s.Open(ctx, name)
	if err != nil {
		return err
	}
	return c.(*collection).edit("compact", func(*state) error { return c.(*collection).compactLocked(true) })
}

// Close closes every collection and releases the lock.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for name, c := range s.open {
		errs = append(errs, c.close())
		delete(s.open, name)
	}
	if s.lock != nil {
		errs = append(errs, s.lock.Close())
		s.lock = nil
	}
	return errors.Join(errs...)
}
