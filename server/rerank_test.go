package server

import (
	"bytes"
	"image"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/deeprank/deeprank/imageio"
	"github.com/deeprank/deeprank/rerank"
)

// TestSearchReranks: a search by an uploaded image orders its hits again
// by how their pictures line up with the upload's, as the server's
// Options.Rerank says, and leaves them nearest first without it.
func TestSearchReranks(t *testing.T) {
	f := mustTestbed(t)
	query := r4Crop(t, f)
	qp, err := f.emb.Picture(query)
	if err != nil {
		t.Fatal(err)
	}
	q := qp.NewQuery()
	match := func(path string) float64 {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		p, err := f.emb.Picture(data)
		if err != nil {
			t.Fatal(err)
		}
		return q.NCC(p.Thumb())
	}
	// descending reports whether each result lines up at least as well as
	// the next.
	descending := func(rs []result) bool {
		for i := 1; i < len(rs); i++ {
			if match(rs[i-1].Path) < match(rs[i].Path) {
				return false
			}
		}
		return true
	}
	names := func(rs []result) []string {
		var out []string
		for _, r := range rs {
			out = append(out, filepath.Base(r.Path))
		}
		return out
	}
	tests := []struct {
		name string
		o    rerank.Options
	}{
		{"off", rerank.Options{}},
		{"on, the line-up outweighing any distance", rerank.Options{Top: testbedImages, Weight: 100, Floor: -1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, ts := mustServe(t, f, &Options{Rerank: tc.o})
			ct, body := upload(t, query, map[string]string{"top_k": "8"})
			resp, err := postImage(ts.URL, ct, body)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			got := decodeSearch(t, b)
			if len(got.Results) != testbedImages {
				t.Fatalf("%d results, want %d", len(got.Results), testbedImages)
			}
			if !tc.o.On() {
				for i := 1; i < len(got.Results); i++ {
					if got.Results[i].Distance < got.Results[i-1].Distance {
						t.Errorf("result %d nearer than the one before: %v", i+1, names(got.Results))
					}
				}
				if descending(got.Results) {
					t.Fatal("the nearest are already in line-up order: the test cannot tell re-ranking")
				}
				return
			}
			if first := filepath.Base(got.Results[0].Path); first != "r4.png" {
				t.Errorf("first %s, want r4.png, the image the query is cut from", first)
			}
			if !descending(got.Results) {
				t.Errorf("results not in line-up order: %v", names(got.Results))
			}
			for i, r := range got.Results {
				if r.Rank != i+1 {
					t.Errorf("result %d has rank %d", i+1, r.Rank)
				}
			}
		})
	}
}

// TestSearchReranksBeyondTopK: a search of top_k below the re-ranker's Top
// still lines up Top hits, and returns the first top_k of their new order.
func TestSearchReranksBeyondTopK(t *testing.T) {
	f := mustTestbed(t)
	query := r4Crop(t, f)
	search := func(o rerank.Options, topK string) []string {
		_, ts := mustServe(t, f, &Options{Rerank: o})
		ct, body := upload(t, query, map[string]string{"top_k": topK})
		resp, err := postImage(ts.URL, ct, body)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var out []string
		for _, r := range decodeSearch(t, b).Results {
			out = append(out, filepath.Base(r.Path))
		}
		return out
	}
	on := rerank.Options{Top: testbedImages, Weight: 100, Floor: -1}
	all := search(on, strconv.Itoa(testbedImages))
	nearest := search(rerank.Options{}, "2")
	if slices.Equal(all[:2], nearest) {
		t.Fatalf("the two nearest %v are the first two lined up: the test cannot tell", nearest)
	}
	if got := search(on, "2"); !slices.Equal(got, all[:2]) {
		t.Errorf("top_k 2: %v, want the first two of all %d lined up, %v", got, testbedImages, all[:2])
	}
}

// r4Crop is a PNG of 70% of each side of the testbed's r4.png.
func r4Crop(t *testing.T, f *testbed) []byte {
	img, err := imageio.DecodeFile(f.files["r4.png"], nil)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img.(interface {
		SubImage(image.Rectangle) image.Image
	}).SubImage(image.Rect(20, 10, 87, 55))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
