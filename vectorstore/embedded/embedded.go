// Package embedded is deeprank's default vector store: files under one
// folder, exact top-k search in memory, nothing else to install.
//
// Each collection is a folder holding spec.json and an append-only log of
// checksummed records (upserts and deletes). Upsert writes its whole batch,
// fsyncs, and only then returns: what it returned for survives a kill -9 or a
// power loss. On open the log is replayed; a torn record at its end (a batch
// cut short by a crash, never acknowledged) is cut off, while damage anywhere
// else is reported as ErrCorrupt rather than silently skipped. The log is
// rewritten (temporary file, fsync, rename) when most of it is dead records.
//
// All vectors of an open collection live in memory: 4*dim bytes each plus
// metadata. One process at a time may open a store folder (a lock file
// enforces it); within the process, a Store and its collections are safe for
// concurrent use.
package embedded

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/deeprank/deeprank/vectorstore"
)

// ErrLocked is returned by Open when another process holds the store.
var ErrLocked = errors.New("store is in use by another deeprank process")

// ErrCorrupt is returned when a collection's files are damaged beyond a torn
// final write.
var ErrCorrupt = errors.New("store is corrupt")

// Store is a folder of collections.
type Store struct {
	dir  string
	lock *os.File

	mu   sync.Mutex
	open map[string]*collection
}

var _ vectorstore.Store = (*Store)(nil)

// Open opens (creating if needed) the store in dir.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("open store %s: %w", dir, ErrLocked)
		}
		return nil, fmt.Errorf("open store %s: lock: %w", dir, err)
	}
	// Leftovers of a create, drop or rebuild cut short by a crash.
	for _, pattern := range []string{".create-*", ".drop-*", ".rebuild-*"} {
		leftovers, _ := filepath.Glob(filepath.Join(dir, pattern))
		for _, p := range leftovers {
			os.RemoveAll(p)
		}
	}
	return &Store{dir: dir, lock: lock, open: map[string]*collection{}}, nil
}

// Dir is the store's folder.
func (s *Store) Dir() string { return s.dir }

func (s *Store) path(name string) string { return filepath.Join(s.dir, name) }

// Create makes an empty collection.
func (s *Store) Create(ctx context.Context, name string, spec vectorstore.Spec) error {
	if err := checkNew("create", name, spec); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := os.Stat(s.path(name)); err == nil {
		return fmt.Errorf("create collection %q: %w", name, vectorstore.ErrExists)
	}
	// Build the folder aside and rename it in, so a crash never leaves a
	// collection without its spec.
	tmp, err := os.MkdirTemp(s.dir, ".create-*")
	if err != nil {
		return fmt.Errorf("create collection %q: %w", name, err)
	}
	defer os.RemoveAll(tmp)
	if err := writeCollection(tmp, spec); err != nil {
		return fmt.Errorf("create collection %q: %w", name, err)
	}
	if err := os.Rename(tmp, s.path(name)); err != nil {
		return fmt.Errorf("create collection %q: %w", name, err)
	}
	return syncDir(s.dir)
}

// checkNew checks the name and spec of a collection about to be made.
func checkNew(op, name string, spec vectorstore.Spec) error {
	if !vectorstore.ValidName(name) {
		return fmt.Errorf("%s collection %q: %w: a name is a letter or _, then letters, digits or _", op, name, vectorstore.ErrInvalid)
	}
	if !spec.Valid() {
		return fmt.Errorf("%s collection %q: %w: spec %+v", op, name, vectorstore.ErrInvalid, spec)
	}
	return nil
}

// writeCollection writes an empty collection's files into dir.
func writeCollection(dir string, spec vectorstore.Spec) error {
	js, _ := json.Marshal(spec)
	if err := writeSynced(filepath.Join(dir, "spec.json"), js); err != nil {
		return err
	}
	return writeSynced(filepath.Join(dir, "log"), nil)
}

// Rebuild writes the new collection in a folder aside, then exchanges it
// with the old one in a single rename (renameat2 RENAME_EXCHANGE), so a
// crash leaves either the old collection or the new one under name, never
// neither; the old folder is removed after. The store's lock is held
// throughout: other processes cannot open the store meanwhile, while this
// one keeps serving the old collection until the switch.
func (s *Store) Rebuild(ctx context.Context, name string, spec vectorstore.Spec, fill func(context.Context, vectorstore.Collection) error) error {
	if err := checkNew("reindex", name, spec); err != nil {
		return err
	}
	if _, err := os.Stat(s.path(name)); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("reindex collection %q: %w", name, vectorstore.ErrNotFound)
	}
	stage, err := os.MkdirTemp(s.dir, ".rebuild-*")
	if err != nil {
		return fmt.Errorf("reindex collection %q: %w", name, err)
	}
	defer os.RemoveAll(stage) // after the exchange, it holds the old collection
	if err := writeCollection(stage, spec); err != nil {
		return fmt.Errorf("reindex collection %q: %w", name, err)
	}
	fresh, err := loadCollection(name, stage)
	if err != nil {
		return err
	}
	err = fill(ctx, fresh)
	if cerr := fresh.close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := unix.Renameat2(unix.AT_FDCWD, stage, unix.AT_FDCWD, s.path(name), unix.RENAME_EXCHANGE); err != nil {
		return fmt.Errorf("reindex collection %q: switch: %w", name, err)
	}
	if err := syncDir(s.dir); err != nil {
		return fmt.Errorf("reindex collection %q: switch: %w", name, err)
	}
	if old, ok := s.open[name]; ok {
		old.close()
		delete(s.open, name)
	}
	return nil
}

// Open returns an existing collection, loading it on first use.
func (s *Store) Open(ctx context.Context, name string) (vectorstore.Collection, error) {
	if !vectorstore.ValidName(name) {
		return nil, fmt.Errorf("open collection %q: %w", name, vectorstore.ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.open[name]; ok {
		return c, nil
	}
	c, err := loadCollection(name, s.path(name))
	if err != nil {
		return nil, err
	}
	s.open[name] = c
	return c, nil
}

// List describes every collection, sorted by name.
func (s *Store) List(ctx context.Context) ([]vectorstore.Info, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("list collections: %w", err)
	}
	var out []vectorstore.Info
	for _, e := range ents {
		if !e.IsDir() || !vectorstore.ValidName(e.Name()) {
			continue
		}
		c, err := s.Open(ctx, e.Name())
		if err != nil {
			return nil, err
		}
		info, _ := c.Info(ctx)
		out = append(out, info)
	}
	slices.SortFunc(out, func(a, b vectorstore.Info) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Drop deletes a collection: renamed away first, so a crash never leaves
// half a collection under its name.
func (s *Store) Drop(ctx context.Context, name string) error {
	if !vectorstore.ValidName(name) {
		return fmt.Errorf("drop collection %q: %w", name, vectorstore.ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := os.Stat(s.path(name)); errors.Is(err, os.ErrNotExist) {
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
	if err := syncDir(s.dir); err != nil {
		return fmt.Errorf("drop collection %q: %w", name, err)
	}
	return os.RemoveAll(trash)
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
	errs = append(errs, s.lock.Close())
	return errors.Join(errs...)
}

func writeSynced(path string, data []byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
