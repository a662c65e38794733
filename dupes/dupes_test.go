package dupes

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/deeprank/deeprank/vectorstore"
	"github.com/deeprank/deeprank/vectorstore/embedded"
)

const testModel = "m1"

// smallTiles holds 130 rows at a time in tiles of 48 rows and panels of
// 40 columns for the test, and lends a table's rows 70 at a time, so that a
// few hundred vectors cross many edges of each, none of them aligned.
func smallTiles(t *testing.T) {
	held, rows, cols, lent := heldRows, tileRows, panelCols, tableBlockRows
	heldRows, tileRows, panelCols, tableBlockRows = 130, 48, 40, 70
	t.Cleanup(func() { heldRows, tileRows, panelCols, tableBlockRows = held, rows, cols, lent })
}

// mustCollection makes an embedded store in a temporary folder with one
// collection, name, holding items.
func mustCollection(t testing.TB, dir, name string, metric vectorstore.Metric, items []vectorstore.Item) vectorstore.Collection {
	t.Helper()
	return mustCollectionWith(t, dir, name, metric, items, nil)
}

// mustCollectionWith is mustCollection with the store opened with opts.
func mustCollectionWith(t testing.TB, dir, name string, metric vectorstore.Metric, items []vectorstore.Item, opts *embedded.Options) vectorstore.Collection {
	t.Helper()
	return mustSpecCollection(t, dir, name, vectorstore.Spec{Dim: len(items[0].Vector), Metric: metric, ModelVersion: testModel}, items, opts)
}

// mustSpecCollection is mustCollectionWith for a collection of spec.
func mustSpecCollection(t testing.TB, dir, name string, spec vectorstore.Spec, items []vectorstore.Item, opts *embedded.Options) vectorstore.Collection {
	t.Helper()
	s, err := embedded.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	if err := s.Create(ctx, name, spec); err != nil {
		t.Fatal(err)
	}
	c, err := s.Open(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	for lo := 0; lo < len(items); lo += 1000 {
		if err := c.Upsert(ctx, testModel, items[lo:min(lo+1000, len(items))]); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// scanOnly hides a collection's vectorstore.BlockReader, so that Find reads
// it as it reads stores that lend no blocks.
type scanOnly struct{ vectorstore.Collection }

func idOf(i int) string {
	h := sha256.Sum256([]byte(fmt.Sprint(i)))
	return hex.EncodeToString(h[:])
}

func unit(v []float32) []float32 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	n := float32(math.Sqrt(s))
	for i := range v {
		v[i] /= n
	}
	return v
}

// planted makes n random unit vectors of dim, a share of them copies of
// another one with noise of size noise, so that near pairs and chains
// exist; paths are /img/i.
func planted(rng *rand.Rand, n, dim int, noise float32) []vectorstore.Item {
	items := make([]vectorstore.Item, n)
	for i := range items {
		v := make([]float32, dim)
		if i > 0 && rng.IntN(3) == 0 {
			base := items[i-1].Vector // next to it, half the time: pairs in a tile's diagonal
			if rng.IntN(2) == 0 {
				base = items[rng.IntN(i)].Vector
			}
			for d := range v {
				v[d] = base[d] + noise*float32(rng.NormFloat64())/float32(math.Sqrt(float64(dim)))
			}
		} else {
			for d := range v {
				v[d] = float32(rng.NormFloat64())
			}
		}
		items[i] = vectorstore.Item{ID: idOf(i), Vector: unit(v), Metadata: vectorstore.Metadata{Path: fmt.Sprintf("/img/%d", i)}}
	}
	return items
}

// bruteGroups is the reference: every pair compared, components by a
// depth-first search, each as its sorted IDs, the list sorted; and the
// number of pairs within d that are not distinct, and the most near
// neighbours any image has (distinct pairs included).
func bruteGroups(items []vectorstore.Item, metric vectorstore.Metric, d float32, distinct *Distinct) ([]string, int, int) {
	adj := make([][]int, len(items))
	deg := make([]int, len(items))
	pairs := 0
	for i := range items {
		for j := i + 1; j < len(items); j++ {
			if distance(metric, items[i].Vector, items[j].Vector) > d {
				continue
			}
			deg[i]++
			deg[j]++
			if !distinct.Has(items[i].ID, items[j].ID) {
				pairs++
				adj[i], adj[j] = append(adj[i], j), append(adj[j], i)
			}
		}
	}
	seen := make([]bool, len(items))
	var out []string
	for i := range items {
		if seen[i] || len(adj[i]) == 0 {
			continue
		}
		var ids []string
		stack := []int{i}
		seen[i] = true
		for len(stack) > 0 {
			x := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			ids = append(ids, items[x].ID)
			for _, y := range adj[x] {
				if !seen[y] {
					seen[y] = true
					stack = append(stack, y)
				}
			}
		}
		slices.Sort(ids)
		out = append(out, strings.Join(ids, ","))
	}
	slices.Sort(out)
	return out, pairs, slices.Max(deg)
}

func groupKeys(gs []Group) []string {
	var out []string
	for _, g := range gs {
		var ids []string
		for _, m := range g.Members {
			ids = append(ids, m.ID)
		}
		slices.Sort(ids)
		out = append(out, strings.Join(ids, ","))
	}
	slices.Sort(out)
	return out
}

// TestFindMatchesBruteForce is a property test: on random vectors with
// planted near copies (and chains of them), under every metric and both
// methods, the groups are exactly the connected components a brute-force
// comparison of all pairs gives, with some pairs marked distinct.
func TestFindMatchesBruteForce(t *testing.T) {
	smallTiles(t)
	seeds := 6
	if testing.Short() {
		seeds = 2
	}
	for seed := range seeds {
		rng := rand.New(rand.NewPCG(uint64(seed), 7))
		n := 250 + rng.IntN(400) // tiles of 96: several, and ragged edges
		items := planted(rng, n, 24, 0.3)
		vecs := map[string][]float32{}
		for _, it := range items {
			vecs[it.ID] = it.Vector
		}
		for _, metric := range []vectorstore.Metric{vectorstore.MetricL2, vectorstore.MetricCosine, vectorstore.MetricIP} {
			coll := mustCollection(t, t.TempDir(), "c", metric, items)
			d := metric.FromL2(0.25)
			distinct := &Distinct{}
			for range 20 { // mark some near pairs distinct
				i := rng.IntN(n)
				for j := range n {
					if j != i && distance(metric, items[i].Vector, items[j].Vector) <= d {
						distinct.Add(items[i].ID, items[j].ID)
						break
					}
				}
			}
			want, pairs, degree := bruteGroups(items, metric, d, distinct)
			if len(want) < 10 {
				t.Fatalf("seed %d: only %d groups planted: the test proves little", seed, len(want))
			}
			// Exact reads the log's items lent in blocks, segments' (in
			// logs of 16 KB, flushed into several), and items read by
			// Scan; Index finds every pair when no image has more near
			// neighbours than it asks for.
			segments := mustCollectionWith(t, t.TempDir(), "c", metric, items, &embedded.Options{CompactLogBytes: 16 << 10})
			for _, run := range []struct {
				coll vectorstore.Collection
				m    Method
			}{{coll, Exact}, {segments, Exact}, {scanOnly{coll}, Exact}, {coll, Index}} {
				coll, m := run.coll, run.m
				res, err := Find(context.Background(), coll, &Options{MaxDistance: d, Method: m, Neighbours: degree + 1, Distinct: distinct})
				if err != nil {
					t.Fatal(err)
				}
				if got := groupKeys(res.Groups); !slices.Equal(got, want) {
					t.Errorf("seed %d, n %d, %s, method %d, %T: %d groups, brute force %d", seed, n, metric, m, coll, len(got), len(want))
				}
				if res.Pairs != pairs {
					t.Errorf("seed %d, n %d, %s, method %d, %T: %d pairs, brute force %d", seed, n, metric, m, coll, res.Pairs, pairs)
				}
				if res.Images != n {
					t.Errorf("seed %d, %s, method %d: %d images, want %d", seed, metric, m, res.Images, n)
				}
				for _, g := range res.Groups {
					for _, mem := range g.Members {
						want := distance(metric, vecs[g.Members[0].ID], vecs[mem.ID])
						if math.Abs(float64(mem.Distance-want)) > 1e-5 {
							t.Fatalf("member %s: distance %g to the first, want %g", mem.ID, mem.Distance, want)
						}
					}
				}
			}
		}
	}
}

// TestVariantsCompareOwn: in a collection whose images have a second
// vector, each one equal to another image's own vector (a lure the store's
// search meets at distance 0), every method groups by own vectors alone,
// as brute force over them does; the index method asking for no more
// neighbours than the most any image has, so that a lure that took one of
// their places would lose a pair.
func TestVariantsCompareOwn(t *testing.T) {
	smallTiles(t)
	rng := rand.New(rand.NewPCG(3, 7))
	own := planted(rng, 300, 24, 0.3)
	items := make([]vectorstore.Item, len(own))
	for i, it := range own {
		items[i] = it
		items[i].Vector = slices.Concat(it.Vector, own[(i+150)%len(own)].Vector)
	}
	d := vectorstore.MetricL2.FromL2(0.25)
	want, pairs, degree := bruteGroups(own, vectorstore.MetricL2, d, &Distinct{})
	ctx := context.Background()
	coll := mustSpecCollection(t, t.TempDir(), "c", vectorstore.Spec{Dim: 24, Metric: vectorstore.MetricL2, ModelVersion: testModel, Variants: 2}, items, nil)
	for _, run := range []struct {
		coll vectorstore.Collection
		m    Method
	}{{coll, Exact}, {scanOnly{coll}, Exact}, {coll, Index}} {
		res, err := Find(ctx, run.coll, &Options{MaxDistance: d, Method: run.m, Neighbours: degree})
		if err != nil {
			t.Fatal(err)
		}
		if got := groupKeys(res.Groups); !slices.Equal(got, want) || res.Pairs != pairs {
			t.Errorf("method %d, %T: %d groups and %d pairs, brute force over own vectors %d and %d", run.m, run.coll, len(got), res.Pairs, len(want), pairs)
		}
	}
	// A collection of the same model with own vectors only compares with
	// it, and finds what it finds in a copy of itself: both methods
	// compare own vectors.
	plain := mustCollection(t, t.TempDir(), "plain", vectorstore.MetricL2, own)
	plainCopy := mustCollection(t, t.TempDir(), "copy", vectorstore.MetricL2, own)
	for _, m := range []Method{Exact, Index} {
		opts := &Options{MaxDistance: d, Method: m, Neighbours: degree}
		got, err := Against(ctx, plain, coll, opts)
		if err != nil {
			t.Fatalf("method %d: Against a collection of variants: %v", m, err)
		}
		want, err := Against(ctx, plain, plainCopy, opts)
		if err != nil || len(got) != len(want) {
			t.Errorf("method %d: %d matches against the collection of variants, %d against a copy of own vectors (%v)", m, len(got), len(want), err)
		}
	}
}

// TestLearnedCompared: in a collection whose vectors are a learned part
// and then a random "thumbnail" (vectorstore.Spec.Learned), the parts
// sharing each vector in proportions that vary by image, every method
// groups by the learned parts alone, as brute force over them does, and
// gives members' distances between them. Over whole vectors the planted
// pairs are far apart.
func TestLearnedCompared(t *testing.T) {
	smallTiles(t)
	const learned, rest = 24, 8
	rng := rand.New(rand.NewPCG(5, 7))
	own := planted(rng, 300, learned, 0.3)
	vecs := map[string][]float32{}
	items := make([]vectorstore.Item, len(own))
	for i, it := range own {
		vecs[it.ID] = it.Vector
		share := 0.2 + 0.2*rng.Float64() // the thumbnail's share of the squared length
		v := make([]float32, 0, learned+rest)
		for _, x := range it.Vector {
			v = append(v, x*float32(math.Sqrt(1-share)))
		}
		for _, x := range planted(rng, 1, rest, 0)[0].Vector {
			v = append(v, x*float32(math.Sqrt(share)))
		}
		items[i] = it
		items[i].Vector = v
	}
	ctx := context.Background()
	for _, metric := range []vectorstore.Metric{vectorstore.MetricL2, vectorstore.MetricCosine, vectorstore.MetricIP} {
		d := metric.FromL2(0.25)
		want, pairs, degree := bruteGroups(own, metric, d, &Distinct{})
		if whole, _, _ := bruteGroups(items, metric, d, &Distinct{}); len(whole) > len(want)/2 {
			t.Fatalf("%s: %d groups over whole vectors, %d over learned parts: the thumbnails do not hide the pairs", metric, len(whole), len(want))
		}
		coll := mustSpecCollection(t, t.TempDir(), "c", vectorstore.Spec{Dim: learned + rest, Metric: metric, ModelVersion: testModel, Learned: learned}, items, nil)
		for _, run := range []struct {
			coll vectorstore.Collection
			m    Method
		}{{coll, Exact}, {scanOnly{coll}, Exact}, {coll, Index}} {
			res, err := Find(ctx, run.coll, &Options{MaxDistance: d, Method: run.m, Neighbours: degree + 2})
			if err != nil {
				t.Fatal(err)
			}
			if got := groupKeys(res.Groups); !slices.Equal(got, want) || res.Pairs != pairs {
				t.Errorf("%s, method %d, %T: %d groups and %d pairs, brute force over learned parts %d and %d", metric, run.m, run.coll, len(got), res.Pairs, len(want), pairs)
			}
			for _, g := range res.Groups {
				for _, mem := range g.Members {
					want := distance(metric, vecs[g.Members[0].ID], vecs[mem.ID])
					if math.Abs(float64(mem.Distance-want)) > 1e-5 {
						t.Fatalf("%s, method %d: member %s at %g from the first, want %g", metric, run.m, mem.ID, mem.Distance, want)
					}
				}
			}
		}
	}
}

// TestLearnedSearchSlack: the index method's search ranks by learned parts
// each scaled by its image's share, which favours images whose thumbnail
// has none (nearly flat pictures); a copy ranked behind more of those than
// Neighbours, though nearer by its learned part, is still found, as the
// exact method finds it.
func TestLearnedSearchSlack(t *testing.T) {
	const learned, rest, flats = 32, 8, 24
	// at is a vector whose learned part is c0 along the first axis and c1
	// along axis, the thumbnail taking share of it.
	at := func(c0 float64, axis int, c1, share float64, thumb []float32) []float32 {
		v := make([]float32, learned+rest)
		scale := math.Sqrt(1 - share)
		v[0], v[axis] = float32(c0*scale), float32(c1*scale)
		for i, x := range thumb {
			v[learned+i] = x * float32(math.Sqrt(share))
		}
		return v
	}
	rng := rand.New(rand.NewPCG(8, 7))
	thumb := func() []float32 { return planted(rng, 1, rest, 0)[0].Vector }
	// The image and its copy at learned distance 0.44 either side of the
	// first axis, a tenth of each vector a thumbnail; flat images at 0.5
	// from both, beyond the threshold (0.459), whose full-length learned
	// parts the store ranks before the copy from either side.
	sin := 0.22
	cos := math.Sqrt(1 - sin*sin)
	items := []vectorstore.Item{
		{ID: idOf(0), Vector: at(cos, 1, sin, 0.1, thumb())},
		{ID: idOf(1), Vector: at(cos, 1, -sin, 0.1, thumb())},
	}
	flatCos := (1 - 0.5*0.5/2) / cos
	for i := range flats {
		items = append(items, vectorstore.Item{ID: idOf(2 + i), Vector: at(flatCos, 2+i, math.Sqrt(1-flatCos*flatCos), 0, nil)})
	}
	coll := mustSpecCollection(t, t.TempDir(), "c", vectorstore.Spec{Dim: learned + rest, Metric: vectorstore.MetricL2, ModelVersion: testModel, Learned: learned}, items, nil)
	for _, m := range []Method{Exact, Index} {
		res, err := Find(context.Background(), coll, &Options{MaxDistance: 0.459, Method: m})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := groupKeys(res.Groups), groupKeys([]Group{{Members: []Member{{ID: idOf(0)}, {ID: idOf(1)}}}}); !slices.Equal(got, want) {
			t.Errorf("method %d: groups %v, want the image and its copy", m, got)
		}
	}
}

// TestAspectSearch: where vectors end with an aspect value, the index
// method's search sets the searching image's own (Options.AspectValue), so
// a wide image and its wide copy are found though more square images than
// a search asks for are nearer by the store's distance; without it they
// are not (but under IP, where a zero leaves the value out), and the exact
// method, which compares learned parts alone, finds them either way.
func TestAspectSearch(t *testing.T) {
	const learned, squares = 48, 40
	// at is a unit learned part, c0 along the first axis and the rest
	// along axis, then an aspect value.
	at := func(c0 float64, axis int, aspect float32) []float32 {
		v := make([]float32, learned+1)
		v[0], v[axis] = float32(c0), float32(math.Sqrt(1-c0*c0))
		v[learned] = aspect
		return v
	}
	// The image and its copy 0.3 apart, each twice as wide as high at
	// weight 0.8; square images 0.5 from the image, beyond the threshold,
	// and further from each other.
	half := 0.15
	items := []vectorstore.Item{
		{ID: idOf(0), Vector: at(math.Sqrt(1-half*half), 1, 0.8)},
		{ID: idOf(1), Vector: at(math.Sqrt(1-half*half), 2, 0.8)},
	}
	items[1].Vector[1], items[1].Vector[2] = -items[0].Vector[1], 0
	far := (1 - 0.5*0.5/2) / math.Sqrt(1-half*half)
	for i := range squares {
		items = append(items, vectorstore.Item{ID: idOf(2 + i), Vector: at(far, 3+i, 0)})
	}
	pair := groupKeys([]Group{{Members: []Member{{ID: idOf(0)}, {ID: idOf(1)}}}})
	for _, metric := range []vectorstore.Metric{vectorstore.MetricL2, vectorstore.MetricCosine, vectorstore.MetricIP} {
		coll := mustSpecCollection(t, t.TempDir(), "c", vectorstore.Spec{Dim: learned + 1, Metric: metric, ModelVersion: testModel, Learned: learned}, items, nil)
		for _, tc := range []struct {
			m      Method
			aspect bool
			found  bool
		}{
			{Exact, false, true}, {Exact, true, true}, {Index, true, true},
			// Under IP a zero in the query leaves the value out; under
			// L2 and COSINE it counts against the wide images.
			{Index, false, metric == vectorstore.MetricIP},
		} {
			res, err := Find(context.Background(), coll, &Options{MaxDistance: metric.FromL2(0.459), Method: tc.m, Neighbours: 2, AspectValue: tc.aspect})
			if err != nil {
				t.Fatal(err)
			}
			if got := groupKeys(res.Groups); slices.Equal(got, pair) != tc.found {
				t.Errorf("%s, method %d, aspect value %v: groups %v, want the pair found: %v", metric, tc.m, tc.aspect, got, tc.found)
			}
		}
	}
}

// TestDistinctSplits checks that a pair marked distinct is not an edge:
// two images alone fall apart, and a chain a-b-c stays whole through b when
// a-c is marked.
func TestDistinctSplits(t *testing.T) {
	v := func(x float32) []float32 { return unit([]float32{1, x, 0}) }
	items := []vectorstore.Item{
		{ID: idOf(0), Vector: v(0)}, {ID: idOf(1), Vector: v(0.01)}, // a pair
		{ID: idOf(2), Vector: unit([]float32{0, 1, 0})}, {ID: idOf(3), Vector: unit([]float32{0, 1, 0.01})}, {ID: idOf(4), Vector: unit([]float32{0, 1, 0.02})},
	}
	coll := mustCollection(t, t.TempDir(), "c", vectorstore.MetricL2, items)
	cases := []struct {
		name     string
		distinct [][2]int
		want     int // groups
		skipped  int
	}{
		{"none", nil, 2, 0},
		{"pair split", [][2]int{{0, 1}}, 1, 1},
		{"chain holds", [][2]int{{2, 4}}, 2, 1},
		{"chain split", [][2]int{{2, 3}, {3, 4}, {2, 4}}, 1, 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := &Distinct{}
			for _, p := range c.distinct {
				if _, err := d.Add(items[p[0]].ID, items[p[1]].ID); err != nil {
					t.Fatal(err)
				}
			}
			for _, m := range []Method{Exact, Index} {
				res, err := Find(context.Background(), coll, &Options{MaxDistance: 0.1, Distinct: d, Method: m})
				if err != nil {
					t.Fatal(err)
				}
				if len(res.Groups) != c.want || res.DistinctSkipped != c.skipped {
					t.Errorf("method %d: %d groups, %d skipped; want %d, %d", m, len(res.Groups), res.DistinctSkipped, c.want, c.skipped)
				}
			}
		})
	}
}

// TestKeeper checks the suggested keeper: the present file with the most
// pixels, then the oldest; a missing file never keeps, and a group whose
// files are all gone has no keeper.
func TestKeeper(t *testing.T) {
	dir := t.TempDir()
	file := func(name string, age time.Duration) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(name), 0o644); err != nil {
			t.Fatal(err)
		}
		when := time.Now().Add(-age)
		if err := os.Chtimes(p, when, when); err != nil {
			t.Fatal(err)
		}
		return p
	}
	item := func(i int, path string, w, h int, x float32) vectorstore.Item {
		return vectorstore.Item{ID: idOf(i), Vector: unit([]float32{1, x}), Metadata: vectorstore.Metadata{Path: path, Width: w, Height: h}}
	}
	items := []vectorstore.Item{
		item(0, file("small.jpg", 3*time.Hour), 100, 100, 0),
		item(1, file("big-new.jpg", time.Hour), 200, 100, 0.01),
		item(2, file("big-old.jpg", 2*time.Hour), 100, 200, 0.02),
		item(3, filepath.Join(dir, "gone-huge.jpg"), 1000, 1000, 0.03),
		// a second group, every file gone
		item(4, filepath.Join(dir, "gone1.jpg"), 10, 10, 5),
		item(5, filepath.Join(dir, "gone2.jpg"), 10, 10, 5.01),
	}
	coll := mustCollection(t, t.TempDir(), "c", vectorstore.MetricL2, items)
	res, err := Find(context.Background(), coll, &Options{MaxDistance: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Groups) != 2 {
		t.Fatalf("%d groups, want 2", len(res.Groups))
	}
	g := res.Groups[0]
	var order []string
	for _, m := range g.Members {
		order = append(order, filepath.Base(m.Metadata.Path))
	}
	want := []string{"big-old.jpg", "big-new.jpg", "small.jpg", "gone-huge.jpg"}
	if g.Keeper != idOf(2) || !slices.Equal(order, want) {
		t.Errorf("keeper %.8s, members %v; want %.8s first, %v", g.Keeper, order, idOf(2), want)
	}
	if !g.Members[3].Missing || g.Members[0].Distance != 0 {
		t.Errorf("members %+v: want the last missing, the first at distance 0", g.Members)
	}
	if res.Groups[1].Keeper != "" || !res.Groups[1].Members[0].Missing {
		t.Errorf("group of missing files: keeper %q, want none", res.Groups[1].Keeper)
	}

	links := filepath.Join(t.TempDir(), "review")
	if err := Link(links, res.Groups); err != nil {
		t.Fatal(err)
	}
	got, err := filepath.Glob(filepath.Join(links, "*", "*"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range got {
		target, err := os.Readlink(p)
		if err != nil || filepath.Base(target) != strings.SplitN(filepath.Base(p), "-", 2)[1] && !strings.Contains(filepath.Base(p), "keep-") {
			t.Errorf("%s -> %s, %v", p, target, err)
		}
		names = append(names, strings.TrimPrefix(p, links+"/"))
	}
	if want := []string{"group-0001/01-keep-big-old.jpg", "group-0001/02-big-new.jpg", "group-0001/03-small.jpg"}; !slices.Equal(names, want) {
		t.Errorf("links %v, want %v", names, want)
	}
	if err := Link(links, res.Groups); err == nil {
		t.Error("Link into a folder that is not empty: no error")
	}
}

// TestAgainst checks the images of one collection with near-duplicates in
// another, by both methods, against brute force.
func TestAgainst(t *testing.T) {
	smallTiles(t)
	rng := rand.New(rand.NewPCG(3, 3))
	archive := planted(rng, 1500, 16, 0.3)
	var batch []vectorstore.Item
	for i := range 400 {
		v := make([]float32, 16)
		src := archive[rng.IntN(len(archive))].Vector
		for d := range v {
			v[d] = float32(rng.NormFloat64())
			if i%2 == 0 { // half are copies
				v[d] = src[d] + 0.2*v[d]/4
			}
		}
		batch = append(batch, vectorstore.Item{ID: idOf(10000 + i), Vector: unit(v), Metadata: vectorstore.Metadata{Path: fmt.Sprintf("/new/%04d", i)}})
	}
	a := mustCollection(t, t.TempDir(), "archive", vectorstore.MetricL2, archive)
	b := mustCollection(t, t.TempDir(), "batch", vectorstore.MetricL2, batch)
	const d, k = 0.3, 3
	want := map[string][]string{}
	for _, q := range batch {
		var near []vectorstore.Hit
		for _, g := range archive {
			if dist := distance(vectorstore.MetricL2, q.Vector, g.Vector); dist <= d {
				near = append(near, vectorstore.Hit{ID: g.ID, Distance: dist})
			}
		}
		sortHits(near)
		for _, h := range near[:min(k, len(near))] {
			want[q.ID] = append(want[q.ID], h.ID)
		}
	}
	if len(want) < 150 {
		t.Fatalf("only %d batch images have a near-duplicate: the test proves little", len(want))
	}
	for _, m := range []Method{Exact, Index} {
		got, err := Against(context.Background(), b, a, &Options{MaxDistance: d, Neighbours: k, Method: m})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Errorf("method %d: %d images matched, want %d", m, len(got), len(want))
		}
		for _, mt := range got {
			var ids []string
			for _, h := range mt.Matches {
				ids = append(ids, h.ID)
				if h.Metadata.Path == "" {
					t.Errorf("match %s has no metadata", h.ID)
				}
			}
			if !slices.Equal(ids, want[mt.ID]) {
				t.Errorf("method %d, %s: matches %v, want %v", m, mt.Metadata.Path, ids, want[mt.ID])
			}
		}
	}
	// A collection against itself is read once (lending it twice at once
	// could wait on itself): every image matches itself first.
	self, err := Against(context.Background(), b, b, &Options{MaxDistance: d, Neighbours: k})
	if err != nil {
		t.Fatal(err)
	}
	if len(self) != len(batch) {
		t.Errorf("against itself: %d images matched, want all %d", len(self), len(batch))
	}
	for _, mt := range self {
		if mt.Matches[0].ID != mt.ID || mt.Matches[0].Distance > 1e-3 {
			t.Fatalf("against itself, %s: first match %s at %g", mt.ID[:8], mt.Matches[0].ID[:8], mt.Matches[0].Distance)
		}
	}
}

// TestBadOptions checks that misuse is an error, not a panic.
func TestBadOptions(t *testing.T) {
	coll := mustCollection(t, t.TempDir(), "c", vectorstore.MetricL2, []vectorstore.Item{{ID: idOf(0), Vector: []float32{1, 0}}})
	nan := float32(math.NaN())
	for _, o := range []*Options{nil, {MaxDistance: nan}, {MaxDistance: float32(math.Inf(1))}, {MaxDistance: 1, Method: 7}} {
		if _, err := Find(context.Background(), coll, o); !errors.Is(err, vectorstore.ErrInvalid) {
			t.Errorf("Find with %+v: %v, want ErrInvalid", o, err)
		}
		if _, err := Against(context.Background(), coll, coll, o); !errors.Is(err, vectorstore.ErrInvalid) {
			t.Errorf("Against with %+v: %v, want ErrInvalid", o, err)
		}
	}
}

// TestTiny checks the edges of size: one image, and two at distance 0.
func TestTiny(t *testing.T) {
	for _, c := range []struct {
		items  []vectorstore.Item
		groups int
	}{
		{[]vectorstore.Item{{ID: idOf(0), Vector: []float32{1, 0}}}, 0},
		{[]vectorstore.Item{{ID: idOf(0), Vector: []float32{1, 0}}, {ID: idOf(1), Vector: []float32{1, 0}}}, 1},
	} {
		coll := mustCollection(t, t.TempDir(), "c", vectorstore.MetricCosine, c.items)
		for _, m := range []Method{Exact, Index} {
			res, err := Find(context.Background(), coll, &Options{MaxDistance: 0, Method: m})
			if err != nil || len(res.Groups) != c.groups || res.Images != len(c.items) {
				t.Errorf("%d images, method %d: %+v, %v; want %d groups", len(c.items), m, res, err, c.groups)
			}
		}
	}
}

// overcounted lends a table's items but counts one more.
type overcounted struct{ *table }

func (o overcounted) Len() int { return o.table.Len() + 1 }

// TestShortBlocks: a store that lends fewer items than it counts (a bug, or
// a collection that changed under it) is an error, not pairs left out.
func TestShortBlocks(t *testing.T) {
	items := planted(rand.New(rand.NewPCG(1, 1)), 50, 8, 0.3)
	tb := &table{dim: 8}
	for _, it := range items {
		id := decodeID(it.ID)
		tb.ids = append(tb.ids, id[:]...)
		tb.vecs = append(tb.vecs, it.Vector...)
	}
	err := compareBlocks(context.Background(), overcounted{tb}, tb, false, 8, vectorstore.MetricL2, &Options{MaxDistance: 0.3}, func(edge) {})
	if !errors.Is(err, errShort) {
		t.Errorf("compare with a store lending one item short: %v, want errShort", err)
	}
}
