package ingest

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/deeprank/deeprank/vectorstore"
)

// TestSync runs Sync after each change to a folder, first as a dry run
// (which must change nothing and report what the real run then does), and
// checks what the collection holds after.
func TestSync(t *testing.T) {
	e, data, c := mustImagesAndCollection(t, 6)
	ctx := context.Background()
	file := func(class, name string) string { return filepath.Join(data, class, name) }
	a, b, cc := file("cats", "imga000.png"), file("dogs", "imgxb001.png"), file("birds", "imgxxc002.png")
	pictureA, err := os.ReadFile(a)
	must(t, err)
	// variant writes a's picture with a byte after its end, which decoders
	// ignore: another image ID, the same picture.
	variant := func(t *testing.T, path string, extra byte) {
		must(t, os.MkdirAll(filepath.Dir(path), 0o755))
		must(t, os.WriteFile(path, append(slices.Clone(pictureA), extra), 0o644))
	}
	// An image stored from a folder that is never synced must stay.
	other := filepath.Join(t.TempDir(), "elsewhere.png")
	variant(t, other, 1)
	if _, err := Run(ctx, e, c, []string{other}, nil); err != nil {
		t.Fatal(err)
	}
	unmounted := filepath.Join(t.TempDir(), "disk") // synced always, there only once
	steps := []struct {
		name                   string
		change                 func(t *testing.T)
		added, moved           int
		removed                []string // paths, sorted
		stored                 int
		wantPathOf, wantPathIs string // a stored image's path after the step
	}{
		{"first sync ingests all", func(*testing.T) {}, 6, 0, nil, 7, "", ""},
		{"nothing changed", func(*testing.T) {}, 0, 0, nil, 7, "", ""},
		{"added", func(t *testing.T) { variant(t, filepath.Join(data, "new", "fresh.png"), 3) }, 1, 0, nil, 8, "", ""},
		{"moved", func(t *testing.T) { must(t, os.Rename(b, b+".moved.png")) }, 0, 1, nil, 8, b, b + ".moved.png"},
		{"deleted", func(t *testing.T) { must(t, os.Remove(cc)) }, 0, 0, []string{cc}, 7, "", ""},
		// a's bytes change: the new ones are a new image, the old ones go.
		{"changed in place", func(t *testing.T) { variant(t, a, 2) }, 1, 0, []string{a}, 7, "", ""},
		// A folder synced, then not there (a disk not mounted): what was
		// stored from it stays.
		{"a folder gone", func(t *testing.T) {
			variant(t, filepath.Join(unmounted, "x.png"), 4)
			if _, err := Sync(ctx, e, c, []string{data, unmounted}, nil); err != nil {
				t.Fatal(err)
			}
			must(t, os.RemoveAll(unmounted))
		}, 0, 0, nil, 8, "", ""},
	}
	for _, st := range steps {
		st.change(t)
		before := snapshot(t, c)
		paths := []string{data, unmounted}
		dry, err := Sync(ctx, e, c, paths, &Options{DryRun: true})
		if err != nil {
			t.Fatalf("%s: dry run: %v", st.name, err)
		}
		if after := snapshot(t, c); !slices.Equal(before, after) {
			t.Fatalf("%s: the dry run changed the collection", st.name)
		}
		sum, err := Sync(ctx, e, c, paths, nil)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		var removed []string
		for _, r := range sum.Removals {
			removed = append(removed, r.Path)
		}
		if sum.Ingested != st.added || sum.Moved != st.moved || !slices.Equal(removed, st.removed) {
			t.Errorf("%s: added %d, moved %d, removed %v; want %d, %d, %v", st.name, sum.Ingested, sum.Moved, removed, st.added, st.moved, st.removed)
		}
		if dry.Ingested != sum.Ingested || dry.Moved != sum.Moved || len(dry.Removals) != len(sum.Removals) || dry.Changed() != sum.Changed() {
			t.Errorf("%s: the dry run said %+v, the run did %+v", st.name, dry, sum)
		}
		if n, _ := c.Count(ctx); n != st.stored {
			t.Errorf("%s: %d stored, want %d", st.name, n, st.stored)
		}
		if want := st.added+st.moved+len(st.removed) > 0; sum.Changed() != want {
			t.Errorf("%s: Changed() = %v, want %v", st.name, sum.Changed(), want)
		}
		if st.wantPathOf != "" {
			paths := snapshot(t, c)
			if slices.Contains(paths, st.wantPathOf) || !slices.Contains(paths, st.wantPathIs) {
				t.Errorf("%s: stored paths %v: want %s instead of %s", st.name, paths, st.wantPathIs, st.wantPathOf)
			}
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// snapshot lists the stored paths, sorted.
func snapshot(t *testing.T, c vectorstore.Collection) []string {
	t.Helper()
	var out []string
	if err := c.Scan(context.Background(), func(it vectorstore.Item) error {
		out = append(out, it.Metadata.Path)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}
