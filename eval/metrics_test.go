package eval

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"slices"
	"testing"
)

func TestRank(t *testing.T) {
	// Points on a line; labels: 0 0 1 1.
	vecs := [][]float32{{0}, {1}, {1.6}, {5}}
	labels := []int{0, 0, 1, 1}
	r := Rank(vecs, labels, vecs, labels, true, []int{1, 2})
	// Query 0: nearest is 1 (rel) -> R@1 hit, AP 1.
	// Query 1: nearest is 2 (1.6, not rel), then 0 (rel) -> R@1 miss, R@2 hit, AP 1/2.
	// Query 2: nearest is 1 (not rel), then 0, then 3 (rel at rank 3) -> AP 1/3.
	// Query 3: nearest is 2 (rel) -> AP 1.
	cases := []struct {
		name      string
		got, want float64
	}{
		{"R@1", r.Recall[1], 2.0 / 4},
		{"R@2", r.Recall[2], 3.0 / 4},
		{"mAP", r.MAP, (1 + 0.5 + 1.0/3 + 1) / 4},
		{"queries", float64(r.Queries), 4},
	}
	for _, tc := range cases {
		if math.Abs(tc.got-tc.want) > 1e-9 {
			t.Errorf("%s = %g, want %g", tc.name, tc.got, tc.want)
		}
	}
	// Queries 1 and 2 miss: their first relevant image second and third,
	// image 2 and image 1 first.
	if want := []Miss{{Query: 1, Rank: 2, Nearest: 2}, {Query: 2, Rank: 3, Nearest: 1}}; !slices.Equal(r.Misses, want) {
		t.Errorf("misses %+v, want %+v", r.Misses, want)
	}
}

// TestRankVariants: a gallery image of several vectors is as near as the
// nearest of them.
func TestRankVariants(t *testing.T) {
	queries := [][]float32{{0}, {9}}
	qLabels := []int{0, 1}
	gallery := [][]float32{{4, 8.5}, {2, 3}} // image 0's variant is at 8.5
	gLabels := []int{1, 0}
	r := Rank(queries, qLabels, gallery, gLabels, false, []int{1})
	// Query 0: image 1 (2) before image 0 (4): a hit. Query 1: image 0's
	// variant (8.5) before image 1 (3): a hit, which image 0's own vector
	// alone would miss.
	if r.Recall[1] != 1 {
		t.Errorf("R@1 = %g, want 1", r.Recall[1])
	}
	if d := NearestDistance([]float32{9}, gallery[0]); d != 0.25 {
		t.Errorf("NearestDistance = %g, want 0.25", d)
	}
}

// TestRankViews: a query of several views is as near an image as the
// nearest of them is to the nearest of its vectors.
func TestRankViews(t *testing.T) {
	gallery := [][]float32{{4, 8.5}, {2, 3}} // image 0's variant is at 8.5
	gLabels := []int{0, 1}
	for _, tc := range []struct {
		name     string
		query    []float32
		queryDim int
		want     float32 // AnyDistance to image 0
		r1       float64
	}{
		{"one vector", []float32{2.5}, 0, 2.25, 0},
		{"its second view meets a variant", []float32{2.5, 8.25}, 1, 0.0625, 1},
		{"its second view is farther", []float32{2.5, 20}, 1, 2.25, 0},
	} {
		if d := AnyDistance(tc.query, tc.queryDim, gallery[0]); d != tc.want {
			t.Errorf("%s: AnyDistance = %g, want %g", tc.name, d, tc.want)
		}
		if r := RankReordered([][]float32{tc.query}, []int{0}, gallery, gLabels, false, []int{1}, nil, tc.queryDim); r.Recall[1] != tc.r1 {
			t.Errorf("%s: R@1 = %g, want %g", tc.name, r.Recall[1], tc.r1)
		}
	}
}

// TestRankReordered: a reorder sees each query's ranking, nearest first,
// and its order is the one scored.
func TestRankReordered(t *testing.T) {
	queries := [][]float32{{0}, {10}}
	qLabels := []int{0, 1}
	gallery := [][]float32{{1}, {2}, {3}, {11}}
	gLabels := []int{1, 0, 1, 1}
	// Query 0's nearest: 0 (wrong), 1, 2, 3; query 1's: 3, 2, 1, 0.
	swapFirstTwo := func(q int, nearest []int, dist []float64) []int {
		want := [][]int{{0, 1, 2, 3}, {3, 2, 1, 0}}[q]
		if !slices.Equal(nearest, want) || !slices.IsSorted(dist) || dist[0] != float64(SquaredDistance(queries[q], gallery[nearest[0]])) {
			t.Errorf("query %d: nearest %v at %v, want %v nearest first", q, nearest, dist, want)
		}
		return []int{1, 0, 2, 3}
	}
	tests := []struct {
		name    string
		reorder Reorder
		want    float64 // R@1
		misses  []Miss
	}{
		{"none", nil, 0.5, []Miss{{Query: 0, Rank: 2, Nearest: 0}}},
		// Swapped, query 0 finds image 1 (label 0) first and query 1 image
		// 2 (label 1): both hits, where only query 1 was.
		{"the first two swapped", swapFirstTwo, 1, nil},
	}
	for _, tc := range tests {
		r := RankReordered(queries, qLabels, gallery, gLabels, false, []int{1}, tc.reorder, 0)
		if r.Recall[1] != tc.want {
			t.Errorf("%s: R@1 = %g, want %g", tc.name, r.Recall[1], tc.want)
		}
		if !slices.Equal(r.Misses, tc.misses) {
			t.Errorf("%s: misses %+v, want %+v (the reordered ranking's)", tc.name, r.Misses, tc.misses)
		}
	}
}

func TestTripletScore(t *testing.T) {
	v := map[string][]float32{"q": {0, 0}, "near": {0, 1}, "far": {3, 0}}
	ts := [][3]string{{"q", "near", "far"}, {"q", "far", "near"}, {"q", "near", "near"}}
	got := TripletScore(len(ts), func(i int) (q, p, n []float32) { return v[ts[i][0]], v[ts[i][1]], v[ts[i][2]] })
	// A tie counts as wrong: only the first is right.
	if got != 1.0/3 {
		t.Errorf("precision %g, want 1/3", got)
	}
}

// TestBaselines checks that each baseline tells images apart the way it
// is meant to: a query is strictly nearer a near copy than an image that
// differs in what the descriptor sees (layout for raw pixels and the
// perceptual hash, colours for the histogram), so a descriptor that gives
// every image the same output fails.
func TestBaselines(t *testing.T) {
	plain := func(c color.RGBA) *image.RGBA {
		img := image.NewRGBA(image.Rect(0, 0, 32, 32))
		for i := 0; i < len(img.Pix); i += 4 {
			img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, 255
		}
		return img
	}
	gradient := func(shift uint8, mirrored bool) *image.RGBA {
		img := plain(color.RGBA{})
		for y := range 32 {
			for x := range 32 {
				v := x
				if mirrored {
					v = 31 - x
				}
				img.SetRGBA(x, y, color.RGBA{uint8(7*v) + shift, uint8(7*y) + shift, shift, 255})
			}
		}
		return img
	}
	cases := []struct {
		name             string
		query, near, far *image.RGBA
		dim              int
	}{
		{"raw-pixels-16", gradient(0, false), gradient(6, false), gradient(0, true), 16 * 16 * 3},
		{"color-histogram", plain(color.RGBA{200, 0, 0, 255}), plain(color.RGBA{215, 0, 0, 255}), plain(color.RGBA{0, 0, 200, 255}), 0},
		{"phash", gradient(0, false), gradient(6, false), gradient(0, true), 64},
	}
	baselines := Baselines()
	if len(baselines) != len(cases) {
		t.Fatalf("%d baselines, %d cases", len(baselines), len(cases))
	}
	for i, tc := range cases {
		b := baselines[i]
		t.Run(tc.name, func(t *testing.T) {
			if b.Name != tc.name {
				t.Fatalf("baseline %d is %q, want %q", i, b.Name, tc.name)
			}
			q := b.Describe(tc.query)
			if again := b.Describe(tc.query); SquaredDistance(q, again) != 0 {
				t.Error("the same image gave different descriptors")
			}
			if tc.dim > 0 && len(q) != tc.dim {
				t.Errorf("%d values, want %d", len(q), tc.dim)
			}
			near, far := SquaredDistance(q, b.Describe(tc.near)), SquaredDistance(q, b.Describe(tc.far))
			if !(near < far) {
				t.Errorf("the near copy is at %g, the other image at %g: want it strictly nearer", near, far)
			}
		})
	}
}

func ExampleRank() {
	gallery := [][]float32{{0, 0}, {0, 1}, {5, 5}, {5, 6}}
	labels := []int{0, 0, 1, 1}
	r := Rank(gallery, labels, gallery, labels, true, []int{1})
	fmt.Println(r)
	// Output: R@1 1.000  mAP 1.000 (4 queries)
}
