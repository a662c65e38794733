package ingest

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/deeprank/deeprank/embedder"
	"github.com/deeprank/deeprank/model"
	"github.com/deeprank/deeprank/vectorstore"
	"github.com/deeprank/deeprank/vectorstore/embedded"
)

// mustEmbedder returns an embedder of a small random model.
func mustEmbedder(t testing.TB) *embedder.Embedder { t.Helper(); return mustEmbedderSeed(t, 1) }

// mustEmbedderSeed returns an embedder of a small model with random weights
// from seed: another seed is another model version.
func mustEmbedderSeed(t testing.TB, seed uint64) *embedder.Embedder {
	t.Helper()
	e, err := embedder.New(mustModelSeed(t, seed), nil)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// mustModelSeed is a small model of the default's layout initialised with
// seed.
func mustModelSeed(t testing.TB, seed uint64) *model.Model {
	t.Helper()
	s := model.DefaultSpec()
	s.InputSize, s.Width, s.Stages, s.DenseDim, s.EmbeddingDim = 32, 4, 2, 16, 8
	s.Shallow = model.ScaledShallowBranches(32)
	m, err := model.New(s, model.UnitNormalization())
	if err != nil {
		t.Fatal(err)
	}
	m.Initialize(seed)
	return m
}

func mustCollection(t testing.TB, dir string, e *embedder.Embedder) (vectorstore.Store, vectorstore.Collection) {
	t.Helper()
	s, err := embedded.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Create(ctx, "images", CollectionSpec(e, vectorstore.MetricL2)); err != nil {
		t.Fatal(err)
	}
	c, err := s.Open(ctx, "images")
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

// mustImagesAndCollection returns an embedder, a folder of n images
// (writeImages) and an empty collection, closed when the test ends.
func mustImagesAndCollection(t *testing.T, n int) (*embedder.Embedder, string, vectorstore.Collection) {
	t.Helper()
	e := mustEmbedder(t)
	data := t.TempDir()
	writeImages(t, data, n)
	s, c := mustCollection(t, t.TempDir(), e)
	t.Cleanup(func() { s.Close() })
	return e, data, c
}

// WriteImages writes n distinct PNGs under dir/<class>/.
func writeImages(t testing.TB, dir string, n int) {
	t.Helper()
	for i := range n {
		img := image.NewRGBA(image.Rect(0, 0, 24, 20))
		for p := range img.Pix {
			img.Pix[p] = uint8(i*7 + p*(i%5+1))
		}
		// The first pixel spells i, so every image is distinct.
		img.Pix[0], img.Pix[1], img.Pix[2] = uint8(i), uint8(i>>8), uint8(i>>16)
		var buf bytes.Buffer
		png.Encode(&buf, img)
		p := filepath.Join(dir, []string{"cats", "dogs", "birds"}[i%3], "img"+strings.Repeat("x", i%4)+string(rune('a'+i%26))+itoa(i)+".png")
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func itoa(i int) string {
	return string(rune('0'+i/100%10)) + string(rune('0'+i/10%10)) + string(rune('0'+i%10))
}

func TestIngestBadInput(t *testing.T) {
	e := mustEmbedder(t)
	data := t.TempDir()
	writeImages(t, data, 12)
	bad := filepath.Join(data, "bad")
	os.MkdirAll(bad, 0o755)
	var jpg bytes.Buffer
	jpeg.Encode(&jpg, image.NewGray(image.Rect(0, 0, 40, 40)), nil)
	os.WriteFile(filepath.Join(bad, "truncated.jpg"), jpg.Bytes()[:jpg.Len()/2], 0o644)
	os.WriteFile(filepath.Join(bad, "empty.jpg"), nil, 0o644)
	os.WriteFile(filepath.Join(bad, "text.jpg"), []byte("this is not a picture\n"), 0o644)
	os.WriteFile(filepath.Join(bad, "huge.png"), hugePNG(100000, 100000), 0o644)
	unreadable := filepath.Join(bad, "unreadable.png")
	os.WriteFile(unreadable, jpg.Bytes(), 0o644)
	os.Chmod(unreadable, 0)
	if f, err := os.Open(unreadable); err == nil { // root reads anything: use a link loop instead
		f.Close()
		os.Remove(unreadable)
		os.Symlink("unreadable.png", unreadable) // a link to itself

	}
	missing := filepath.Join(data, "no-such-folder")

	s, c := mustCollection(t, t.TempDir(), e)
	defer s.Close()
	ctx := context.Background()
	sum, err := Run(ctx, e, c, []string{data, missing}, &Options{BatchSize: 5})
	if err != nil {
		t.Fatal(err)
	}
	wantFail := map[string]string{
		"truncated.jpg":  "not a supported image",
		"empty.jpg":      "empty file",
		"text.jpg":       "not a supported image",
		"huge.png":       "image too large",
		"unreadable.png": "",
		"no-such-folder": "no such file",
	}
	for _, f := range sum.Failures {
		name := filepath.Base(f.Path)
		want, ok := wantFail[name]
		if !ok || !strings.Contains(f.Reason, want) {
			t.Errorf("failure %s: %q (want a reason containing %q)", f.Path, f.Reason, want)
		}
		delete(wantFail, name)
	}
	if len(wantFail) > 0 {
		t.Errorf("not reported: %v (summary %+v)", wantFail, sum)
	}
	if sum.Ingested != 12 {
		t.Errorf("ingested %d, want 12", sum.Ingested)
	}
	// A second run stores nothing new and loses nothing.
	sum2, err := Run(ctx, e, c, []string{data}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := c.Count(ctx); n != 12 || sum2.Ingested != 0 || sum2.Skipped != 12 {
		t.Errorf("second run: %d stored, summary %+v", n, sum2)
	}
}

func TestIngestDuplicatesAndShards(t *testing.T) {
	e := mustEmbedder(t)
	data := t.TempDir()
	writeImages(t, data, 30)
	// The same picture under another name is stored once.
	b, _ := os.ReadFile(filepath.Join(data, "cats", "imgxa000.png"))
	os.WriteFile(filepath.Join(data, "copy.png"), b, 0o644)
	s, c := mustCollection(t, t.TempDir(), e)
	defer s.Close()
	ctx := context.Background()
	total := 0
	for shard := range 3 {
		sum, err := Run(ctx, e, c, []string{data}, &Options{Shard: shard, Shards: 3, BatchSize: 4})
		if err != nil {
			t.Fatal(err)
		}
		if sum.OtherShard == 0 || sum.Found != 31 {
			t.Errorf("shard %d: %+v", shard, sum)
		}
		total += sum.Ingested
	}
	if n, _ := c.Count(ctx); n != 30 || total != 30 {
		t.Errorf("three shards stored %d (ingested %d), want 30", n, total)
	}
	var meta vectorstore.Metadata
	c.Scan(ctx, func(it vectorstore.Item) error {
		if strings.HasSuffix(it.Metadata.Path, "imgxb001.png") {
			meta = it.Metadata
		}
		return nil
	})
	if meta.Class != "dogs" || meta.Width != 24 || meta.Height != 20 || meta.Size == 0 || meta.ModTime.IsZero() {
		t.Errorf("metadata %+v", meta)
	}
}

func TestIngestRefusesOtherModel(t *testing.T) {
	e := mustEmbedder(t)
	s, err := embedded.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	s.Create(ctx, "old", vectorstore.Spec{Dim: e.Dim(), Metric: vectorstore.MetricL2, ModelVersion: "an-older-model"})
	c, _ := s.Open(ctx, "old")
	if _, err := Run(ctx, e, c, []string{t.TempDir()}, nil); err == nil || !strings.Contains(err.Error(), "reindex") {
		t.Errorf("err = %v, want a model mismatch that says to reindex", err)
	}
}

// hugePNG is a valid PNG header declaring width x height.
func hugePNG(width, height int) []byte {
	var buf bytes.Buffer
	png.Encode(&buf, image.NewGray(image.Rect(0, 0, 1, 1)))
	b := buf.Bytes()
	binary.BigEndian.PutUint32(b[16:], uint32(width))
	binary.BigEndian.PutUint32(b[20:], uint32(height))
	binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
	return b
}

// failingLookups is a collection whose store stops answering lookups.
type failingLookups struct{ vectorstore.Collection }

var errStoreDown = errors.New("store down")

func (failingLookups) Get(context.Context, []string) ([]vectorstore.Item, error) {
	return nil, errStoreDown
}

// TestIngestStopsWhenTheStoreFails: a store that fails is not a file that
// fails; the run stops with the store's error instead of trying every file.
func TestIngestStopsWhenTheStoreFails(t *testing.T) {
	e := mustEmbedder(t)
	dir := t.TempDir()
	writeImages(t, filepath.Join(dir, "img"), 40)
	_, c := mustCollection(t, filepath.Join(dir, "store"), e)
	sum, err := Run(context.Background(), e, failingLookups{c}, []string{filepath.Join(dir, "img")}, &Options{Workers: 2})
	if !errors.Is(err, errStoreDown) {
		t.Fatalf("err = %v, want the store's error", err)
	}
	if sum.Failed != 0 || sum.Ingested != 0 {
		t.Errorf("summary %+v: files were blamed for the store's failure", sum)
	}
}

// TestIngestLargeFiles: the old ingest read a whole file before looking at
// it, so /dev/zero ran it out of memory and a 3 GB non-image took 3 GB. Files
// over the size limit, and files that do not start like an image, are now
// refused before the rest is read.
func TestIngestLargeFiles(t *testing.T) {
	e := mustEmbedder(t)
	var small bytes.Buffer
	png.Encode(&small, image.NewGray(image.Rect(0, 0, 40, 40)))
	// sparse writes head at the start of a file of size bytes that takes
	// no room on disk.
	sparse := func(name string, head []byte, size int64) string {
		p := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(p, head, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(p, size); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		name     string
		path     string
		opts     *Options
		reason   string // "" when the file is ingested
		maxAlloc uint64 // bytes the run may allocate
	}{
		{"over the default limit", sparse("big.png", small.Bytes(), 300<<20), nil, "file too large: 314572800 bytes, the limit is 268435456", 32 << 20},
		{"over a custom limit", sparse("small.png", small.Bytes(), int64(small.Len())), &Options{MaxFileBytes: 10}, "file too large", 32 << 20},
		{"no image, under the limit", sparse("noise.jpg", []byte("this is not a picture"), 200<<20), nil, "not a supported image", 32 << 20},
		{"an image at the limit", sparse("exact.png", small.Bytes(), int64(small.Len())), &Options{MaxFileBytes: int64(small.Len())}, "", 32 << 20},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, c := mustCollection(t, t.TempDir(), e)
			defer s.Close()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			sum, err := Run(context.Background(), e, c, []string{tc.path}, tc.opts)
			runtime.ReadMemStats(&after)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tc.reason == "" && sum.Ingested != 1:
				t.Errorf("not ingested: %+v", sum)
			case tc.reason != "" && (sum.Failed != 1 || !strings.HasPrefix(sum.Failures[0].Reason, tc.reason)):
				t.Errorf("summary %+v, want the reason %q", sum, tc.reason)
			}
			if got := after.TotalAlloc - before.TotalAlloc; got > tc.maxAlloc {
				t.Errorf("allocated %d MB, want at most %d MB", got>>20, tc.maxAlloc>>20)
			}
		})
	}
}

// cancelAfterUpsert is a collection that cancels a run once its first
// upsert is stored, as Ctrl-C would.
type cancelAfterUpsert struct {
	vectorstore.Collection
	cancel context.CancelFunc
}

func (c cancelAfterUpsert) Upsert(ctx context.Context, model string, items []vectorstore.Item) error {
	err := c.Collection.Upsert(ctx, model, items)
	c.cancel()
	return err
}

// TestIngestInterrupted: an interrupted run said only "context canceled",
// with a summary of 0 files in 0.0 s. It now says what it stored and that a
// re-run resumes, and still matches context.Canceled (exit status 130).
func TestIngestInterrupted(t *testing.T) {
	e, data, c := mustImagesAndCollection(t, 20)
	ctx, cancel := context.WithCancel(context.Background())
	sum, err := Run(ctx, e, cancelAfterUpsert{c, cancel}, []string{data}, &Options{BatchSize: 4, Workers: 1})
	if !errors.Is(err, context.Canceled) || err.Error() != "interrupted: 4 stored, re-run to resume" {
		t.Fatalf("err = %v, want %q matching context.Canceled", err, "interrupted: 4 stored, re-run to resume")
	}
	if sum.Ingested != 4 || sum.Found < 4 || sum.Elapsed <= 0 || sum.Failed != 0 {
		t.Errorf("summary %+v, want 4 stored of the files handled, in some time, none failed", sum)
	}
	sum, err = Run(context.Background(), e, c, []string{data}, nil)
	if err != nil || sum.Ingested != 16 || sum.Skipped != 4 {
		t.Errorf("re-run: %+v, %v; want 16 ingested and 4 skipped", sum, err)
	}
}

// TestIngestDecodeBudget: an image needing more than the whole decode
// budget is decoded alone, not refused.
func TestIngestDecodeBudget(t *testing.T) {
	e, data, c := mustImagesAndCollection(t, 12)
	sum, err := Run(context.Background(), e, c, []string{data}, &Options{DecodeMemory: 1, Workers: 4})
	if err != nil || sum.Ingested != 12 {
		t.Fatalf("%+v, %v; want all 12 ingested", sum, err)
	}
}

// TestIngestMovedPath: when the stored copy of a picture is deleted, a
// re-ingest that finds the same bytes elsewhere records the live path; the
// old ingest skipped it, and the stored path stayed stale.
func TestIngestMovedPath(t *testing.T) {
	e, data, c := mustImagesAndCollection(t, 2) // a picture, and another that stays as it is
	first := filepath.Join(data, "cats", "imga000.png")
	id := mustID(t, first)
	picture, err := os.ReadFile(first)
	if err != nil {
		t.Fatal(err)
	}
	copyFile := func(to string) {
		if err := os.WriteFile(to, picture, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	second := filepath.Join(data, "second.png")
	third := filepath.Join(data, "dogs", "third.png")
	ctx := context.Background()
	steps := []struct {
		name           string
		change         func()
		moved, skipped int    // skipped counts the other picture
		wantPath       string // the stored path of first's bytes after the step
		wantClass      string
	}{
		{"first ingest", func() {}, 0, 0, first, "cats"},
		{"a copy beside the live one", func() { copyFile(second) }, 0, 3, first, "cats"},
		{"the stored copy deleted", func() { os.Remove(first) }, 1, 1, second, filepath.Base(data)},
		{"again: nothing to update", func() {}, 0, 2, second, filepath.Base(data)},
		{"deleted again, a new copy", func() { copyFile(third); os.Remove(second) }, 1, 1, third, "dogs"},
		{"two live copies, the stored one gone", func() { copyFile(second); copyFile(first); os.Remove(third) }, 1, 2, first, "cats"},
	}
	for _, st := range steps {
		st.change()
		sum, err := Run(ctx, e, c, []string{data}, &Options{Workers: 1})
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		got, err := c.Get(ctx, []string{id})
		if err != nil || len(got) != 1 {
			t.Fatalf("%s: %v, %v", st.name, got, err)
		}
		if sum.Moved != st.moved || sum.Skipped != st.skipped || got[0].Metadata.Path != st.wantPath || got[0].Metadata.Class != st.wantClass {
			t.Errorf("%s: summary %+v, stored %+v; want %d moved, %d skipped, path %s, class %s",
				st.name, sum, got[0].Metadata, st.moved, st.skipped, st.wantPath, st.wantClass)
		}
		if n, _ := c.Count(ctx); n != 2 {
			t.Errorf("%s: %d stored, want 2", st.name, n)
		}
	}
}

// mustID is the ID of the file at path.
func mustID(t *testing.T, path string) string {
	t.Helper()
	id, err := hashFile(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestShardOf(t *testing.T) {
	cases := []struct {
		id   string
		n    int
		want int
	}{
		{"0000000000000005ffff", 4, 1},
		{"000000000000000a", 4, 2},
		{"ffffffffffffffff", 1, 0},
		{"ffffffffffffffff", 0, 0},
		{"abc", 4, 0},                // short: no panic
		{"", 4, 0},                   // empty
		{"zzzzzzzzzzzzzzzzzz", 4, 0}, // not hexadecimal
	}
	for _, tc := range cases {
		if got := shardOf(tc.id, tc.n); got != tc.want {
			t.Errorf("shardOf(%q, %d) = %d, want %d", tc.id, tc.n, got, tc.want)
		}
	}
}
