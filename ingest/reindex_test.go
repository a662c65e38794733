package ingest

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/deeprank/deeprank/embedder"
	"github.com/deeprank/deeprank/model"
	"github.com/deeprank/deeprank/vectorstore"
	"github.com/deeprank/deeprank/vectorstore/embedded"
)

// TestReindex moves a collection of 6 images from one model to another,
// with the image files as each case leaves them, and checks the result, the
// error and what the collection holds after.
func TestReindex(t *testing.T) {
	cases := []struct {
		name string
		// edit changes the image files after the first ingest; it returns
		// the paths Reindex must report missing.
		edit        func(t *testing.T, data string) []string
		dropMissing bool
		sameModel   bool
		wantSwitch  bool
		wantCount   int
	}{
		{name: "all files there", edit: keepFiles, wantSwitch: true, wantCount: 6},
		{name: "same model", edit: keepFiles, sameModel: true, wantCount: 6},
		{name: "a file gone", edit: removeFirst, wantCount: 6},
		{name: "a file gone, dropped", edit: removeFirst, dropMissing: true, wantSwitch: true, wantCount: 5},
		{name: "a file changed", edit: func(t *testing.T, data string) []string {
			p := firstImage(t, data)
			b, err := os.ReadFile(p)
			if err == nil {
				err = os.WriteFile(p, append(b, 0), 0o644)
			}
			if err != nil {
				t.Fatal(err)
			}
			return []string{p}
		}, wantCount: 6},
		{name: "a file moved", edit: func(t *testing.T, data string) []string {
			p := firstImage(t, data)
			// Relocate looks under the folders of the stored paths.
			moved := filepath.Join(filepath.Dir(p), "moved")
			if err := os.MkdirAll(moved, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(p, filepath.Join(moved, "x.png")); err != nil {
				t.Fatal(err)
			}
			return nil
		}, wantSwitch: true, wantCount: 6},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			oldEmb := mustEmbedderSeed(t, 1)
			data := t.TempDir()
			writeImages(t, data, 6)
			store, coll := mustCollection(t, t.TempDir(), oldEmb)
			t.Cleanup(func() { store.Close() })
			if _, err := Run(ctx, oldEmb, coll, []string{data}, nil); err != nil {
				t.Fatal(err)
			}
			wantMissing := tc.edit(t, data)
			newEmb := mustEmbedderSeed(t, 2)
			if tc.sameModel {
				newEmb = oldEmb
			}
			var logged []string
			opts := &ReindexOptions{DropMissing: tc.dropMissing, Logf: func(format string, args ...any) { logged = append(logged, format) }}
			res, err := Reindex(ctx, newEmb, store, "images", opts)

			var me *MissingError
			switch {
			case len(wantMissing) > 0 && !tc.dropMissing:
				if !errors.As(err, &me) {
					t.Fatalf("Reindex error = %v, want *MissingError", err)
				}
				if got := missingPaths(me.Missing); !slices.Equal(got, wantMissing) || me.Images != 6 || me.Collection != "images" {
					t.Errorf("MissingError lists %v of %d in %q, want %v of 6 in images", got, me.Images, me.Collection, wantMissing)
				}
			case err != nil:
				t.Fatalf("Reindex: %v", err)
			default:
				if res.Switched != tc.wantSwitch || res.From != oldEmb.ModelVersion() || res.To != newEmb.ModelVersion() {
					t.Errorf("result %+v, want switched %v from %s to %s", res, tc.wantSwitch, oldEmb.ModelVersion(), newEmb.ModelVersion())
				}
				if got := missingPaths(res.Dropped); !slices.Equal(got, wantMissing) {
					t.Errorf("dropped %v, want %v", got, wantMissing)
				}
				if tc.wantSwitch && (res.Summary == nil || res.Summary.Ingested != tc.wantCount) {
					t.Errorf("summary %+v, want %d stored", res.Summary, tc.wantCount)
				}
			}

			// The collection holds the new model's vectors only if it switched.
			c, err := store.Open(ctx, "images")
			if err != nil {
				t.Fatal(err)
			}
			info, err := c.Info(ctx)
			if err != nil {
				t.Fatal(err)
			}
			want := oldEmb.ModelVersion()
			if tc.wantSwitch {
				want = newEmb.ModelVersion()
			}
			if info.ModelVersion != want || info.Count != tc.wantCount {
				t.Errorf("after: model %s with %d items, want %s with %d", info.ModelVersion, info.Count, want, tc.wantCount)
			}
			if tc.wantSwitch && !slices.Contains(logged, "reindexing %q: %d images, model %s -> %s, %d -> %d vectors an image") {
				t.Errorf("Logf got %q, want the line that starts the embedding", logged)
			}
		})
	}
}

// TestReindexVariants: the same model, from own vectors only to its
// variants and back: each way embeds every image again and switches.
func TestReindexVariants(t *testing.T) {
	ctx := t.Context()
	m := mustModelSeed(t, 1)
	m.Spec.Variants = &model.Variants{Grey: true}
	own, err := embedder.New(m, &embedder.Options{OwnOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	all, err := embedder.New(m, nil)
	if err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	writeImages(t, data, 6)
	store, coll := mustCollection(t, t.TempDir(), own)
	defer store.Close()
	if _, err := Run(ctx, own, coll, []string{data}, nil); err != nil {
		t.Fatal(err)
	}
	for _, e := range []*embedder.Embedder{all, own} {
		res, err := Reindex(ctx, e, store, "images", nil)
		if err != nil || !res.Switched || res.Summary == nil || res.Summary.Ingested != 6 {
			t.Fatalf("reindex to %d vectors an image: %+v, %v; want 6 embedded again and a switch", e.PerItem(), res, err)
		}
		c, err := store.Open(ctx, "images")
		if err != nil {
			t.Fatal(err)
		}
		if info, err := c.Info(ctx); err != nil || info.PerItem() != e.PerItem() || info.Count != 6 {
			t.Errorf("after: %+v, %v; want 6 images of %d vectors", info, err, e.PerItem())
		}
	}
}

func keepFiles(*testing.T, string) []string { return nil }

// removeFirst deletes firstImage.
func removeFirst(t *testing.T, data string) []string {
	p := firstImage(t, data)
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	return []string{p}
}

// firstImage is the first image file under data, by name.
func firstImage(t *testing.T, data string) string {
	t.Helper()
	ps, err := filepath.Glob(filepath.Join(data, "*", "*.png"))
	if err != nil || len(ps) == 0 {
		t.Fatalf("no image under %s: %v", data, err)
	}
	slices.Sort(ps)
	return ps[0]
}

func missingPaths(ms []MissingImage) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Path)
	}
	return out
}

// TestReindexLearned: a collection of a model with a thumbnail that does
// not record its learned part (made before deeprank recorded it) takes no
// ingest, which says to reindex; a reindex records it, ingests go on, and
// a second reindex has nothing to do.
func TestReindexLearned(t *testing.T) {
	ctx := t.Context()
	m := mustModelSeed(t, 1)
	m.Spec.Thumbnail = &model.Thumbnail{Side: 4, Weight: 0.1}
	e, err := embedder.New(m, nil)
	if err != nil {
		t.Fatal(err)
	}
	if e.Learned() != 8 || e.Dim() != 8+16 {
		t.Fatalf("embedder: %d of %d values learned, want 8 of 24", e.Learned(), e.Dim())
	}
	data := t.TempDir()
	writeImages(t, data, 6)
	store, err := embedded.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	unrecorded := CollectionSpec(e, vectorstore.MetricL2)
	unrecorded.Learned = 0
	if err := store.Create(ctx, "images", unrecorded); err != nil {
		t.Fatal(err)
	}
	coll, err := store.Open(ctx, "images")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Run(ctx, e, coll, []string{data}, nil); !errors.Is(err, vectorstore.ErrModelMismatch) || !strings.Contains(err.Error(), "reindex") {
		t.Fatalf("ingest into a collection without its learned part: %v, want a model mismatch that says to reindex", err)
	}
	res, err := Reindex(ctx, e, store, "images", nil)
	if err != nil || !res.Switched {
		t.Fatalf("reindex: %+v, %v; want a switch", res, err)
	}
	if coll, err = store.Open(ctx, "images"); err != nil {
		t.Fatal(err)
	}
	if info, err := coll.Info(ctx); err != nil || info.Learned != 8 {
		t.Fatalf("after the reindex: %+v, %v; want 8 values learned", info, err)
	}
	if sum, err := Run(ctx, e, coll, []string{data}, nil); err != nil || sum.Found != 6 {
		t.Fatalf("ingest after the reindex: %+v, %v", sum, err)
	}
	if res, err := Reindex(ctx, e, store, "images", nil); err != nil || res.Switched {
		t.Errorf("second reindex: %+v, %v; want nothing done", res, err)
	}
}
