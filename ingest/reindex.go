package ingest

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/deeprank/deeprank/embedder"
	"github.com/deeprank/deeprank/vectorstore"
)

// ReindexOptions tunes Reindex. nil means defaults.
type ReindexOptions struct {
	// Options are those of the ingest run that embeds the images again.
	Options
	// DropMissing goes on without the images that cannot be embedded again
	// (their file gone or changed) instead of failing with *MissingError.
	DropMissing bool
	// Logf, if set, gets a line for each image embedded from a copy of its
	// vanished file, and one before the images are embedded.
	Logf func(format string, args ...any)
}

// ReindexResult is the outcome of Reindex.
type ReindexResult struct {
	// From and To are the model versions before and after.
	From, To string
	// Switched is false when the collection already held vectors of the
	// embedder's model, as many an image as it makes and with their learned
	// part recorded, and Reindex did nothing.
	Switched bool
	// Summary is the run that embedded the images again; nil when nothing
	// was done.
	Summary *Summary
	// Dropped lists, with DropMissing, the images left out, by ID.
	Dropped []MissingImage
}

// MissingImage is a stored image that could not be embedded again.
type MissingImage struct {
	ID   string
	Path string // where it was looked for
}

// MissingError is returned by Reindex, without DropMissing, when some
// images could not be embedded again from their files; the collection is
// then unchanged.
type MissingError struct {
	Collection string
	// Images is the number of images the collection holds.
	Images int
	// Missing lists the images not embedded again, sorted by ID.
	Missing []MissingImage
}

func (e *MissingError) Error() string {
	return fmt.Sprintf("reindex %q: %d of %d images could not be embedded again from their files; the collection is unchanged",
		e.Collection, len(e.Missing), e.Images)
}

// Reindex embeds every image of the collection name again with emb, from
// its file, into a new collection, and switches name to it in one step
// (vectorstore.Store.Rebuild): queries see the old vectors until the switch
// and the new ones after. A stored file that is gone is replaced by a file
// with the same bytes in the collection's folders, if there is one
// (relocate). If images are still missing, Reindex returns *MissingError
// before the switch, unless opts.DropMissing. When ctx ends it, the error
// wraps ctx's and the collection is unchanged.
func Reindex(ctx context.Context, emb *embedder.Embedder, store vectorstore.Store, name string, opts *ReindexOptions) (*ReindexResult, error) {
	var o ReindexOptions
	if opts != nil {
		o = *opts
	}
	logf := o.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	old, err := store.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	info, err := old.Info(ctx)
	if err != nil {
		return nil, err
	}
	res := &ReindexResult{From: info.ModelVersion, To: emb.ModelVersion()}
	if res.From == res.To && info.PerItem() == emb.PerItem() && info.Learned == emb.Learned() {
		return res, nil
	}
	// The old collection's items: the images to embed again.
	stored := map[string]vectorstore.Metadata{}
	if err := old.Scan(ctx, func(it vectorstore.Item) error {
		stored[it.ID] = it.Metadata
		return nil
	}); err != nil {
		return nil, err
	}
	live, err := relocate(ctx, stored)
	if err != nil {
		return nil, err
	}
	paths := make(map[string]string, len(stored))
	for id, m := range stored {
		paths[id] = m.Path
		if p, ok := live[id]; ok {
			paths[id] = p
			logf("  %s is gone: embedding the copy at %s", m.Path, p)
		}
	}
	logf("reindexing %q: %d images, model %s -> %s, %d -> %d vectors an image", name, len(paths), res.From, res.To, info.PerItem(), emb.PerItem())
	spec := CollectionSpec(emb, info.Metric)
	err = store.Rebuild(ctx, name, spec, func(ctx context.Context, fresh vectorstore.Collection) error {
		files := make([]string, 0, len(paths))
		for _, p := range paths {
			files = append(files, p)
		}
		slices.Sort(files)
		sum, err := Run(ctx, emb, fresh, files, &o.Options)
		res.Summary = sum
		var stopped *Interrupted
		if errors.As(err, &stopped) {
			// A new reindex starts over, whatever was stored.
			return fmt.Errorf("reindex %q interrupted; the collection is unchanged: %w", name, stopped.Err)
		}
		if err != nil {
			return err
		}
		lost, err := missing(ctx, fresh, paths)
		if err != nil {
			return err
		}
		if len(lost) > 0 && !o.DropMissing {
			return &MissingError{Collection: name, Images: len(paths), Missing: lost}
		}
		res.Dropped = lost
		return nil
	})
	if err != nil {
		return nil, err
	}
	res.Switched = true
	return res, nil
}

// missing lists the images of want (paths by ID) that c lacks, sorted by ID.
func missing(ctx context.Context, c vectorstore.Collection, want map[string]string) ([]MissingImage, error) {
	ids := make([]string, 0, len(want))
	for id := range want {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var lost []MissingImage
	const chunk = 1000
	for i := 0; i < len(ids); i += chunk {
		part := ids[i:min(i+chunk, len(ids))]
		have, err := c.Has(ctx, part)
		if err != nil {
			return nil, err
		}
		for j, id := range part {
			if !have[j] {
				lost = append(lost, MissingImage{ID: id, Path: want[id]})
			}
		}
	}
	return lost, nil
}
