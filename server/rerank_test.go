package server

import (
	"bytes"
	"image"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/deeprank/deeprank/imageio"
	"github.com/deeprank/deeprank/rerank"
)

// TestSearchReranks: a search by an uploaded image orders its hits again
// by how their pictures line up with the upload's, as the server's
// Options.Rerank says, and leaves them nearest first without it.
func TestSearchReranks(t *testing.T) {
	f := mustTestbed(t)
	img, err := imageio.DecodeFile(f.files["r4.png"], nil)
	if err != nil {
		t.Fatal(err)
	}
	var query bytes.Buffer
	if err := png.Encode(&query, img.(interface {
		SubImage(image.Rectangle) image.Image
	}).SubImage(image.Rect(20, 10, 87, 55))); err != nil { // 70% of each side
		t.Fatal(err)
	}
	qp, err := f.emb.Picture(query.Bytes())
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
			ct, body := upload(t, query.Bytes(), map[string]string{"top_k": "8"})
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
