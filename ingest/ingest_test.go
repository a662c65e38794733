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
	"strings"
	"testing"

	"github.com/deeprank/deeprank/embedder"
	"github.com/deeprank/deeprank/model"
	"github.com/deeprank/deeprank/vectorstore"
	"github.com/deeprank/deeprank/vectorstore/embedded"
)

// mustEmbedder returns an embedder of a small random model.
func mustEmbedder(t testing.TB) *embedder.Embedder {
	t.Helper()
	s := model.DefaultSpec()
	s.InputSize, s.Width, s.Stages, s.DenseDim, s.EmbeddingDim = 32, 4, 2, 16, 8
	s.Shallow = model.ScaledShallowBranches(32)
	m, err := model.New(s, model.UnitNormalization())
	if err != nil {
		t.Fatal(err)
	}
	m.Initialize(1)
	e, err := embedder.New(m, nil)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func mustCollection(t testing.TB, dir string, e *embedder.Embedder) (vectorstore.Store, vectorstore.Collection) {
	t.Helper()
	s, err := embedded.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Create(ctx, "images", vectorstore.Spec{Dim: e.Dim(), Metric: vectorstore.MetricL2, ModelVersion: e.ModelVersion()}); err != nil {
		t.Fatal(err)
	}
	c, err := s.Open(ctx, "images")
	if err != nil {
		t.Fatal(err)
	}
	return s, c
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
