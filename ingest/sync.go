package ingest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/deeprank/deeprank/embedder"
	"github.com/deeprank/deeprank/vectorstore"
)

// Removal is a stored image that Sync removes (or would, in a dry run).
type Removal struct {
	ID   string `json:"id"`
	Path string `json:"path"`
	// Reason is "gone" (no file at the path, and its bytes found nowhere
	// under the paths synced) or "changed" (the file at the path now holds
	// other bytes, ingested as a new image).
	Reason string `json:"reason"`
}

// Move is a stored image whose path Sync updates.
type Move struct {
	ID   string `json:"id"`
	From string `json:"from"`
	To   string `json:"to"`
}

// SyncSummary is the outcome of Sync: the ingest of the paths, the paths
// updated and the images removed.
type SyncSummary struct {
	Summary
	Moves    []Move    `json:"moves,omitempty"`
	Removals []Removal `json:"removals,omitempty"`
	DryRun   bool      `json:"dry_run"`
}

// Changed reports whether the sync changed the collection (or, in a dry
// run, would have).
func (s *SyncSummary) Changed() bool {
	return s.Ingested > 0 || s.Moved > 0 || len(s.Removals) > 0
}

// Sync makes coll match the files under paths: it ingests new files (Run),
// updates the stored path of an image whose bytes moved to another name
// under paths, and removes the stored images whose path is under paths but
// whose file is gone, or holds other bytes now. Images stored under other
// paths are left alone, so that syncing one folder of a collection never
// empties the rest, and so are those under a path given that does not
// exist (an unmounted disk must not empty the collection). With opts.DryRun nothing is changed and the summary
// says what would be. Removals happen only after the ingest succeeded; the
// error is the ingest's (see Run) or the store's.
func Sync(ctx context.Context, emb *embedder.Embedder, coll vectorstore.Collection, paths []string, opts *Options) (*SyncSummary, error) {
	o := Options{}
	if opts != nil {
		o = *opts
	}
	// A path that is not there (a disk not mounted, a typo) removes
	// nothing: only what is under the paths found can be gone. Run reports
	// the missing path as a failure.
	var roots []string
	for _, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, fmt.Errorf("sync %s: %w", p, err)
		}
		if _, err := os.Stat(abs); err == nil {
			roots = append(roots, abs)
		}
	}
	// The stored images under the paths whose file is gone or looks
	// changed (another size or time): the candidates for removal.
	type candidate struct {
		meta    vectorstore.Metadata
		changed bool
	}
	cands := map[string]candidate{}
	err := coll.Scan(ctx, func(it vectorstore.Item) error {
		m := it.Metadata
		if !under(m.Path, roots) {
			return nil
		}
		st, err := os.Stat(m.Path)
		switch {
		case err != nil:
			cands[it.ID] = candidate{meta: m}
		case st.Size() != m.Size || !st.ModTime().Equal(m.ModTime):
			cands[it.ID] = candidate{meta: m, changed: true}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sync: read the collection: %w", err)
	}
	sum := &SyncSummary{DryRun: o.DryRun}
	moved := map[string]bool{}
	next := o.Moved
	o.Moved = func(id, from, to string) {
		moved[id] = true
		sum.Moves = append(sum.Moves, Move{ID: id, From: from, To: to})
		if next != nil {
			next(id, from, to)
		}
	}
	run, err := Run(ctx, emb, coll, paths, &o)
	if run != nil {
		sum.Summary = *run
	}
	if err != nil {
		return sum, err
	}
	var ids []string
	for id, c := range cands {
		if moved[id] {
			continue
		}
		if c.changed {
			// Touched but perhaps the same bytes: only a hash tells.
			if now, err := hashFile(ctx, c.meta.Path); err == nil && now == id {
				continue
			} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
				continue // unreadable now: keep it rather than guess
			}
		}
		reason := "gone"
		if _, err := os.Stat(c.meta.Path); err == nil {
			reason = "changed"
		}
		sum.Removals = append(sum.Removals, Removal{ID: id, Path: c.meta.Path, Reason: reason})
		ids = append(ids, id)
	}
	slices.SortFunc(sum.Removals, func(a, b Removal) int { return strings.Compare(a.Path, b.Path) })
	if o.DryRun || len(ids) == 0 {
		return sum, ctx.Err()
	}
	if err := coll.Delete(ctx, ids); err != nil {
		return sum, fmt.Errorf("sync: remove %d images whose files are gone: %w", len(ids), err)
	}
	return sum, nil
}

// under reports whether path is one of roots or inside one.
func under(path string, roots []string) bool {
	for _, r := range roots {
		if path == r || strings.HasPrefix(path, strings.TrimSuffix(r, string(filepath.Separator))+string(filepath.Separator)) {
			return true
		}
	}
	return false
}
