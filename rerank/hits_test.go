package rerank

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/deeprank/deeprank/imageio"
	"github.com/deeprank/deeprank/internal/fixture"
	"github.com/deeprank/deeprank/vectorstore"
)

// decodePicture is a hit's picture from its file's bytes, squared to 128
// as the default model's embedder squares it.
func decodePicture(data []byte) (*Picture, error) {
	sq, full, err := imageio.DecodeSquare(data, 128, nil)
	if err != nil {
		return nil, err
	}
	return NewPicture(sq, full), nil
}

// stored writes img as a PNG in dir and returns its hit at distance d,
// with the ID ingest gives it.
func stored(t *testing.T, dir, name string, img image.Image, d float32) vectorstore.Hit {
	path := filepath.Join(dir, name)
	fixture.WritePNG(t, path, img)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return vectorstore.Hit{ID: hex.EncodeToString(sum[:]), Metadata: vectorstore.Metadata{Path: path}, Distance: d}
}

func TestHits(t *testing.T) {
	dir := t.TempDir()
	src := scene(1, 240, 180)
	query := picture(crop(src, 0.7, 0.2, 0.8))
	other := stored(t, dir, "other.png", scene(2, 240, 180), 0.3)
	source := stored(t, dir, "source.png", src, 0.5)
	gone := stored(t, dir, "gone.png", src, 0.55)
	if err := os.Remove(gone.Metadata.Path); err != nil {
		t.Fatal(err)
	}
	changed := stored(t, dir, "changed.png", scene(3, 240, 180), 0.6)
	fixture.WritePNG(t, changed.Metadata.Path, src) // the source's picture, no longer the bytes its ID names
	broken := stored(t, dir, "broken.png", src, 0.65)
	if err := os.WriteFile(broken.Metadata.Path, []byte("not an image"), 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("not an image"))
	broken.ID = hex.EncodeToString(sum[:])
	far := stored(t, dir, "far.png", src, 0.9)
	hits := []vectorstore.Hit{other, source, gone, changed, broken, far}
	ids := func(hs []vectorstore.Hit) []string {
		var out []string
		for _, h := range hs {
			out = append(out, filepath.Base(h.Metadata.Path))
		}
		return out
	}
	tests := []struct {
		name  string
		o     Options
		query *Picture
		want  []string
	}{
		{"the source comes first; the rest keep their places", Default(),
			query, []string{"source.png", "other.png", "gone.png", "changed.png", "broken.png", "far.png"}},
		{"a top of 6 and more weight move the far copy up too", Options{Top: 6, Weight: 10, Floor: 0.85},
			query, []string{"source.png", "far.png", "other.png", "gone.png", "changed.png", "broken.png"}},
		{"off", Options{}, query, ids(hits)},
		{"a search by a vector", Default(), nil, ids(hits)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.o.Hits(tc.query, slices.Clone(hits), vectorstore.MetricL2, decodePicture)
			if !slices.Equal(ids(got), tc.want) {
				t.Errorf("order %v, want %v", ids(got), tc.want)
			}
			for _, h := range got {
				if i := slices.IndexFunc(hits, func(o vectorstore.Hit) bool { return o.Metadata.Path == h.Metadata.Path }); hits[i].Distance != h.Distance {
					t.Errorf("%s: distance %v, want the search's %v", h.Metadata.Path, h.Distance, hits[i].Distance)
				}
			}
		})
	}
}

// TestSearch: a search asks for enough hits to order Top of them again,
// a copy beyond the first k can come first, and k hits come back.
func TestSearch(t *testing.T) {
	dir := t.TempDir()
	src := scene(1, 240, 180)
	query := picture(crop(src, 0.7, 0.2, 0.8))
	var hits []vectorstore.Hit
	for i := range 4 {
		hits = append(hits, stored(t, dir, fmt.Sprintf("other%d.png", i), scene(uint64(10+i), 240, 180), 0.3+0.01*float32(i)))
	}
	hits = append(hits, stored(t, dir, "source.png", src, 0.4))
	failed := errors.New("the store is down")
	// A floor the other scenes' soft blobs stay below, so that only the
	// source moves.
	on := Options{Top: 10, Weight: 2, Floor: 0.95}
	tests := []struct {
		name    string
		o       Options
		k       int
		query   *Picture
		err     error
		asked   int
		want    []string
		wantErr error
	}{
		{"the source beyond k comes first", on, 2, query, nil, 10, []string{"source.png", "other0.png"}, nil},
		{"k above top", Options{Top: 2, Weight: 2, Floor: 0.95}, 4, query, nil, 4, []string{"other0.png", "other1.png", "other2.png", "other3.png"}, nil},
		{"off", Options{}, 2, query, nil, 2, []string{"other0.png", "other1.png"}, nil},
		{"a search by a vector", Default(), 2, nil, nil, 2, []string{"other0.png", "other1.png"}, nil},
		{"a top above the limit asks for the limit", Options{Top: 5000, Weight: 2, Floor: 0.95}, 2, query, nil, 1000, []string{"source.png", "other0.png"}, nil},
		{"fewer hits than k", on, 8, query, nil, 10, []string{"source.png", "other0.png", "other1.png", "other2.png", "other3.png"}, nil},
		{"the search fails", on, 2, query, failed, 10, nil, failed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			asked := 0
			got, err := tc.o.Search(tc.k, tc.query, vectorstore.MetricL2, decodePicture, func(n int) ([]vectorstore.Hit, error) {
				asked = n
				return slices.Clone(hits[:min(n, len(hits))]), tc.err
			})
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("error %v, want %v", err, tc.wantErr)
			}
			if asked != tc.asked {
				t.Errorf("asked for %d hits, want %d", asked, tc.asked)
			}
			var names []string
			for _, h := range got {
				names = append(names, filepath.Base(h.Metadata.Path))
			}
			if !slices.Equal(names, tc.want) {
				t.Errorf("hits %v, want %v", names, tc.want)
			}
		})
	}
}

// BenchmarkHitsCamera times what re-ranking adds to a query of a
// collection of camera photos: reading, checking and decoding the
// nearest hits' files that Default orders again (12 MP JPEGs from
// scripts/fetch-camera-photos.sh) and lining each up with the query.
//
//	go test -run '^$' -bench HitsCamera -benchtime 10x ./rerank
func BenchmarkHitsCamera(b *testing.B) {
	photos := fixture.CameraPhotos(b, "../data/camera", "420")
	if len(photos) < 2 {
		b.Skipf("%d camera photos, want 2", len(photos))
	}
	// As many hits as Default orders again, the photos but the query's
	// taken in turn: each hit is read and decoded on its own.
	var hits []vectorstore.Hit
	for i := range Default().Top {
		p := photos[i%(len(photos)-1)]
		_, id := fixture.ReadID(b, p)
		hits = append(hits, vectorstore.Hit{ID: id, Metadata: vectorstore.Metadata{Path: p}, Distance: 0.1 * float32(i+1)})
	}
	data, _ := fixture.ReadID(b, photos[len(photos)-1])
	q, err := decodePicture(data)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		Default().Hits(q, hits, vectorstore.MetricL2, decodePicture)
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/query")
}
